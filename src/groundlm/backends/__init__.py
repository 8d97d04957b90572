"""Backends: the models groundlm trains, merges, predicts with and evaluates, behind one interface
(:mod:`groundlm.backends.base`): groundlm's own :class:`~groundlm.models.vlm.GroundedVLM`, and ``transformers``' own
VLMs (LLaVA, Qwen2-VL, Qwen2.5-VL, PaliGemma) from local directories."""

from __future__ import annotations

from pathlib import Path

import torch

from groundlm.backends.architectures import ARCHITECTURES, is_hf_dir
from groundlm.backends.base import BACKEND_FILE, Backend, BackendOptions
from groundlm.backends.hf import HFBackend
from groundlm.backends.native import NativeBackend
from groundlm.inference.loader import load_vlm


def load_backend(
    directory: str | Path,
    device: str | torch.device | None = None,
    options: BackendOptions | None = None,
) -> NativeBackend | HFBackend:
    """The backend of a model directory, in eval mode: a transformers model (or a groundlm LoRA run on one), else
    a groundlm model directory. A missing or unreadable directory is a one-line error."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such model directory")
    if is_hf_dir(directory):
        return HFBackend.load(directory, options, device)
    return NativeBackend(load_vlm(directory, device=device))


__all__ = ["ARCHITECTURES", "BACKEND_FILE", "Backend", "BackendOptions", "HFBackend", "NativeBackend", "load_backend"]
