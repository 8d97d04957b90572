"""groundlm's own composed model (:class:`~groundlm.models.vlm.GroundedVLM`) behind the backend interface."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from groundlm.inference.collate import Collator
from groundlm.inference.generate import LocalGenerator
from groundlm.models.lora import LoraSpec
from groundlm.models.vlm import GroundedVLM


class NativeBackend:
    """A :class:`GroundedVLM` with its collator; boxes in whatever format each task names (default ``cogvlm``)."""

    kind = "native"

    def __init__(self, model: GroundedVLM) -> None:
        self.model = model
        self.module = model
        self.collator = Collator.for_model(model)

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

    def save(self, directory: str | Path) -> Path:
        return self.model.save_pretrained(directory)

    def generator(
        self, max_new_tokens: int = 24, num_beams: int = 1, batch_size: int = 32, progress: bool = False
    ) -> LocalGenerator:
        return LocalGenerator(
            self.model,
            self.collator,
            max_new_tokens=max_new_tokens,
            num_beams=num_beams,
            batch_size=batch_size,
            progress=progress,
        )

    def task_options(self, name: str, options: dict[str, Any]) -> dict[str, Any]:
        return dict(options)
