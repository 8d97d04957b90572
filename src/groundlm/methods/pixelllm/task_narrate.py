"""``narrate``: PixelLLM's pixel-aligned captioning (docs/architecture.md, section 6.3). The image in, its localized
narrative out, and, with ``point_head``, every word of it tied to the image point the narrator's mouse was on while
saying it.

The target is the narrative's utterances joined by ", " and ended by "."; a word's point is the trace point nearest
in time to the word's moment, the words of an utterance spread evenly over its time span (a localized narrative
times utterances, not words). Points are ``(x, y)`` normalised to ``[0, 1]`` of the image; words of an utterance
without a trace get none (their tokens are masked out of the point loss).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from groundlm.data.sample import Sample, Utterance
from groundlm.methods.pixelllm.metrics_trace import trace_metrics
from groundlm.metrics import caption_metrics
from groundlm.tasks.base import Box, Example, SpanTargets, Task, pick, register_task
from groundlm.tasks.prompts import NARRATE_PROMPTS


def word_points(utterance: Utterance, words: int) -> list[tuple[float, float] | None]:
    """The trace point ``(x, y)`` (normalised) of each of ``words`` words spread evenly over the utterance's time
    span: word ``k`` at ``start + (k + 1/2) / words * (end - start)``, the trace point nearest in time."""
    if not utterance.trace:
        return [None] * words
    trace = np.asarray(utterance.trace, dtype=np.float64)  # [P, 3]: x, y, t
    out: list[tuple[float, float] | None] = []
    for k in range(words):
        t = utterance.start + (k + 0.5) / words * (utterance.end - utterance.start)
        x, y, _ = trace[int(np.argmin(np.abs(trace[:, 2] - t)))]
        out.append((float(x), float(y)))
    return out


def narrative_text(
    narrative: Sequence[Utterance],
) -> tuple[str, list[tuple[int, int]], list[tuple[float, float] | None], list[int]]:
    """The narrative as one text, with each word's character span in it, its point, and the region its utterance
    describes (-1 when none)."""
    text, spans, points, regions = "", [], [], []
    for i, u in enumerate(narrative):
        piece = u.text.strip()
        if i:
            text += ", "
        base = len(text)
        found = list(re.finditer(r"\S+", piece))
        spans += [(base + m.start(), base + m.end()) for m in found]
        points += word_points(u, len(found))
        regions += [u.region] * len(found)
        text += piece
    return text + ".", spans, points, regions


@register_task
class NarrateTask(Task):
    name = "narrate"
    max_new_tokens = 96
    takes = "image"
    word_head = "point"  # a narrating model's point head gives its answer's words their points
    summary = "a narration of the picture, each word at its point (pixels)"
    native_options: ClassVar[dict[str, str]] = {"point_head": "a point head needs groundlm's heads"}

    def __init__(self, point_head: str | None = None, utterances: int | None = None) -> None:
        """``point_head``: the head (``model.heads``, kind ``point``, ``out_dim: 2``) trained on each word's point;
        ``utterances``: narrate only the first ones (shorter targets; None: all)."""
        self.point_head = point_head
        self.utterances = utterances

    def _narrative(self, sample: Sample) -> list[Utterance]:
        return sample.narrative[: self.utterances] if self.utterances else sample.narrative

    def items(self, sample: Sample) -> list[int]:
        return [0] if sample.narrative else []

    def example(self, sample: Sample, item: int, rng: np.random.Generator | None) -> Example:
        text, spans, points, _ = narrative_text(self._narrative(sample))
        targets = {}
        if self.point_head:
            kept = [(s, p) for s, p in zip(spans, points) if p is not None]
            values = np.array([p for _, p in kept], dtype=np.float32).reshape(-1, 2)
            targets[self.point_head] = SpanTargets([s for s, _ in kept], values)
        prompt = "<image>" + pick(NARRATE_PROMPTS, rng)
        return Example(prompt, text, sample, answer=[text], targets=targets)

    def word_boxes(self, sample: Sample) -> list[tuple[float, float, float, float] | None]:
        """For each word with a point (the rows of the point targets), the normalised box of the object its
        utterance describes, or None."""
        _, _, points, regions = narrative_text(self._narrative(sample))
        w, h = sample.width, sample.height
        out = []
        for p, r in zip(points, regions):
            if p is not None:
                box = sample.regions[r].box if 0 <= r < len(sample.regions) else None
                out.append(None if box is None else (box[0] / w, box[1] / h, box[2] / w, box[3] / h))
        return out

    def trace_score(self, points: Sequence[np.ndarray], examples: Sequence[Example]) -> dict[str, float]:
        """:func:`~groundlm.methods.pixelllm.metrics_trace.trace_metrics` of per-word points (``[S, 2]`` per example,
        in the order of its point targets, e.g. from :func:`groundlm.inference.points.span_outputs`) over all
        examples."""
        pred, gt, boxes = [], [], []
        for p, ex in zip(points, examples):
            truth = ex.targets[self.point_head]
            keep = ~np.isnan(np.asarray(p)).any(1)
            pred += list(np.asarray(p)[keep])
            gt += list(np.asarray(truth.values)[keep])
            boxes += [b for b, k in zip(self.word_boxes(ex.sample), keep) if k]
        return trace_metrics(pred, gt, boxes)

    def query_example(self, sample: Sample, query: str | None, box: Box | None) -> Example:
        return Example("<image>" + NARRATE_PROMPTS[0], "", sample)

    def decode(self, text: str, example: Example) -> str:
        return text.strip()

    def score(self, predictions: Sequence[str], examples: Sequence[Example]) -> dict[str, float]:
        refs = {str(i): e.answer for i, e in enumerate(examples)}
        return caption_metrics(refs, {str(i): p for i, p in enumerate(predictions)})
