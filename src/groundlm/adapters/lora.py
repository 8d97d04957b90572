"""LoRA on the grounded VLM's language model and/or vision tower, through ``peft``.

LoRA adds ``W x + (alpha / r) * B A x`` to chosen linear layers (Hu et al. 2021), with ``A`` random and ``B`` zero at
the start so the model is unchanged. Adapters are injected in place (``peft.inject_adapter_in_model``), so the VLM
keeps its own forward and ``generate``; only LoRA parameters are trainable afterwards.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from peft import LoraConfig, inject_adapter_in_model
from peft.tuners.lora import LoraLayer
from safetensors.torch import load_file, save_file
from torch import nn

if TYPE_CHECKING:
    from groundlm.models.vlm import GroundedVLM

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
ADAPTER_FILE = "adapter.safetensors"
ADAPTER_CONFIG = "adapter.json"


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


def _parts(model: GroundedVLM, spec: LoraSpec) -> list[tuple[str, nn.Module, str]]:
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


def attach_lora(model: GroundedVLM, spec: LoraSpec) -> None:
    """Freeze the model and inject trainable LoRA adapters; records the spec in ``model.config.lora``."""
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


def lora_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The adapters' weights, and those of the fully trained ``train_modules``."""
    lora = getattr(getattr(model, "config", None), "lora", None) or {}
    prefixes = tuple(f"{m}." for m in lora.get("train_modules", ()))
    return {
        k: v.detach().contiguous()
        for k, v in model.state_dict().items()
        if "lora_" in k or (prefixes and k.startswith(prefixes))
    }


def save_lora(model: GroundedVLM, directory: str | Path) -> Path:
    """Write the adapters alone (``adapter.safetensors`` + ``adapter.json``)."""
    if model.config.lora is None:
        raise ValueError("the model has no LoRA adapters")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_file(lora_state_dict(model), str(directory / ADAPTER_FILE))
    (directory / ADAPTER_CONFIG).write_text(json.dumps(model.config.lora, indent=2) + "\n")
    return directory


def load_lora(model: GroundedVLM, directory: str | Path) -> None:
    """Attach (if needed) and load adapters written by :func:`save_lora`."""
    directory = Path(directory)
    spec = LoraSpec.from_dict(json.loads((directory / ADAPTER_CONFIG).read_text()))
    if model.config.lora is None:
        attach_lora(model, spec)
    state = load_file(str(directory / ADAPTER_FILE))
    missing = set(lora_state_dict(model)) - set(state)
    if missing:
        raise ValueError(f"{directory}: adapter lacks {sorted(missing)[:3]}...")
    model.load_state_dict(state, strict=False)


def merge_lora(model: GroundedVLM) -> None:
    """Fold every adapter into its base weight (``W + (alpha / r) B A``) and remove the LoRA layers."""
    for root in (model.lm, model.vision.model):
        for name, module in list(root.named_modules()):
            if isinstance(module, LoraLayer):
                module.merge()
                parent_name, _, child = name.rpartition(".")
                parent = root.get_submodule(parent_name) if parent_name else root
                setattr(parent, child, module.get_base_layer())
    model.requires_grad_(True)
    if model.config.vision.freeze:
        model.vision.requires_grad_(False)
    model.config.lora = None
