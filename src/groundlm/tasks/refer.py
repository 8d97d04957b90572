"""``refer``: a referring expression in, its object's box out as text in a chosen format."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from groundlm import formats
from groundlm.data.sample import Referring, Sample
from groundlm.formats.numeric import combine
from groundlm.metrics import grounding_metrics
from groundlm.tasks.base import Example, Task, pick
from groundlm.tasks.prompts import REFER_PROMPTS


class ReferTask(Task):
    name = "refer"

    def __init__(self, format: str = "cogvlm", policy: formats.MultiBoxPolicy = "first") -> None:
        self.codec = formats.get(format)
        self.policy = policy

    def items(self, sample: Sample) -> list[Referring]:
        return list(sample.referring)

    def example(self, sample: Sample, item: Referring, rng: np.random.Generator | None) -> Example:
        box = sample.regions[item.region].box
        prompt = "<image>" + pick(REFER_PROMPTS, rng).format(expr=item.text)
        target = self.codec.render_boxes([box], sample.width, sample.height)
        return Example(prompt, target, sample, answer=box)

    def decode(self, text: str, example: Example) -> Any:
        result = self.codec.parse(text, example.sample.width, example.sample.height)
        box, _ = formats.select_box(result, self.policy)
        return box

    def combine(self, predictions: Sequence[Any], mode: str) -> Any:
        """The mean or median box of the answers that gave one (None when none did)."""
        return combine(predictions, mode)

    def score(self, predictions: Sequence[Any], examples: Sequence[Example]) -> dict[str, float]:
        return grounding_metrics(list(predictions), [e.answer for e in examples])
