"""What every text codec shares: the parse result, error kinds, the multi-box policy and quantisation helpers.

A codec turns pixel ``xyxy`` boxes (and points ``(x, y)``) into a model family's text and back. Parsing never
raises on model output: it returns a :class:`ParseResult` whose ``error`` names what went wrong.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

Box = tuple[float, float, float, float]
Point = tuple[float, float]
Pose = tuple[float, float, float]  # (yaw, pitch, roll) in degrees

# Error kinds, in the order in which they are reported when several apply.
NO_MATCH = "no_match"  # nothing in the family's syntax was found
MALFORMED = "malformed"  # the syntax was found but its content is not numbers of the right count
OUT_OF_RANGE = "out_of_range"  # a number lies outside the family's scale (or an angle outside +-180)
DEGENERATE = "degenerate"  # a box with x1 <= x0 or y1 <= y0 after decoding
MULTIPLE = "multiple"  # several boxes where exactly one is required
MISSING_POSE = "missing_pose"  # a box but no complete (yaw, pitch, roll): a detection-only answer
MISSING_BOX = "missing_box"  # angles but no box
ERROR_KINDS: tuple[str, ...] = (NO_MATCH, MALFORMED, OUT_OF_RANGE, DEGENERATE, MULTIPLE, MISSING_POSE, MISSING_BOX)

MultiBoxPolicy = Literal["first", "union", "reject"]
MULTI_BOX_POLICIES: tuple[str, ...] = ("first", "union", "reject")


@dataclass(frozen=True)
class ParseResult:
    """Parsed model output. Boxes are pixel ``xyxy``; points pixel ``(x, y)``; pose ``(yaw, pitch, roll)`` degrees.

    ``error`` is None on success, else one of :data:`ERROR_KINDS`; whatever could be decoded is still carried.
    ``labels`` holds the phrase attached to each box where the family writes one (else None).
    """

    text: str
    boxes: tuple[Box, ...] = ()
    points: tuple[Point, ...] = ()
    pose: Pose | None = None
    labels: tuple[str | None, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "ok": self.ok,
            "error": self.error,
            "boxes": [list(b) for b in self.boxes],
            "points": [list(p) for p in self.points],
            "pose": None if self.pose is None else dict(zip(("yaw", "pitch", "roll"), self.pose)),
            "labels": list(self.labels),
        }


def select_box(result: ParseResult, policy: MultiBoxPolicy = "first") -> tuple[Box | None, str | None]:
    """The one box a single-box task needs, and the error if there is none.

    ``first`` takes the first box; ``union`` the smallest box enclosing all of them; ``reject`` fails with
    ``multiple`` when there are several. A parse error wins over the policy.
    """
    if policy not in MULTI_BOX_POLICIES:
        raise ValueError(f"unknown multi-box policy {policy!r}; expected one of {MULTI_BOX_POLICIES}")
    if result.error is not None and not result.boxes:
        return None, result.error
    if not result.boxes:
        return None, NO_MATCH
    if result.error is not None:
        return None, result.error
    if len(result.boxes) == 1 or policy == "first":
        return result.boxes[0], None
    if policy == "reject":
        return None, MULTIPLE
    xs0, ys0, xs1, ys1 = zip(*result.boxes)
    return (min(xs0), min(ys0), max(xs1), max(ys1)), None


# ---------------------------------------------------------------------------------------------------------------
# Helpers shared by the codecs.

# Bounded repetition keeps parsing linear and keeps int() away from huge digit strings.
INT = r"\d{1,6}"
FLOAT = r"[+-]?\d{1,6}(?:\.\d{1,12})?"


def quantize(v: float, extent: float, bins: int) -> int:
    """Bin index ``clamp(floor(v / extent * bins), 0, bins - 1)`` of a pixel coordinate on a ``bins`` grid."""
    return min(max(math.floor(v / extent * bins), 0), bins - 1)


def decode_grid(
    numbers: Sequence[str], extents: Sequence[float], bins: int, divisor: float, center: bool = False
) -> tuple[list[float] | None, str | None]:
    """Integers on a ``bins`` grid -> pixels ``(q + 0.5 * center) / divisor * extent``.

    Returns ``(None, "out_of_range")`` if any ``q >= bins``.
    """
    values = [int(n) for n in numbers]
    if any(v >= bins for v in values):
        return None, OUT_OF_RANGE
    offset = 0.5 if center else 0.0
    return [(v + offset) / divisor * e for v, e in zip(values, extents)], None


def first_error(errors: Iterable[str | None]) -> str | None:
    """The highest-priority error among ``errors`` (order of :data:`ERROR_KINDS`), or None."""
    found = {e for e in errors if e is not None}
    return next((k for k in ERROR_KINDS if k in found), None)


def check_box(box: Box) -> str | None:
    """``degenerate`` unless the decoded box is finite with positive width and height."""
    x0, y0, x1, y1 = box
    if not all(math.isfinite(v) for v in box) or not (x1 > x0 and y1 > y0):
        return DEGENERATE
    return None


def split_numbers(content: str, pattern: str, sep: str = ",") -> list[str] | None:
    """Split ``content`` on ``sep`` and return the stripped pieces if every one fully matches ``pattern``."""
    pieces = [p.strip() for p in content.split(sep)]
    if not all(re.fullmatch(pattern, p) for p in pieces):
        return None
    return pieces


def check_size(width: float, height: float) -> None:
    """Image sizes are caller input, not model output: a bad one is a clear error."""
    if not (width > 0 and height > 0 and math.isfinite(width) and math.isfinite(height)):
        raise ValueError(f"image size must be positive and finite, got {width} x {height}")


@dataclass
class Decoded:
    """Accumulates what a parser decoded, then freezes into a :class:`ParseResult`."""

    boxes: list[Box] = field(default_factory=list)
    points: list[Point] = field(default_factory=list)
    labels: list[str | None] = field(default_factory=list)
    errors: list[str | None] = field(default_factory=list)

    def add(self, values: Sequence[float], label: str | None = None) -> None:
        """Four decoded values are a box, two a point."""
        if len(values) == 4:
            self.add_box(tuple(values), label)
        else:
            self.points.append(tuple(values))

    def add_box(self, box: Box, label: str | None = None) -> None:
        err = check_box(box)
        self.errors.append(err)
        if err is None:
            self.boxes.append(box)
            self.labels.append(label)

    def result(self, text: str, matched: bool) -> ParseResult:
        error = first_error(self.errors) if matched else NO_MATCH
        if matched and not self.boxes and not self.points and error is None:
            error = MALFORMED
        return ParseResult(
            text=text,
            boxes=tuple(self.boxes),
            points=tuple(self.points),
            labels=tuple(self.labels),
            error=error,
        )


class Codec(ABC):
    """A model family's box (and point) text. Subclasses set ``name`` and implement render and parse."""

    name: ClassVar[str]
    supports_points: ClassVar[bool] = False
    description: ClassVar[str] = ""
    # A regular expression of one complete single-box answer, for format-constrained decoding.
    answer_pattern: ClassVar[str] = ""

    @abstractmethod
    def render_boxes(
        self, boxes: Sequence[Sequence[float]], width: float, height: float, label: str | None = None
    ) -> str:
        """Text for pixel ``xyxy`` boxes on a ``width x height`` image (several boxes in one answer)."""

    def render_points(self, points: Sequence[Sequence[float]], width: float, height: float) -> str:
        """Text for pixel ``(x, y)`` points, where the family has a point syntax."""
        raise ValueError(f"format {self.name!r} has no point syntax")

    @abstractmethod
    def parse(self, text: str, width: float, height: float) -> ParseResult:
        """Decode model output into pixel boxes/points. Never raises for any ``text``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
