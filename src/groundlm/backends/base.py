"""What every backend offers the trainer, the CLI and the benches, and how a model is loaded into memory.

A backend owns one model and knows how to turn task :class:`~groundlm.tasks.base.Example` records into its inputs:

* ``module``: the ``nn.Module`` that trains; ``module(**batch, normalizers=...)`` returns an output whose ``losses``
  are named losses (``lm`` at least), each a sum divided by its normaliser (:mod:`groundlm.models.losses`);
* ``collator.train_batch(examples, images)``: a training batch (a dict of tensors with ``labels`` ``[B, T]``);
* ``generator(...)``: a :class:`~groundlm.inference.generate.TextGenerator` (examples in, answer texts out);
* ``attach_lora`` / ``has_lora`` / ``save(directory)``: LoRA through ``peft`` and what a run's ``final/`` holds
  (with its manifest, ``groundlm.json``: the kind, and the tasks given to ``record_tasks``);
* ``task_options(name, options)``: a task's options with the backend's own answer syntax filled in (its box format);
* ``answerer()`` / ``answer_tokens`` / ``box_format``: what :func:`~groundlm.inference.predict.predict_batch` answers
  with, the answer length its syntax needs (``None``: each task's own) and the box format it writes by default;
* ``image_dependence(examples, images)``: how much its answers depend on the image, where it can tell (``{}``).

Two kinds: :class:`~groundlm.backends.native.NativeBackend` (groundlm's own :class:`GroundedVLM`) and
:class:`~groundlm.backends.hf.HFBackend` (``transformers``' own VLM classes, loaded from a local directory).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import torch
from PIL import Image

from groundlm.models.lora import LoraSpec
from groundlm.tasks.base import Example

BACKEND_FILE = "backend.json"  # beside a trained transformers backend: which base and how it was loaded
DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass
class BackendOptions:
    """How a real-size model is loaded. ``dtype``: ``auto`` is bfloat16 on CUDA, float32 on the CPU;
    ``device_map``: passed to ``from_pretrained`` (e.g. ``auto`` spreads a large model over the GPUs; ``None``
    keeps it whole, moved by the trainer); ``gradient_checkpointing``: recompute activations in the backward pass
    (less memory, about a third more time); ``box_format``: the format boxes are written in, ``None`` for the
    architecture's own (LLaVA has none: it uses ``shikra``'s 0-1 floats unless told)."""

    dtype: str = "auto"
    device_map: str | None = None
    gradient_checkpointing: bool = False
    box_format: str | None = None

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"backend dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")

    def torch_dtype(self, device: torch.device | str | None = None) -> torch.dtype:
        """The dtype to load weights in; ``auto`` looks at ``device`` (default: CUDA when present)."""
        if self.dtype == "auto":
            on_cuda = torch.device(device).type == "cuda" if device is not None else torch.cuda.is_available()
            return torch.bfloat16 if on_cuda else torch.float32
        return getattr(torch, self.dtype)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class TrainCollator(Protocol):
    def train_batch(self, examples: Sequence[Example], images: Sequence[Image.Image]) -> dict:
        """Inputs and ``labels`` ``[B, T]`` (``-100`` where nothing is predicted) for teacher forcing."""
        ...


class Backend(Protocol):
    """The interface in the module docstring."""

    kind: str
    box_format: str
    answer_tokens: int | None
    module: torch.nn.Module
    collator: TrainCollator
    heads: tuple[str, ...]
    region_losses: tuple[str, ...]  # the region decoders' named losses (DynRefer's tag, rtc)

    @property
    def has_lora(self) -> bool: ...

    def attach_lora(self, spec: LoraSpec) -> None: ...

    def record_tasks(self, tasks: dict[str, dict[str, Any]]) -> None:
        """The tasks (name -> options) the model is trained on, written into the manifest of every later save."""
        ...

    def save(self, directory: Any) -> Any: ...

    def generator(
        self,
        max_new_tokens: int = 24,
        num_beams: int = 1,
        batch_size: int = 32,
        progress: bool = False,
        images: Any = None,
    ):
        """A :class:`~groundlm.inference.generate.TextGenerator` over the model (``images``: an
        :class:`~groundlm.inference.images.ImageCache` to share, default a fresh one)."""
        ...

    def answerer(self) -> Any:
        """What :func:`~groundlm.inference.predict.predict_batch` answers with: the model itself where predict
        reads more than text from it (groundlm's heads and views), else a text generator."""
        ...

    def image_dependence(self, examples: Sequence[Example], images: Any) -> dict[str, float]: ...

    def task_options(self, name: str, options: dict[str, Any]) -> dict[str, Any]: ...
