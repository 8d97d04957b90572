"""Examples in a transformers VLM's own prompt syntax: its processor expands the image placeholder and makes the
image inputs, its chat template wraps the question (PaliGemma has none: ``<image>…<bos>question\\n``). A training
sequence is the processed prompt followed by the target's tokens and the tokenizer's end token, labels ``-100`` on
the prompt; generation left-pads the prompts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image

from groundlm import formats
from groundlm.backends.architectures import Architecture
from groundlm.errors import UserError
from groundlm.models.losses import IGNORE
from groundlm.models.tokenizer import IMAGE_TOKEN, REGION_TOKEN, left_padded
from groundlm.tasks.base import Example


@dataclass
class HFCollator:
    """Examples in the model's own prompt syntax. ``codec`` writes the boxes of ``<region>`` markers into the
    question as text (these models have no region tokens)."""

    processor: Any
    arch: Architecture
    codec: formats.Codec
    max_length: int = 2048

    @property
    def tokenizer(self):
        return self.processor.tokenizer

    def question(self, example: Example) -> tuple[str, bool]:
        """The prompt's text with each ``<region>`` written as its box, without ``<image>``; and whether the image
        comes first (the marker starts the prompt)."""
        text = example.prompt
        boxes = iter(example.region_boxes)
        s = example.sample
        while REGION_TOKEN in text:
            box = next(boxes, None)
            if box is None:
                raise ValueError(f"{example.prompt!r}: more <region> markers than region boxes")
            text = text.replace(REGION_TOKEN, self.codec.render_boxes([box], s.width, s.height), 1)
        if text.count(IMAGE_TOKEN) != 1:
            raise ValueError(f"{example.prompt!r}: a prompt needs exactly one <image> marker")
        first = text.startswith(IMAGE_TOKEN)
        return text.replace(IMAGE_TOKEN, "").strip(), first

    def prompt_text(self, example: Example) -> str:
        """The text the processor receives: the chat template's user turn and the assistant's opening, or the
        question alone (PaliGemma's processor puts the image tokens and ``<bos>`` before it)."""
        question, first = self.question(example)
        if not self.arch.chat:
            return self.processor.image_token + question
        if getattr(self.processor, "chat_template", None) is None:
            raise UserError(f"the {self.arch.model_type} processor has no chat template; add chat_template.jinja")
        parts = [{"type": "image"}, {"type": "text", "text": question}]
        messages = [{"role": "user", "content": parts if first else parts[::-1]}]
        return self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def _encode(self, example: Example, image: Image.Image) -> dict[str, torch.Tensor]:
        text = self.prompt_text(example) + example.answer_prefix
        return dict(self.processor(images=[image.convert("RGB")], text=[text], return_tensors="pt"))

    @staticmethod
    def _split(encoded: dict[str, torch.Tensor]) -> tuple[dict[str, list[int]], dict[str, torch.Tensor]]:
        """A processed prompt's token rows (``input_ids`` and any ``[1, L]`` companion: PaliGemma's
        ``token_type_ids``, Qwen2-VL's ``mm_token_type_ids``), as lists, and the rest (the image inputs)."""
        shape = encoded["input_ids"].shape
        # PaliGemma's processor also returns ``labels`` for its prompt; groundlm builds its own.
        kept = {k: v for k, v in encoded.items() if k not in ("attention_mask", "labels")}
        rows = {k: v[0].tolist() for k, v in kept.items() if v.shape == shape}
        rest = {k: v for k, v in kept.items() if k not in rows}
        return rows, rest

    @staticmethod
    def _image_inputs(encoded: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        """The image inputs concatenated over examples (LLaVA/PaliGemma ``pixel_values`` ``[B, 3, H, W]``;
        Qwen2-VL's flattened patches ``[ΣP, D]`` with ``image_grid_thw`` ``[B, 3]``)."""
        return {k: torch.cat([e[k] for e in encoded]) for k in encoded[0]}

    def _pad(self) -> int:
        tok = self.tokenizer
        return tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id

    def train_batch(self, examples: Sequence[Example], images: Sequence[Image.Image]) -> dict:
        """``input_ids`` / ``attention_mask`` / ``labels`` ``[B, T]`` right-padded, the image inputs, and the
        processor's other token rows continued over the answer: PaliGemma's ``token_type_ids`` with 1 (the answer
        attends causally, the prefix both ways), Qwen2-VL's ``mm_token_type_ids`` with 0 (text)."""
        tok = self.tokenizer
        split = [self._split(self._encode(e, im)) for e, im in zip(examples, images)]
        columns: dict[str, list[list[int]]] = {k: [] for k in split[0][0]}
        labels = []
        for ex, (rows, _) in zip(examples, split):
            target = [*tok(ex.target, add_special_tokens=False).input_ids, tok.eos_token_id]
            n = len(rows["input_ids"])
            for key, row in rows.items():
                tail = target if key == "input_ids" else [int(key == "token_type_ids")] * len(target)
                columns[key].append((row + tail)[: self.max_length])
            labels.append(([IGNORE] * n + target)[: self.max_length])
        width = max(len(r) for r in columns["input_ids"])
        fill = {"input_ids": self._pad(), "token_type_ids": 1}
        batch = {k: torch.tensor([r + [fill.get(k, 0)] * (width - len(r)) for r in v]) for k, v in columns.items()}
        batch["attention_mask"] = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in columns["input_ids"]])
        batch["labels"] = torch.tensor([lb + [IGNORE] * (width - len(lb)) for lb in labels])
        return {**batch, **self._image_inputs([rest for _, rest in split])}

    def generation_batch(self, examples: Sequence[Example], images: Sequence[Image.Image]) -> dict:
        """Left-padded prompts (every row ends at its last prompt token), their token rows, the image inputs."""
        split = [self._split(self._encode(e, im)) for e, im in zip(examples, images)]
        batch = {}
        for key in split[0][0]:
            ids, mask = left_padded([rows[key] for rows, _ in split], self._pad() if key == "input_ids" else 0)
            batch[key] = ids
            if key == "input_ids":
                batch["attention_mask"] = mask
        return {**batch, **self._image_inputs([rest for _, rest in split])}
