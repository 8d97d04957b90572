"""``region_caption``: a box in (through ``<region>`` tokens), a caption of what it holds out."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from groundlm.data.sample import Region, Sample
from groundlm.metrics import caption_metrics
from groundlm.tasks.base import Example, Task, pick
from groundlm.tasks.prompts import REGION_CAPTION_PROMPTS


class RegionCaptionTask(Task):
    name = "region_caption"

    def items(self, sample: Sample) -> list[Region]:
        return [r for r in sample.regions if r.captions]

    def example(self, sample: Sample, item: Region, rng: np.random.Generator | None) -> Example:
        prompt = "<image>" + pick(REGION_CAPTION_PROMPTS, rng).format(region="<region>")
        return Example(prompt, pick(item.captions, rng), sample, region_boxes=[item.box], answer=list(item.captions))

    def decode(self, text: str, example: Example) -> str:
        return text.strip()

    def score(self, predictions: Sequence[str], examples: Sequence[Example]) -> dict[str, float]:
        refs = {str(i): e.answer for i, e in enumerate(examples)}
        return caption_metrics(refs, {str(i): p for i, p in enumerate(predictions)})
