"""Merging fine-tunes of a transformers VLM: the methods of :mod:`groundlm.adapters.merge` (task arithmetic, TIES,
DARE, layer selection) on the base model's state and each fine-tune's, its LoRA adapters folded in first. The
result is a full transformers model directory (weights, processor, ``backend.json``, ``merge.json``) that every
command loads like the base."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from groundlm.adapters.merge import Granularity, load_merged, merge_states, unique_state, write_merge_report
from groundlm.backends.architectures import is_hf_dir
from groundlm.backends.hf import HFBackend
from groundlm.errors import UserError


def merge_hf_models(
    base_dir: str | Path,
    tuned_dirs: Sequence[str | Path],
    out_dir: str | Path,
    method: str,
    weights: Sequence[float] | None = None,
    density: float = 0.5,
    tau: float = 0.999,
    granularity: Granularity = "module",
    seed: int = 0,
) -> dict:
    """Merge LoRA runs (or full fine-tunes) of the transformers model in ``base_dir`` into ``out_dir``; returns the
    report written to ``merge.json``. Every state is held in memory at once: for a 7B model in bfloat16, about
    15 GB per fine-tune plus the base."""
    base = HFBackend.load(base_dir)
    if base.has_lora:
        raise UserError(f"{base_dir}: the base is a LoRA run; merge it into its base model first (groundlm merge)")
    tuned = []
    for d in tuned_dirs:
        if not is_hf_dir(d):
            raise UserError(f"{d} is not a transformers model or a LoRA run on one; it cannot merge with {base_dir}")
        model = HFBackend.load(d)
        if model.arch != base.arch:
            raise UserError(f"{d} is a {model.arch.model_type} model; the base {base_dir} is {base.arch.model_type}")
        tuned.append(model.merged_state())
        del model
    merged, done = merge_states(unique_state(base.model), tuned, method, weights, density, tau, granularity, seed)
    load_merged(base.model, merged)
    out_dir = Path(out_dir)
    base.save(out_dir)
    report = {"method": method, "base": str(base_dir), "models": [str(d) for d in tuned_dirs], **done}
    write_merge_report(out_dir, report, tuned_dirs)
    return report
