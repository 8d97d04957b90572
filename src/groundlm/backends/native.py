"""groundlm's own composed model (:class:`~groundlm.models.vlm.GroundedVLM`) behind the backend interface."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from groundlm.inference.collate import Collator
from groundlm.inference.generate import LocalGenerator
from groundlm.inference.image_dependence import image_dependence
from groundlm.inference.images import ImageCache
from groundlm.models.lora import LoraSpec
from groundlm.models.vlm import GroundedVLM
from groundlm.tasks.base import Example


class NativeBackend:
    """A :class:`GroundedVLM` with its collator; boxes in whatever format each task names (default ``cogvlm``)."""

    kind = "native"
    box_format = "cogvlm"
    answer_tokens: int | None = None  # each task's own answer length

    def __init__(self, model: GroundedVLM) -> None:
        self.model = model
        self.module = model
        self.collator = Collator.for_model(model)
        self.tasks: dict[str, dict[str, Any]] = {}

    @property
    def heads(self) -> tuple[str, ...]:
        return tuple(self.model.config.heads)

    @property
    def region_losses(self) -> tuple[str, ...]:
        return tuple(self.model.region_loss_names)

    @property
    def has_lora(self) -> bool:
        return self.model.has_lora

    def attach_lora(self, spec: LoraSpec) -> None:
        self.model.attach_lora(spec)

    def record_tasks(self, tasks: dict[str, dict[str, Any]]) -> None:
        self.tasks = {name: dict(options) for name, options in tasks.items()}

    def save(self, directory: str | Path) -> Path:
        return self.model.save_pretrained(directory, self.tasks)

    def generator(
        self,
        max_new_tokens: int = 24,
        num_beams: int = 1,
        batch_size: int = 32,
        progress: bool = False,
        images: ImageCache | None = None,
    ) -> LocalGenerator:
        return LocalGenerator(
            self.model,
            self.collator,
            images if images is not None else ImageCache(),
            max_new_tokens=max_new_tokens,
            num_beams=num_beams,
            batch_size=batch_size,
            progress=progress,
        )

    def answerer(self) -> GroundedVLM:
        return self.model  # predict reads the point head and the views from the model itself

    def image_dependence(self, examples: Sequence[Example], images: ImageCache) -> dict[str, float]:
        return image_dependence(self.model, self.collator, list(examples), images)

    def task_options(self, name: str, options: dict[str, Any]) -> dict[str, Any]:
        return dict(options)
