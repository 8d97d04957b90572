"""Turning examples into model inputs.

``<image>`` in a prompt becomes ``image_tokens`` placeholders and each ``<region>`` becomes ``region_tokens``
placeholders. Sequences are ``<s> prompt target </s>`` with labels ``-100`` on the prompt, right-padded for
training; for generation only ``<s> prompt``, left-padded. Images are resized to the model's square input and
normalised; region boxes are rescaled to it. Head targets (``Example.targets``) become ``[B, T, D]`` tensors aligned
with the positions that predict each target token, NaN elsewhere.

A region encoder that needs more than boxes (a method's, :mod:`groundlm.models.region`) registers a batch hook
under its name in :data:`REGION_INPUTS`; the hook reads the examples' ``extras`` and writes the batch's
``region_inputs`` mapping, which the model hands to the encoder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from PIL import Image

from groundlm.methods import load_parts
from groundlm.models.backbones import pixel_values
from groundlm.models.config import VLMConfig
from groundlm.models.losses import IGNORE
from groundlm.models.tokenizer import IMAGE_TOKEN, REGION_TOKEN, left_padded
from groundlm.registry import Registry
from groundlm.tasks.base import Example, SpanTargets

__all__ = ["IGNORE", "REGION_INPUTS", "Collator", "RegionInputs", "register_region_inputs", "to_device"]


class RegionInputs(Protocol):
    """A region encoder's batch hook: what the encoder reads besides the boxes (and, in training, what its losses
    train on), as the batch's ``region_inputs`` mapping (keys in :mod:`groundlm.models.region`)."""

    def batch(
        self,
        examples: Sequence[Example],
        images: Sequence[Image.Image],
        mean: Sequence[float],
        std: Sequence[float],
        tokenizer: Any,
        training: bool,
    ) -> dict[str, Any]: ...

    def answer_fields(self, example: Example, image: Image.Image) -> dict[str, Any]:
        """What an answer about the region of ``example`` (``image``: the original picture) reports of how the
        encoder saw it, JSON-ready (a multi-view encoder's views); ``{}`` for nothing."""
        ...


# region encoder name -> hook builder(model config) -> the hook (None: the config needs none)
REGION_INPUTS: Registry[Callable[[VLMConfig], RegionInputs | None]] = Registry("region inputs hook")
register_region_inputs = REGION_INPUTS.register


def region_inputs_for(config: VLMConfig) -> RegionInputs | None:
    """The batch hook of ``config``'s region encoder, when it registered one."""
    load_parts("inference")
    builder = REGION_INPUTS.get(config.region_encoder)
    return builder(config) if builder is not None else None


def to_device(batch: dict, device: torch.device | str, non_blocking: bool = False) -> dict:
    """The batch with its tensors, and the tensors of its lists (``region_boxes``) and dicts (``head_targets``), on
    ``device`` (``non_blocking`` copies from pinned memory overlap with computation on a GPU)."""

    def move(v):
        if torch.is_tensor(v):
            return v.to(device, non_blocking=non_blocking)
        if isinstance(v, dict):
            return {k: move(x) for k, x in v.items()}
        return [move(x) for x in v]

    return {k: move(v) for k, v in batch.items()}


