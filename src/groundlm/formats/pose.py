"""The head-pose response: a head box in CogVLM style followed by the three Euler angles.

The one string the ``pose`` task writes and reads::

    [[x0,y0,x1,y1]] yaw:+12.5 pitch:-3.0 roll:+0.8

* the box as in :mod:`groundlm.formats.cogvlm` (000-999 grid, 3 digits, x first);
* then ``yaw``, ``pitch``, ``roll`` in that order, each ``name:`` + signed degrees with one decimal
  (convention of :mod:`groundlm.geometry.rotations`).

Parsing is strict about content and lenient about spacing. Besides syntax errors it reports answers that mix
tasks ("blended"): a box without angles (``missing_pose``: a detection-only answer), two boxes (``multiple``), or
an angle outside ``[-max_abs, max_abs]`` (``out_of_range``); see :data:`BLENDED_ERRORS`.
"""

from __future__ import annotations

import math
import re

from groundlm.formats.base import (
    MALFORMED,
    MISSING_BOX,
    MISSING_POSE,
    MULTIPLE,
    NO_MATCH,
    OUT_OF_RANGE,
    Codec,
    Decoded,
    ParseResult,
    check_size,
    first_error,
)
from groundlm.formats.cogvlm import parse_groups, render_group

ANGLE_NAMES = ("yaw", "pitch", "roll")
BLENDED_ERRORS = frozenset({MISSING_POSE, MULTIPLE, OUT_OF_RANGE})
_ANGLE = re.compile(r"\b(yaw|pitch|roll)\s*[:=]\s*([+-]?\d{1,6}(?:\.\d{1,12})?)", re.IGNORECASE)


def render_pose(box, yaw: float, pitch: float, roll: float, width: float, height: float) -> str:
    """The response string for one head: pixel ``xyxy`` box and angles in degrees."""
    check_size(width, height)
    angles = " ".join(f"{n}:{v:+.1f}" for n, v in zip(ANGLE_NAMES, (yaw, pitch, roll)))
    return f"[[{render_group(box, (width, height, width, height))}]] {angles}"


class PoseCodec(Codec):
    name = "pose"
    description = "[[x0,y0,x1,y1]] yaw:+12.5 pitch:-3.0 roll:+0.8 (box on 000-999, degrees)"
    # Angles up to 180.0 degrees: 180.0, 100.0-179.9, or one or two digits and a decimal.
    angles_pattern = (
        r" yaw:[+-](180\.0|1[0-7]\d\.\d|\d{1,2}\.\d)"
        r" pitch:[+-](180\.0|1[0-7]\d\.\d|\d{1,2}\.\d)"
        r" roll:[+-](180\.0|1[0-7]\d\.\d|\d{1,2}\.\d)"
    )
    answer_pattern = r"\[\[\d{3},\d{3},\d{3},\d{3}\]\]" + angles_pattern

    def __init__(self, max_abs: float = 180.0) -> None:
        self.max_abs = max_abs

    def render_boxes(self, boxes, width, height, label=None):
        check_size(width, height)
        return "[[" + ";".join(render_group(b, (width, height, width, height)) for b in boxes) + "]]"

    def render(self, box, yaw: float, pitch: float, roll: float, width: float, height: float) -> str:
        return render_pose(box, yaw, pitch, roll, width, height)

    def parse(self, text: str, width: float, height: float) -> ParseResult:
        check_size(width, height)
        decoded = Decoded()
        has_box = parse_groups(text, width, height, decoded)
        angles: dict[str, float] = {}
        repeated = False
        for m in _ANGLE.finditer(text):
            key = m.group(1).lower()
            repeated |= key in angles
            angles[key] = float(m.group(2))
        pose = tuple(angles[n] for n in ANGLE_NAMES) if len(angles) == 3 else None
        errors = list(decoded.errors)
        if not has_box and not angles:
            errors.append(NO_MATCH)
        elif not decoded.boxes and not errors:
            errors.append(MISSING_BOX)
        if len(decoded.boxes) > 1:
            errors.append(MULTIPLE)
        if repeated:
            errors.append(MALFORMED)
        if has_box and pose is None:
            errors.append(MISSING_POSE)
        if pose is not None and not all(math.isfinite(a) and abs(a) <= self.max_abs for a in pose):
            errors.append(OUT_OF_RANGE)
        if not has_box and angles and pose is None:
            errors.append(MALFORMED)
        return ParseResult(
            text=text,
            boxes=tuple(decoded.boxes),
            points=tuple(decoded.points),
            pose=pose,
            labels=tuple(decoded.labels),
            error=first_error(errors),
        )
