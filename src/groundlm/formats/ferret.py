"""Ferret: ``[x1, y1, x2, y2]`` and points ``[x, y]``, integers on a 1000 x 1000 canvas, ", " separators.

``q = floor(v / extent * 1000)`` clamped to 999, decoded as ``q / 1000 * extent``. One bracket per box.
"""

from __future__ import annotations

import re

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
_GROUP = re.compile(r"\[([^\[\]]{0,200})\]")


class FerretCodec(Codec):
    name = "ferret"
    supports_points = True
    description = "[x1, y1, x2, y2] integers on a 1000x1000 canvas"
    answer_pattern = r"\[\d{1,3}, \d{1,3}, \d{1,3}, \d{1,3}\]"

    def _render(self, values, extents) -> str:
        return "[" + ", ".join(str(quantize(v, e, BINS)) for v, e in zip(values, extents)) + "]"

    def render_boxes(self, boxes, width, height, label=None):
        check_size(width, height)
        return " ".join((f"{label} " if label else "") + self._render(b, (width, height, width, height)) for b in boxes)

    def render_points(self, points, width, height):
        check_size(width, height)
        return " ".join(self._render(p, (width, height)) for p in points)

    def parse(self, text: str, width: float, height: float) -> ParseResult:
        check_size(width, height)
        decoded = Decoded()
        matched = False
        for m in _GROUP.finditer(text):
            nums = split_numbers(m.group(1), INT)
            if nums is None or len(nums) not in (2, 4):
                if re.search(r"\d", m.group(1)):
                    matched = True
                    decoded.errors.append(MALFORMED)
                continue
            matched = True
            values, err = decode_grid(nums, (width, height, width, height)[: len(nums)], BINS, BINS)
            if values is None:
                decoded.errors.append(err)
            else:
                decoded.add(values)
        return decoded.result(text, matched)
