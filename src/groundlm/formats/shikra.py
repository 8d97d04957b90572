"""Shikra: ``[0.123,0.456,0.789,0.900]``, several boxes ``[a,b,c,d;e,f,g,h]``, points ``[x,y]``.

Normalised floats in ``[0, 1]`` written with 3 decimals, x first; decoded as ``v * extent``.
"""

from __future__ import annotations

import math
import re

from groundlm.formats.base import FLOAT, MALFORMED, OUT_OF_RANGE, Codec, Decoded, ParseResult, check_size, split_numbers

_GROUP = re.compile(r"\[([^\[\]]{0,4000})\]")


def _fmt(v: float, extent: float) -> str:
    return f"{min(max(v / extent, 0.0), 1.0):.3f}"


class ShikraCodec(Codec):
    name = "shikra"
    supports_points = True
    description = "[x0,y0,x1,y1] normalised floats with 3 decimals, ';' between boxes"
    answer_pattern = r"\[(0\.\d{3}|1\.000),(0\.\d{3}|1\.000),(0\.\d{3}|1\.000),(0\.\d{3}|1\.000)\]"

    def _render(self, items, extents) -> str:
        return "[" + ";".join(",".join(_fmt(v, e) for v, e in zip(it, extents)) for it in items) + "]"

    def render_boxes(self, boxes, width, height, label=None):
        check_size(width, height)
        return self._render(boxes, (width, height, width, height))

    def render_points(self, points, width, height):
        check_size(width, height)
        return self._render(points, (width, height))

    def parse(self, text: str, width: float, height: float) -> ParseResult:
        check_size(width, height)
        decoded = Decoded()
        matched = False
        for m in _GROUP.finditer(text):
            if not re.search(r"\d", m.group(1)):
                continue  # "[the cat]" is prose, not an attempt at a box
            matched = True
            for group in m.group(1).split(";"):
                nums = split_numbers(group, FLOAT)
                if nums is None or len(nums) not in (2, 4):
                    decoded.errors.append(MALFORMED)
                    continue
                values = [float(n) for n in nums]
                if not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in values):
                    decoded.errors.append(OUT_OF_RANGE)
                    continue
                decoded.add([v * e for v, e in zip(values, (width, height, width, height))])
        return decoded.result(text, matched)
