"""``pose``: the full image and a described person in, that person's head box and (yaw, pitch, roll) out as text.

The answer is the one string of :mod:`groundlm.formats.pose` (``[[x0,y0,x1,y1]] yaw:+12.5 pitch:-3.0 roll:+0.8``,
box on the CogVLM 000-999 grid, degrees). The person is named by one of the sample's unique referring expressions
for their body ("the person in the red shirt"), or as "the person" when they are the only one with a visible head.

Decoding sorts answers into three kinds, so that a model which mixes up skills shows it:

* ``ok``: one box and three angles within range;
* ``blended``: a parse that mixes tasks (a box without angles, i.e. a detection-only answer; two boxes; an angle out
  of range), :data:`groundlm.formats.pose.BLENDED_ERRORS`;
* ``unparsed``: anything else (no box and no angles, malformed syntax).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from groundlm.data.sample import Head, Sample
from groundlm.data.show import draw_pose_axes
from groundlm.formats import select_box
from groundlm.formats.numeric import combine
from groundlm.formats.pose import BLENDED_ERRORS, PoseCodec
from groundlm.metrics.pose import pose_metrics
from groundlm.tasks.base import Box, Example, Task, pick, register_task
from groundlm.tasks.prompts import POSE_PROMPTS

Pose = tuple[float, float, float]


@dataclass(frozen=True)
class PoseItem:
    head: Head
    expressions: tuple[str, ...]  # ways to name the person, shortest first


@dataclass(frozen=True)
class PosePrediction:
    box: Box | None
    pose: Pose | None  # None unless the answer is ``ok``
    kind: str  # "ok" | "blended" | "unparsed"
    error: str | None = None  # the parser's error code


def person_expressions(sample: Sample, head: Head) -> tuple[str, ...]:
    """Unique expressions naming the person a head belongs to, shortest first (empty when there is none)."""
    texts = [r.text for r in sample.referring if head.person >= 0 and r.region == head.person]
    if not texts and len(sample.heads) == 1:
        texts = ["the person"]
    return tuple(sorted(set(texts), key=lambda t: (len(t), t)))


# A question has no true head: the answer and the teacher-forcing region of its example are placeholders.
_NO_HEAD = Head((0.0, 0.0, 1.0, 1.0), 0.0, 0.0, 0.0)


def _degrees(pose: Pose | None) -> dict[str, float] | None:
    return dict(zip(("yaw", "pitch", "roll"), pose)) if pose else None


@register_task
class PoseTask(Task):
    name = "pose"
    max_new_tokens = 48  # the answer is 33 tokens
    eval_max_new_tokens = 40
    takes = "query"
    query_hint = 'naming the person, e.g. "the person in the red shirt"'
    needs = f"a query {query_hint}"
    answer_options: ClassVar[dict[str, str]] = {"reread": "reread"}
    summary = "a person named in, their head box (pixels) and yaw, pitch, roll (degrees) out"
    native_options: ClassVar[dict[str, str]] = {"reread": "reread needs groundlm's region tokens"}

    def __init__(self, max_abs: float = 180.0, reread: bool = False) -> None:
        """``reread``: the answer re-reads the head it found: after the head box, the region tokens of that box
        (RoI-Align of the tower's features, :class:`groundlm.models.region.RoIRegionEncoder`) enter the sequence
        before the angles: the true box in training, the model's own box in generation."""
        self.codec = PoseCodec(max_abs=max_abs)
        self.reread = reread

    def items(self, sample: Sample) -> list[PoseItem]:
        out = []
        for head in sample.heads:
            expressions = person_expressions(sample, head)
            if expressions:
                out.append(PoseItem(head, expressions))
        return out

    def example(self, sample: Sample, item: PoseItem, rng: np.random.Generator | None) -> Example:
        h = item.head
        expr = pick(item.expressions, rng)
        prompt = "<image>" + pick(POSE_PROMPTS, rng).format(expr=expr)
        target = self.codec.render(h.box, h.yaw, h.pitch, h.roll, sample.width, sample.height)
        if not self.reread:
            return Example(prompt, target, sample, answer=h)
        box_text, angles = target.split("]]", 1)
        # Teacher forcing reads the true head's region; generation replaces it with the region of its own box.
        return Example(
            prompt, f"{box_text}]]<region>{angles}", sample, [h.box], answer=h, reread=PoseCodec.angles_pattern
        )

    def query_example(self, sample: Sample, query: str | None, box: Box | None) -> Example:
        self.check_query(query, box)
        return self.example(sample, PoseItem(_NO_HEAD, (query,)), None)

    def answer_fields(self, text: str, example: Example) -> dict[str, Any]:
        """``parsed``, the head ``box`` (pixels) and its ``pose`` (``yaw``, ``pitch``, ``roll`` in degrees, None
        unless the answer holds all three)."""
        parsed = self.codec.parse(text, example.sample.width, example.sample.height)
        return {"parsed": parsed.to_dict(), "box": select_box(parsed)[0], "pose": _degrees(parsed.pose)}

    def combined_fields(self, prediction: PosePrediction) -> dict[str, Any]:
        return {"box": prediction.box, "pose": _degrees(prediction.pose)}

    @classmethod
    def draw_answer(cls, draw: Any, result: dict[str, Any]) -> None:
        """The head frame's axes at the centre of its box, their length the box's width (pixels)."""
        pose = result.get("pose")
        if pose and result.get("box") is not None:
            x0, y0, x1, y1 = result["box"]
            draw_pose_axes(draw, ((x0 + x1) / 2, (y0 + y1) / 2), pose["yaw"], pose["pitch"], pose["roll"], x1 - x0)

    def decode(self, text: str, example: Example) -> PosePrediction:
        result = self.codec.parse(text, example.sample.width, example.sample.height)
        box = result.boxes[0] if result.boxes else None
        if result.error is None:
            return PosePrediction(box, result.pose, "ok")
        kind = "blended" if result.error in BLENDED_ERRORS else "unparsed"
        return PosePrediction(box, None, kind, result.error)

    def combine(self, predictions: Sequence[PosePrediction], mode: str) -> PosePrediction:
        """The mean or median box and angles of the ``ok`` answers; the first answer when none is ``ok``."""
        ok = [p for p in predictions if p.kind == "ok"]
        if not ok:
            return predictions[0]
        return PosePrediction(combine([p.box for p in ok], mode), combine([p.pose for p in ok], mode), "ok")

    def score(self, predictions: Sequence[PosePrediction], examples: Sequence[Example]) -> dict[str, float]:
        """:func:`groundlm.metrics.pose.pose_metrics` (MAE per angle, invalid share, head-box Acc@0.5) plus the
        shares of ``blended`` and ``unparsed`` answers among all answers."""
        heads = [e.answer for e in examples]
        out = pose_metrics(
            [p.pose for p in predictions],
            [(h.yaw, h.pitch, h.roll) for h in heads],
            [p.box for p in predictions],
            [h.box for h in heads],
        )
        n = max(len(predictions), 1)
        out["blended"] = sum(p.kind == "blended" for p in predictions) / n
        out["unparsed"] = sum(p.kind == "unparsed" for p in predictions) / n
        return out
