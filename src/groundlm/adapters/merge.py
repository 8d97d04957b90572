"""Model merging: combine fine-tunes of one base model into a single model.

Every method works on *task vectors* ``Δ_t = θ_t − θ_base`` per tensor (Ilharco et al. 2023, "Editing models with
task arithmetic"). A LoRA fine-tune is first folded into full weights, so its task vector is exactly
``(alpha / r) B A`` on the adapted modules and zero elsewhere: merging LoRA deltas and merging full state dicts
are one code path.

* ``task_arithmetic``: ``θ = θ_base + Σ_t λ_t Δ_t``;
* ``ties`` (Yadav et al. 2023): keep the ``density`` share of largest-magnitude entries of each ``Δ_t``, elect a
  sign per entry, average the weighted entries that agree with it;
* ``dare_linear`` / ``dare_ties`` (Yu et al. 2024, "Language models are Super Mario"): drop entries at random with
  probability ``1 − density`` and rescale the rest by ``1 / density``, then sum (linear) or elect signs (TIES).

The tensor math of these four is ``peft.utils.merge_utils``. The fifth, :func:`layer_select_merge`, is the
HPE-CogVLM layer-selection merge (docs/architecture.md, section 6.1): whole layers from one model, no averaging.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import torch
from peft.utils import merge_utils

from groundlm.adapters.lora import ADAPTER_FILE, load_lora, merge_lora
from groundlm.errors import InternalError
from groundlm.manifest import read_manifest, recorded_tasks, write_manifest
from groundlm.models.state import tied_once
from groundlm.models.vlm import GroundedVLM
from groundlm.registry import Registry

State = dict[str, torch.Tensor]
Granularity = Literal["module", "block"]
# A transformer block: "...layers.3." (Llama, Qwen2, CLIP, SigLIP), "...h.3." (GPT-2), "...layer.3." (ViT),
# "...stages.1." (ResNet). The block is the prefix up to and including the index.
_BLOCK = re.compile(r"^(.*?\.(?:layers|layer|h|blocks|stages)\.\d+)\.")


def check_compatible(base: State, tuned: Sequence[State]) -> None:
    """Every fine-tune holds every tensor of the base, in the same shape."""
    for t, state in enumerate(tuned):
        for name, w in base.items():
            if name not in state:
                raise ValueError(f"model {t} has no tensor {name!r}; merging needs fine-tunes of the same base")
            if state[name].shape != w.shape:
                raise ValueError(f"{name}: shape {tuple(state[name].shape)} in model {t}, {tuple(w.shape)} in base")


def task_vectors(base: State, tuned: Sequence[State]) -> list[State]:
    """``Δ_t = θ_t − θ_base`` for every floating-point tensor of the base (shapes must agree)."""
    check_compatible(base, tuned)
    return [
        {name: state[name].float() - w.float() for name, w in base.items() if torch.is_floating_point(w)}
        for state in tuned
    ]


# (deltas, weights, density) -> the merged task vector of one tensor; ``peft.utils.merge_utils`` does the math.
DeltaMerge = Callable[[list[torch.Tensor], torch.Tensor, float], torch.Tensor]
DELTA_MERGES: Registry[DeltaMerge] = Registry(
    "task-vector merge",
    {
        "task_arithmetic": lambda deltas, weights, density: merge_utils.task_arithmetic(deltas, weights),
        "ties": merge_utils.ties,
        "dare_linear": merge_utils.dare_linear,
        "dare_ties": merge_utils.dare_ties,
    },
)


def merge_deltas(
    deltas: Sequence[torch.Tensor],
    method: str,
    weights: Sequence[float],
    density: float = 0.5,
    generator_seed: int = 0,
) -> torch.Tensor:
    """One merged task vector from the same tensor's ``deltas`` by ``method``, one of :data:`DELTA_MERGES`.

    ``weights`` are the ``λ_t``; ``density`` is the kept share for TIES and DARE. DARE's random drop is seeded
    by ``generator_seed`` so a merge is reproducible (the global random state is left as it was).
    """
    merge = DELTA_MERGES.get_known(method)
    w = torch.tensor(list(weights), dtype=torch.float32)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(generator_seed)
        return merge(list(deltas), w, density)


def merge_state_dicts(
    base: State,
    tuned: Sequence[State],
    method: str,
    weights: Sequence[float] | None = None,
    density: float = 0.5,
    seed: int = 0,
) -> State:
    """``θ_base + merge(Δ_1 … Δ_T)`` tensor by tensor; tensors no fine-tune changed are copied from the base.

    ``weights`` default to 1 for each fine-tune. Non-float tensors (buffers of integers) come from the base.
    """
    weights = [1.0] * len(tuned) if weights is None else list(weights)
    if len(weights) != len(tuned) or not tuned:
        raise ValueError(f"need one weight per fine-tuned model ({len(tuned)}), got {len(weights)}")
    if not 0.0 < density <= 1.0:
        raise ValueError(f"density must be in (0, 1], got {density}")
    deltas = task_vectors(base, tuned)
    out = {}
    for i, (name, w) in enumerate(base.items()):
        if name not in deltas[0] or all(not d[name].any() for d in deltas):
            out[name] = w.clone()
            continue
        merged = merge_deltas([d[name] for d in deltas], method, weights, density, generator_seed=seed + i)
        out[name] = (w.float() + merged).to(w.dtype)
    return out


def layer_of(name: str, granularity: Granularity) -> str:
    """The layer a parameter belongs to: its module (``a.b.weight`` -> ``a.b``) or its transformer block
    (``lm.model.layers.3.self_attn.q_proj.weight`` -> ``lm.model.layers.3``); outside blocks, its module."""
    module = name.rsplit(".", 1)[0] if "." in name else name
    if granularity == "module":
        return module
    if granularity != "block":
        raise ValueError(f"granularity must be 'module' or 'block', got {granularity!r}")
    m = _BLOCK.match(name)
    return m.group(1) if m else module


def cosine(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> float:
    """``cos(vec a, vec b) = <a, b> / (|a| |b|)`` over the concatenation of the tensors; 1.0 when both are equal
    (including both zero), 0.0 when exactly one is zero."""
    if all(torch.equal(x, y) for x, y in zip(a, b)):
        return 1.0
    dot = sum(float((x.double() * y.double()).sum()) for x, y in zip(a, b))
    na = math.sqrt(sum(float(x.double().pow(2).sum()) for x in a))
    nb = math.sqrt(sum(float(y.double().pow(2).sum()) for y in b))
    if na == 0.0 or nb == 0.0:
        return 0.0
    return dot / (na * nb)


@dataclass
class LayerChoice:
    layer: str
    similarity: list[float]  # cos(W_t, W_base) per fine-tuned model
    source: str  # "base" or "model{t}"


@dataclass
class LayerSelectReport:
    tau: float
    granularity: str
    layers: list[LayerChoice] = field(default_factory=list)

    def taken(self) -> dict[str, list[str]]:
        """Layers per source (``base``, ``model0``, ...)."""
        out: dict[str, list[str]] = {}
        for c in self.layers:
            out.setdefault(c.source, []).append(c.layer)
        return out

    def to_dict(self) -> dict:
        return asdict(self)


def layer_select_merge(
    base: State, tuned: Sequence[State], tau: float, granularity: Granularity = "module"
) -> tuple[State, LayerSelectReport]:
    """Winner-takes-all layer selection (HPE-CogVLM, as docs/architecture.md, section 6.1, reads it).

    For each layer ``ℓ`` and fine-tune ``t``: ``s_tℓ = cos(vec W_t^ℓ, vec W_base^ℓ)``. If some ``s_tℓ < τ`` the
    layer was substantially changed; it is copied whole from the fine-tune with the lowest ``s_tℓ`` (the one that
    changed it most). Every other layer is copied whole from the base. No averaging, no rescaling.
    """
    if not tuned:
        raise ValueError("layer selection needs at least one fine-tuned model")
    check_compatible(base, tuned)
    groups: dict[str, list[str]] = {}
    for name in base:
        groups.setdefault(layer_of(name, granularity), []).append(name)
    out: State = {}
    report = LayerSelectReport(tau, granularity)
    for layer, names in groups.items():
        names_f = [n for n in names if torch.is_floating_point(base[n])]
        sims = [cosine([state[n] for n in names_f], [base[n] for n in names_f]) for state in tuned]
        winner = min(range(len(tuned)), key=lambda t: sims[t])
        take = tuned[winner] if sims[winner] < tau else base
        for n in names:
            out[n] = take[n].clone()
        report.layers.append(
            LayerChoice(layer, [round(s, 8) for s in sims], f"model{winner}" if take is not base else "base")
        )
    return out, report


# -------------------------------------------------------------------------------------------------------------
# Model directories


def unique_state(model: torch.nn.Module) -> State:
    """A copy of the state dict with tied tensors (one storage, several names) kept once, under the first name, so
    that a merge treats them as one tensor."""
    return {k: v.detach().clone() for k, v in tied_once(model.state_dict()).items()}


def load_full_state(directory: str | Path, base_dir: str | Path | None = None) -> State:
    """The full weights of a model directory, LoRA adapters folded in. A directory holding only adapters
    (``adapter.safetensors``, written by :func:`groundlm.adapters.lora.save_lora`) is applied to ``base_dir``."""
    directory = Path(directory)
    if (directory / ADAPTER_FILE).is_file() and not (directory / "config.json").is_file():
        if base_dir is None:
            raise ValueError(f"{directory} holds adapters only; give the base model directory too")
        model = GroundedVLM.from_pretrained(base_dir)
        load_lora(model, directory)
    else:
        model = GroundedVLM.from_pretrained(directory)
    if model.has_lora:
        merge_lora(model)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# (base, tuned, weights, density, tau, granularity, seed) -> (merged state, what was done for the report)
StateMerge = Callable[
    [State, Sequence[State], Sequence[float] | None, float, float, Granularity, int], tuple[State, dict]
]


def _task_vector_merge(method: str) -> StateMerge:
    def merge(base, tuned, weights, density, tau, granularity, seed):
        merged = merge_state_dicts(base, tuned, method, weights, density, seed)
        return merged, {"weights": list(weights) if weights is not None else [1.0] * len(tuned), "density": density}

    return merge


def _layer_select(base, tuned, weights, density, tau, granularity, seed):
    merged, chosen = layer_select_merge(base, tuned, tau, granularity)
    return merged, {"layers": chosen.to_dict(), "taken": {k: len(v) for k, v in chosen.taken().items()}}


MERGE_METHODS: Registry[StateMerge] = Registry(
    "merge method", {**{name: _task_vector_merge(name) for name in DELTA_MERGES}, "layer_select": _layer_select}
)


def merge_states(
    base: State,
    tuned: Sequence[State],
    method: str,
    weights: Sequence[float] | None = None,
    density: float = 0.5,
    tau: float = 0.999,
    granularity: Granularity = "module",
    seed: int = 0,
) -> tuple[State, dict]:
    """The merged weights of ``tuned`` with ``base`` by ``method`` (one of :data:`MERGE_METHODS`), and the report of
    what was done (arguments and, for layer selection, where each layer came from)."""
    merge = MERGE_METHODS.get_known(method)
    merged, done = merge(base, tuned, weights, density, tau, granularity, seed)
    return merged, {"method": method, **done}


def load_merged(model: torch.nn.Module, merged: State) -> None:
    """Load merged weights into ``model``; a name may be missing only as the tied alias of a loaded tensor."""
    missing, unexpected = model.load_state_dict(merged, strict=False)
    state = model.state_dict()
    loaded = {state[k].data_ptr() for k in merged}
    if unexpected or any(state[k].data_ptr() not in loaded for k in missing):
        raise RuntimeError(f"merged weights do not fit the model (missing {missing}, unexpected {unexpected})")


def write_merge_report(out_dir: Path, report: dict, tuned_dirs: Sequence[str | Path]) -> None:
    """``merge.json`` in ``out_dir``; its manifest takes the first fine-tune's tasks (inference asks as it was
    trained) and names the merge's base."""
    (out_dir / "merge.json").write_text(json.dumps(report, indent=2) + "\n")
    manifest = read_manifest(out_dir)
    if manifest is None:
        raise InternalError(f"{out_dir}: the merged model was saved without its manifest")
    manifest.tasks, manifest.base = recorded_tasks(tuned_dirs[0]), str(report["base"])
    write_manifest(out_dir, manifest)


def merge_models(
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
    """Merge model (or adapter) directories into ``out_dir``, a model directory ``from_pretrained`` loads, with a
    ``merge.json`` report (method, arguments and, for layer selection, where each layer came from)."""
    MERGE_METHODS.get_known(method)
    model = GroundedVLM.from_pretrained(base_dir)
    if model.has_lora:
        raise ValueError(f"{base_dir}: the base model has LoRA adapters; merge them into it first")
    base = unique_state(model)
    tuned = [load_full_state(d, base_dir) for d in tuned_dirs]
    merged, done = merge_states(base, tuned, method, weights, density, tau, granularity, seed)
    report = {"method": method, "base": str(base_dir), "models": [str(d) for d in tuned_dirs], **done}
    load_merged(model, merged)
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    write_merge_report(out_dir, report, tuned_dirs)
    return report
