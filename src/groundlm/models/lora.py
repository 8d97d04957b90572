"""LoRA's spec and its injection into the grounded VLM's language model and/or vision tower, through ``peft``.

LoRA adds ``W x + (alpha / r) * B A x`` to chosen linear layers (Hu et al. 2021), with ``A`` random and ``B`` zero at
the start so the model is unchanged. Adapters are injected in place (``peft.inject_adapter_in_model``), so the VLM
keeps its own forward and ``generate``; only LoRA parameters are trainable afterwards. The spec is part of a model's
config (``VLMConfig.lora``), so the model rebuilds its adapters on load; saving, loading and merging adapter files
sit above, in :mod:`groundlm.adapters.lora`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from peft import LoraConfig, inject_adapter_in_model
from torch import nn

# Attention query and value projections of each backbone (the LoRA paper's choice).
DEFAULT_TARGETS = {
    "llama": ("q_proj", "v_proj"),
    "qwen2": ("q_proj", "v_proj"),
    "gpt2": ("c_attn",),
    "vit": ("q_proj", "v_proj"),  # transformers < 5 names them "query" and "value"
    "clip": ("q_proj", "v_proj"),
    "siglip": ("q_proj", "v_proj"),
    "resnet": ("convolution",),  # every convolution of a ResNet (peft adapts Conv2d as well)
}


@dataclass
class LoraSpec:
    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    towers: tuple[str, ...] = ("language",)  # "language" and/or "vision" (not "on": YAML reads that as True)
    target_modules: tuple[str, ...] | None = None  # None: DEFAULT_TARGETS of each backbone
    # Submodules of the VLM trained in full beside the adapters (peft's modules_to_save), e.g. "region_encoder"
    # for a task whose answers re-read regions that the base model never used.
    train_modules: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: dict) -> LoraSpec:
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)


def _parts(model: nn.Module, spec: LoraSpec) -> list[tuple[str, nn.Module, str]]:
    parts = []
    for name in spec.towers:
        if name == "language":
            parts.append((name, model.lm, model.config.language.kind))
        elif name == "vision":
            parts.append((name, model.vision.model, model.config.vision.kind))
        else:
            raise ValueError(f"LoRA can go on 'language' or 'vision', not {name!r}")
    return parts


def _default_targets(module: nn.Module, kind: str) -> tuple[str, ...]:
    names = {n.rsplit(".", 1)[-1] for n, _ in module.named_modules()}
    targets = DEFAULT_TARGETS[kind]
    if not set(targets) <= names and {"query", "value"} <= names:
        targets = ("query", "value")
    return targets


def attach_lora(model: nn.Module, spec: LoraSpec) -> None:
    """Freeze the model and inject trainable LoRA adapters; records the spec in ``model.config.lora``.

    ``model`` is a :class:`~groundlm.models.vlm.GroundedVLM` (typed by what is used of it, its ``lm``, ``vision``
    and ``config``, so that this module sits below the VLM that calls it)."""
    for p in model.parameters():
        p.requires_grad_(False)
    for _, module, kind in _parts(model, spec):
        targets = list(spec.target_modules or _default_targets(module, kind))
        config = LoraConfig(r=spec.r, lora_alpha=spec.alpha, lora_dropout=spec.dropout, target_modules=targets)
        inject_adapter_in_model(config, module)
    for name, p in model.named_parameters():
        if "lora_" in name:
            p.requires_grad_(True)
    for name in spec.train_modules:
        try:
            model.get_submodule(name).requires_grad_(True)
        except AttributeError:
            raise ValueError(f"LoRA train_modules: the model has no submodule {name!r}") from None
    model.config.lora = asdict(spec)
