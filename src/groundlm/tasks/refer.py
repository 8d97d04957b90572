"""``refer``: a referring expression in, its object's box out as text in a chosen format."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from groundlm import formats
from groundlm.data.sample import Referring, Sample
from groundlm.formats.numeric import combine
from groundlm.geometry.cells import cell_shares
from groundlm.metrics import grounding_metrics
from groundlm.tasks.base import Box, Example, Task, pick, register_task
from groundlm.tasks.prompts import REFER_PROMPTS


@register_task
class ReferTask(Task):
    name = "refer"
    takes = "query"
    needs = "a query (the referring expression)"
    summary = "a referring expression in, the box of what it names out (pixels)"
    answer_options: ClassVar[dict[str, str]] = {"format": "format", "query_first": "query_first"}

    def __init__(
        self,
        format: str = "cogvlm",
        policy: formats.MultiBoxPolicy = "first",
        query_first: bool = False,
        box_head: str | None = None,
        cell_head: str | None = None,
        cell_grid: int = 8,
    ) -> None:
        """``query_first`` puts the question before the image: in a causal LM every image token can then attend to
        the expression (as instruction-aware Q-Formers read the instruction), instead of only the answer.
        ``box_head`` names a head (``model.heads``, ``out_dim: 4``) trained to regress the referred box, ``xyxy``
        normalised to [0, 1], from the hidden state that writes the answer's first token, beside the text answer
        (PixelLLM's referring localisation by regression, docs/architecture.md, section 6.3). ``cell_head`` names a
        head (``out_dim: 1``) trained on every patch token to give the share of its cell that the referred entity
        covers (its instance mask, or its box where there is no mask), on the model's ``cell_grid x cell_grid`` patch
        grid: with ``query_first``, the image tokens learn to match themselves against the expression."""
        self.codec = formats.get(format)
        self.policy = policy
        self.query_first = query_first
        self.box_head = box_head
        self.cell_head = cell_head
        self.cell_grid = cell_grid

    def items(self, sample: Sample) -> list[Referring]:
        return list(sample.referring)

    def example(self, sample: Sample, item: Referring, rng: np.random.Generator | None) -> Example:
        box = sample.regions[item.region].box
        prompt = self.prompt(item.text, rng)
        target = self.codec.render_boxes([box], sample.width, sample.height)
        targets = {}
        if self.box_head:
            x0, y0, x1, y1 = box
            w, h = sample.width, sample.height
            targets[self.box_head] = np.array([[x0 / w, y0 / h, x1 / w, y1 / h]], dtype=np.float32)
        image_targets = {}
        if self.cell_head:
            shares = cell_shares(self._region_mask(sample, item.region), self.cell_grid)
            image_targets[self.cell_head] = shares.reshape(-1, 1)
        return Example(prompt, target, sample, answer=box, targets=targets, image_targets=image_targets)

    @staticmethod
    def _region_mask(sample: Sample, region: int) -> np.ndarray:
        """``[H, W]`` bool: the region's pixels (its instance mask, or its box when the sample has no mask)."""
        r = sample.regions[region]
        mask = sample.load_mask() if r.mask_id > 0 else None
        if mask is not None:
            return mask == r.mask_id
        out = np.zeros((sample.height, sample.width), dtype=bool)
        x0, y0, x1, y1 = (round(v) for v in r.box)
        out[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = True
        return out

    def prompt(self, expression: str, rng: np.random.Generator | None = None) -> str:
        """The question about ``expression`` with the image marker before it, or after it with ``query_first``."""
        question = pick(REFER_PROMPTS, rng).format(expr=expression)
        return question + "<image>" if self.query_first else "<image>" + question

    def query_example(self, sample: Sample, query: str | None, box: Box | None) -> Example:
        self.check_query(query, box)
        return Example(self.prompt(query), "", sample)

    def answer_fields(self, text: str, example: Example) -> dict[str, Any]:
        """``parsed`` (every box and what the parser found, pixels) and ``box``, the first box (or None)."""
        parsed = self.codec.parse(text, example.sample.width, example.sample.height)
        return {"parsed": parsed.to_dict(), "box": formats.select_box(parsed)[0]}

    def combined_fields(self, prediction: Any) -> dict[str, Any]:
        return {"box": prediction}

    def decode(self, text: str, example: Example) -> Any:
        result = self.codec.parse(text, example.sample.width, example.sample.height)
        box, _ = formats.select_box(result, self.policy)
        return box

    def combine(self, predictions: Sequence[Any], mode: str) -> Any:
        """The mean or median box of the answers that gave one (None when none did)."""
        return combine(predictions, mode)

    def score(self, predictions: Sequence[Any], examples: Sequence[Example]) -> dict[str, float]:
        return grounding_metrics(list(predictions), [e.answer for e in examples])