@dataclass
class Collator:
    tokenizer: object
    image_size: int
    image_tokens: int
    region_tokens: int
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    max_length: int = 512
    # The region encoder's batch hook (REGION_INPUTS), None for an encoder that reads boxes only.
    region_inputs: RegionInputs | None = None

    @classmethod
    def for_model(cls, model) -> Collator:
        """The collator matching a :class:`~groundlm.models.vlm.GroundedVLM`'s tokenizer, input size and tokens."""
        return cls(
            model.tokenizer,
            model.image_size,
            model.image_tokens,
            model.region_tokens,
            tuple(model.config.vision.image_mean),
            tuple(model.config.vision.image_std),
            region_inputs=region_inputs_for(model.config),
        )

    def pixels(self, image: Image.Image) -> torch.Tensor:
        """RGB image -> ``[3, S, S]`` float tensor, resized (bilinear) and normalised."""
        return pixel_values(image, self.image_size, self.mean, self.std)

    def expand(self, prompt: str) -> str:
        return prompt.replace(IMAGE_TOKEN, IMAGE_TOKEN * self.image_tokens).replace(
            REGION_TOKEN, REGION_TOKEN * self.region_tokens
        )

    def _boxes(self, example: Example) -> torch.Tensor:
        s = example.sample
        scale = torch.tensor([self.image_size / s.width, self.image_size / s.height] * 2)
        return torch.tensor(example.region_boxes, dtype=torch.float32).reshape(-1, 4) * scale

    def _prompt_ids(self, example: Example) -> list[int]:
        tok = self.tokenizer
        return [tok.bos_token_id, *tok(self.expand(example.prompt), add_special_tokens=False).input_ids]

    def train_batch(self, examples: Sequence[Example], images: Sequence[Image.Image]) -> dict:
        tok = self.tokenizer
        rows, labels, prompt_lengths = [], [], []
        region_id = tok.convert_tokens_to_ids(REGION_TOKEN)
        for ex in examples:
            prompt = self._prompt_ids(ex)
            prompt_lengths.append(len(prompt))
            # A target may hold <region> markers (re-reading answers): their placeholders are inputs, not labels.
            target = [*tok(self.expand(ex.target), add_special_tokens=False).input_ids, tok.eos_token_id]
            ids = (prompt + target)[: self.max_length]
            rows.append(ids)
            target_labels = [IGNORE if t == region_id else t for t in target]
            labels.append(([IGNORE] * len(prompt) + target_labels)[: self.max_length])
        width = max(len(r) for r in rows)
        pad = tok.pad_token_id
        batch = {
            "input_ids": torch.tensor([r + [pad] * (width - len(r)) for r in rows]),
            "attention_mask": torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows]),
            "labels": torch.tensor([lb + [IGNORE] * (width - len(lb)) for lb in labels]),
            "pixel_values": torch.stack([self.pixels(im) for im in images]),
            "region_boxes": [self._boxes(ex) for ex in examples],
        }
        targets = self._head_targets(examples, batch["input_ids"], prompt_lengths)
        if targets:
            batch["head_targets"] = targets
        if self.region_inputs is not None:
            batch["region_inputs"] = self.region_inputs.batch(examples, images, self.mean, self.std, tok, training=True)
        return batch

    def _head_targets(
        self, examples: Sequence[Example], input_ids: torch.Tensor, prompt_lengths: Sequence[int]
    ) -> dict:
        """Each head's targets ``[B, T, D]``, NaN where there is none. ``Example.targets`` row ``j`` goes to position
        ``prompt_lengths[i] + j - 1``, whose output predicts the ``j``-th target token; ``Example.image_targets``
        rows go to the positions of the ``<image>`` placeholders, in order."""
        image_id = self.tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
        placed: dict[str, list[tuple[int, torch.Tensor, torch.Tensor]]] = {}
        for i, ex in enumerate(examples):
            for name, value in ex.targets.items():
                rows = self._span_rows(ex.target, value) if isinstance(value, SpanTargets) else _rows(name, value)
                start = prompt_lengths[i] - 1
                positions = torch.arange(start, min(start + len(rows), input_ids.shape[1]))
                placed.setdefault(name, []).append((i, positions, rows[: len(positions)]))
            for name, value in ex.image_targets.items():
                rows = _rows(name, value)
                positions = (input_ids[i] == image_id).nonzero().flatten()
                if len(positions) != len(rows):
                    raise ValueError(
                        f"image targets {name!r}: {len(rows)} rows for {len(positions)} image tokens (one per patch)"
                    )
                placed.setdefault(name, []).append((i, positions, rows))
        out = {}
        for name, entries in placed.items():
            dims = {rows.shape[1] for _, _, rows in entries}
            if len(dims) != 1:
                raise ValueError(f"targets {name!r}: rows of different sizes {sorted(dims)}")
            grid = torch.full((len(examples), input_ids.shape[1], dims.pop()), float("nan"))
            for i, positions, rows in entries:
                grid[i, positions] = rows
            out[name] = grid
        return out

    def span_tokens(self, target: str, spans: Sequence[tuple[int, int]]) -> list[int | None]:
        """For each token of ``target`` (as training tokenizes it), the index of the first span of characters it
        overlaps, or None."""
        if self.expand(target) != target:
            raise ValueError("span targets need a target without <image> or <region> markers")
        enc = self.tokenizer(target, add_special_tokens=False, return_offsets_mapping=True)
        return [next((k for k, (s, e) in enumerate(spans) if a < e and b > s), None) for a, b in enc.offset_mapping]

    def _span_rows(self, target: str, value: SpanTargets) -> torch.Tensor:
        """``[L + 1, D]`` rows for the target's ``L`` tokens and its end token: each token takes the row of the first
        span its characters overlap, NaN where none (the end token never has one)."""
        owners = self.span_tokens(target, value.spans)
        values = torch.as_tensor(value.values, dtype=torch.float32).reshape(len(value.spans), -1)
        rows = torch.full((len(owners) + 1, values.shape[1]), float("nan"))
        for j, k in enumerate(owners):
            if k is not None:
                rows[j] = values[k]
        return rows

    def prompt_length(self, example: Example) -> int:
        """Tokens before the target in a training sequence (``<s>`` and the expanded prompt)."""
        return len(self._prompt_ids(example))

    def generation_batch(self, examples: Sequence[Example], images: Sequence[Image.Image]) -> dict:
        tok = self.tokenizer
        rows = [
            self._prompt_ids(ex) + tok(self.expand(ex.answer_prefix), add_special_tokens=False).input_ids
            for ex in examples
        ]
        input_ids, attention_mask = left_padded(rows, tok.pad_token_id)
        batch = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "pixel_values": torch.stack([self.pixels(im) for im in images]),
            "region_boxes": [self._boxes(ex) for ex in examples],
        }
        if self.region_inputs is not None:
            hook = self.region_inputs
            batch["region_inputs"] = hook.batch(examples, images, self.mean, self.std, tok, training=False)
        return batch


def _rows(name: str, value) -> torch.Tensor:
    rows = torch.as_tensor(value, dtype=torch.float32)
    if rows.ndim != 2:
        raise ValueError(f"targets {name!r}: expected [L, D] rows, got shape {tuple(rows.shape)}")
    return rows
