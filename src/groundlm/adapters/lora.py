"""LoRA adapter files: save a model's adapters alone, load them onto a model, fold them into its weights.

The spec and the injection (:class:`~groundlm.models.lora.LoraSpec`, :func:`~groundlm.models.lora.attach_lora`)
belong to the model, which rebuilds its adapters from its config; this module handles what is written to disk.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from peft.tuners.lora import LoraLayer
from safetensors.torch import load_file, save_file
from torch import nn

from groundlm.models.lora import LoraSpec, attach_lora

if TYPE_CHECKING:
    from groundlm.models.vlm import GroundedVLM

ADAPTER_FILE = "adapter.safetensors"
ADAPTER_CONFIG = "adapter.json"


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
