"""``grounded_list``: name every object and give its box, left to right (grounded captioning, as in Kosmos-2 or
Shikra pre-training). One image supervises all its objects at once, which teaches a model to tie words to regions
faster than single referring expressions do.

Target: ``"<noun> <box>; <noun> <box>; ..."`` with boxes in a chosen format, objects sorted by box centre x.
Scored by recall and precision at IoU >= 0.5 (a predicted box matches at most one object with the same noun).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from groundlm import formats
from groundlm.data.sample import Region, Sample
from groundlm.data.synth.language import noun_phrase
from groundlm.geometry.boxes import iou
from groundlm.tasks.base import Example, Task, pick, register_task
from groundlm.tasks.prompts import LIST_PROMPTS


def _noun(region: Region) -> str:
    keys = ("size", "color", "texture", "category")
    return noun_phrase(
        {k: region.attributes[k] for k in keys if k in region.attributes} or {"category": region.category}
    )


@register_task
class GroundedListTask(Task):
    name = "grounded_list"
    answer_options: ClassVar[dict[str, str]] = {"format": "format"}

    def __init__(self, format: str = "cogvlm") -> None:
        self.codec = formats.get(format)

    def _regions(self, sample: Sample) -> list[Region]:
        return sorted((r for r in sample.regions if r.category != "head"), key=lambda r: r.box[0] + r.box[2])

    def items(self, sample: Sample) -> list[Sample]:
        return [sample] if self._regions(sample) else []

    def example(self, sample: Sample, item: Any, rng: np.random.Generator | None) -> Example:
        regions = self._regions(sample)
        parts = [f"{_noun(r)} {self.codec.render_boxes([r.box], sample.width, sample.height)}" for r in regions]
        answer = [(_noun(r), r.box) for r in regions]
        return Example("<image>" + pick(LIST_PROMPTS, rng), "; ".join(parts), sample, answer=answer)

    def decode(self, text: str, example: Example) -> list[tuple[str, tuple]]:
        out = []
        for part in re.split(r";\s*", text):
            result = self.codec.parse(part, example.sample.width, example.sample.height)
            if result.boxes:
                noun = part.split("[")[0].split("<")[0].strip()
                out.append((noun, result.boxes[0]))
        return out

    def score(self, predictions: Sequence[Any], examples: Sequence[Example]) -> dict[str, float]:
        hits = n_true = n_pred = 0
        for pred, ex in zip(predictions, examples):
            used = set()
            for noun, box in pred:
                for j, (gt_noun, gt_box) in enumerate(ex.answer):
                    if j not in used and noun == gt_noun and float(iou(np.asarray(box), np.asarray(gt_box))) >= 0.5:
                        used.add(j)
                        hits += 1
                        break
            n_true += len(ex.answer)
            n_pred += len(pred)
        return {"n": len(examples), "recall50": hits / max(n_true, 1), "precision50": hits / max(n_pred, 1)}
