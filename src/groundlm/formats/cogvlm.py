"""CogVLM grounding: ``[[x0,y0,x1,y1]]``, several boxes ``[[a,b,c,d;e,f,g,h]]``, points ``[[x,y]]``.

Coordinates are 3-digit zero-padded integers on a 000-999 grid, x first: ``q = floor(v / extent * 1000)``,
decoded as ``q / 1000 * extent`` (CogVLM's grounding demo).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from groundlm.formats.base import (
    INT,
    MALFORMED,
    Codec,
    Decoded,
    ParseResult,
    check_size,
    decode_grid,
    quantize,
    split_numbers,
)

BINS = 1000
_GROUP = re.compile(r"\[\[([^\[\]]{0,4000})\]\]")


def render_group(values: Sequence[float], extents: Sequence[float]) -> str:
    """``"xxx,yyy,..."``: each value quantised on the 000-999 grid."""
    return ",".join(f"{quantize(v, e, BINS):03d}" for v, e in zip(values, extents))


def parse_groups(text: str, width: float, height: float, into: Decoded) -> bool:
    """Decode every ``[[...]]`` group of ``text`` into ``into``; True if any group was found."""
    matched = False
    for m in _GROUP.finditer(text):
        matched = True
        for group in m.group(1).split(";"):
            nums = split_numbers(group, INT)
            if nums is None or len(nums) not in (2, 4):
                into.errors.append(MALFORMED)
                continue
            values, err = decode_grid(nums, (width, height, width, height)[: len(nums)], BINS, BINS)
            if values is None:
                into.errors.append(err)
            else:
                into.add(values)
    return matched


class CogVLMCodec(Codec):
    name = "cogvlm"
    supports_points = True
    description = "[[x0,y0,x1,y1]] on a 000-999 grid, ';' between boxes"
    answer_pattern = r"\[\[\d{3},\d{3},\d{3},\d{3}\]\]"

    def render_boxes(self, boxes, width, height, label=None):
        check_size(width, height)
        return "[[" + ";".join(render_group(b, (width, height, width, height)) for b in boxes) + "]]"

    def render_points(self, points, width, height):
        check_size(width, height)
        return "[[" + ";".join(render_group(p, (width, height)) for p in points) + "]]"

    def parse(self, text: str, width: float, height: float) -> ParseResult:
        check_size(width, height)
        decoded = Decoded()
        matched = parse_groups(text, width, height, decoded)
        return decoded.result(text, matched)
