"""``region_caption``: a box in (through ``<region>`` tokens), a caption of what it holds out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import numpy as np

from groundlm import formats
from groundlm.data.sample import Region, Sample
from groundlm.geometry.boxes import prompt_box
from groundlm.geometry.views import CANDIDATE_TS
from groundlm.metrics import caption_metrics
from groundlm.tasks.base import Box, Example, Task, pick, register_task
from groundlm.tasks.prompts import REGION_CAPTION_PROMPTS


@register_task
class RegionCaptionTask(Task):
    name = "region_caption"
    aliases = ("describe", "caption")
    takes = "box"
    needs = "a box (pixel x0 y0 x1 y1)"
    summary = "a box in (pixels), a caption of that region out"
    answer_options: ClassVar[dict[str, str]] = {"image": "region_image"}

    def __init__(self, box_as_text: str | None = None, image: bool = True) -> None:
        """``box_as_text``: a box format (``groundlm.formats``) to write the region's box in the prompt with,
        instead of ``<region>`` tokens (PixelLLM's comparison of its location prompt encoder with a box as text).
        ``image=False`` leaves the whole image's tokens out of the prompt: the region's tokens alone carry what the
        model sees (DynRefer, whose views hold the context)."""
        if box_as_text and not image:
            raise ValueError("region_caption: a box written as text needs the image in the prompt")
        self.box_codec = formats.get(box_as_text) if box_as_text else None
        self.image = "<image>" if image else ""

    def items(self, sample: Sample) -> list[Region]:
        return [r for r in sample.regions if r.captions]

    def example(self, sample: Sample, item: Region, rng: np.random.Generator | None) -> Example:
        template = pick(REGION_CAPTION_PROMPTS, rng)
        caption, refs = pick(item.captions, rng), list(item.captions)
        if self.box_codec is not None:
            region = self.box_codec.render_boxes([item.box], sample.width, sample.height)
            return Example("<image>" + template.format(region=region), caption, sample, answer=refs)
        prompt = self.image + template.format(region="<region>")
        # Training draws an order of the view coefficients for a multi-view encoder (ignored by the others); its
        # decoders learn the region's tags and pair its tokens with the caption.
        orders = [tuple(float(t) for t in rng.permutation(CANDIDATE_TS))] if rng is not None else []
        extras = {"view_orders": orders, "region_tags": [list(item.tags)], "region_texts": [caption]}
        return Example(prompt, caption, sample, region_boxes=[item.box], answer=refs, extras=extras)

    def query_example(self, sample: Sample, query: str | None, box: Box | None) -> Example:
        self.check_query(query, box)
        prompt = self.image + REGION_CAPTION_PROMPTS[0].format(region="<region>")
        return Example(prompt, "", sample, region_boxes=[prompt_box(box, sample.width, sample.height)])

    def answer_fields(self, text: str, example: Example) -> dict[str, Any]:
        """``region``: the box asked about (pixels, as the model saw it)."""
        return {"region": list(example.region_boxes[0])}

    def decode(self, text: str, example: Example) -> str:
        return text.strip()

    def score(self, predictions: Sequence[str], examples: Sequence[Example]) -> dict[str, float]:
        refs = {str(i): e.answer for i, e in enumerate(examples)}
        return caption_metrics(refs, {str(i): p for i, p in enumerate(predictions)})


def region_vocabulary(samples: Iterable[Sample]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The tags and the categories of the captioned regions of ``samples``, each sorted: a tag decoder's vocabulary
    (``views.tags: auto``) and the categories recognition is scored over."""
    tags: set[str] = set()
    categories: set[str] = set()
    for sample in samples:
        for region in sample.regions:
            if region.captions:
                tags.update(region.tags)
                categories.add(region.category)
    return tuple(sorted(tags)), tuple(sorted(categories))
