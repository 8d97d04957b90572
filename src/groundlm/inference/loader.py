"""Loading the modules inside a saved model: ``config.json`` -> :class:`~groundlm.models.vlm.GroundedVLM` -> LoRA
adapters -> weights (and, next to it, folding the adapters in). Front ends load the model handle instead
(:func:`groundlm.inference.load_model`, :mod:`groundlm.inference.model`), which calls these.

A model directory (written by ``save_pretrained``: ``config.json``, ``model.safetensors``, ``tokenizer/`` and the
manifest ``groundlm.json``) loads alone. A directory that holds adapters only (``adapter.safetensors``
and ``adapter.json``, no ``config.json``) loads on top of the base model directory it was trained from. Errors are
plain exceptions (``FileNotFoundError`` for a path that is not a model), for the CLI or a server to word.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from groundlm.adapters.lora import ADAPTER_FILE, load_lora, merge_lora
from groundlm.models.vlm import CONFIG, GroundedVLM


def is_model_dir(directory: str | Path) -> bool:
    """True for a directory that :func:`load_vlm` loads without a base (it holds ``config.json``)."""
    return (Path(directory) / CONFIG).is_file()


def is_adapter_dir(directory: str | Path) -> bool:
    """True for a directory of adapters only (``adapter.safetensors``, no ``config.json``)."""
    return (Path(directory) / ADAPTER_FILE).is_file() and not is_model_dir(directory)


def load_vlm(
    directory: str | Path,
    base: str | Path | None = None,
    device: str | torch.device | None = None,
    merge_adapters: bool = False,
) -> GroundedVLM:
    """The model of ``directory`` in eval mode, on ``device`` (default: where it was built, the CPU).

    An adapters-only ``directory`` is applied to the model in ``base``. ``merge_adapters`` folds LoRA adapters into
    the weights they adapt (``W + (alpha / r) B A``): the same answers, without the adapters' extra matmuls."""
    directory = Path(directory)
    if is_adapter_dir(directory):
        if base is None:
            raise FileNotFoundError(f"{directory} holds LoRA adapters only; the base model directory is needed too")
        model = load_vlm(base)
        load_lora(model, directory)
    elif is_model_dir(directory):
        config = json.loads((directory / CONFIG).read_text())
        if "groundlm" not in config and "model_type" not in config:  # a method's own model (LLM-MDE's depth model)
            raise ValueError(
                f"{directory} holds a model of another kind than a grounded VLM: `predict` and `eval --checkpoint` "
                "load it (groundlm.inference.load_model)"
            )
        if "groundlm" not in config:
            raise ValueError(
                f"{directory} holds a transformers model ({config.get('model_type')!r}), not groundlm's own: train, "
                "predict, eval --checkpoint, merge and bench hpe --base-model take it, this command does not"
            )
        model = GroundedVLM.from_pretrained(directory)
    else:
        raise FileNotFoundError(f"{directory} is not a groundlm model directory (no {CONFIG})")
    if merge_adapters and model.has_lora:
        merge_lora(model)
    if device is not None:
        model.to(device)
    return model.eval()
