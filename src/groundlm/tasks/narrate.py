"""``narrate``: PixelLLM's pixel-aligned captioning (DESIGN.md 6.3). The image in, its localized narrative out, and,
with ``point_head``, every word of it tied to the image point the narrator's mouse was on while saying it.

The target is the narrative's utterances joined by ", " and ended by "."; a word's point is the trace point nearest
in time to the word's moment, the words of an utterance spread evenly over its time span (a localized narrative
times utterances, not words). Points are ``(x, y)`` normalised to ``[0, 1]`` of the image; words of an utterance
without a trace get none (their tokens are masked out of the point loss).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from groundlm.data.sample import Sample, Utterance
from groundlm.metrics import caption_metrics
from groundlm.tasks.base import Example, SpanTargets, Task, pick
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
) -> tuple[str, list[tuple[int, int]], list[tuple[float, float] | None]]:
    """The narrative as one text, with each word's character span in it and its point."""
    text, spans, points = "", [], []
    for i, u in enumerate(narrative):
        piece = u.text.strip()
        if i:
            text += ", "
        base = len(text)
        found = list(re.finditer(r"\S+", piece))
        spans += [(base + m.start(), base + m.end()) for m in found]
        points += word_points(u, len(found))
        text += piece
    return text + ".", spans, points


class NarrateTask(Task):
    name = "narrate"

    def __init__(self, point_head: str | None = None) -> None:
        """``point_head``: the head (``model.heads``, kind ``point``, ``out_dim: 2``) trained on each word's point."""
        self.point_head = point_head

    def items(self, sample: Sample) -> list[int]:
        return [0] if sample.narrative else []

    def example(self, sample: Sample, item: int, rng: np.random.Generator | None) -> Example:
        text, spans, points = narrative_text(sample.narrative)
        targets = {}
        if self.point_head:
            kept = [(s, p) for s, p in zip(spans, points) if p is not None]
            values = np.array([p for _, p in kept], dtype=np.float32).reshape(-1, 2)
            targets[self.point_head] = SpanTargets([s for s, _ in kept], values)
        prompt = "<image>" + pick(NARRATE_PROMPTS, rng)
        return Example(prompt, text, sample, answer=[text], targets=targets)

    def decode(self, text: str, example: Example) -> str:
        return text.strip()

    def score(self, predictions: Sequence[str], examples: Sequence[Example]) -> dict[str, float]:
        refs = {str(i): e.answer for i, e in enumerate(examples)}
        return caption_metrics(refs, {str(i): p for i, p in enumerate(predictions)})
