"""Merging saved models, whatever their kind: one entry point that reads the models' manifests and merges groundlm
VLMs with :func:`groundlm.adapters.merge.merge_models`, transformers VLMs (and LoRA runs on them) with
:func:`groundlm.backends.merge.merge_hf_models`. The merged directory carries its own manifest (the kind, the first
fine-tune's tasks, the base)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from groundlm.adapters.merge import Granularity, merge_models
from groundlm.backends.merge import merge_hf_models
from groundlm.inference.model import model_manifest
from groundlm.registry import Registry

# model kind (its manifest's) -> the merge of that kind's saved models
MERGERS = Registry("mergeable model kind", {"vlm": merge_models, "hf": merge_hf_models})


def merge_saved_models(
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
    """Merge the fine-tunes in ``tuned_dirs`` with the model in ``base_dir`` by ``method`` into ``out_dir``; returns
    the report written to ``merge.json``. Every model must be of the base's kind (``ValueError`` otherwise)."""
    kind = model_manifest(base_dir).kind
    if kind not in MERGERS:
        raise ValueError(f"{base_dir} holds a {kind} model; merging takes groundlm or transformers VLMs")
    for d in tuned_dirs:
        other = model_manifest(d).kind
        if other != kind:
            raise ValueError(f"{d} holds a {other} model; it cannot merge with {base_dir} ({kind})")
    return MERGERS[kind](base_dir, tuned_dirs, out_dir, method, weights, density, tau, granularity, seed)
