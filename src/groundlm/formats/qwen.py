"""Qwen-VL: ``<ref>phrase</ref><box>(x1,y1),(x2,y2)</box>``.

Integers on a 0-999 grid: rendered as ``floor(v / extent * 1000)`` (clamped to 999), parsed as
``q / divisor * extent`` with ``divisor = 999`` as Qwen-VL's official grounding evaluation does. The divisor is a
constructor argument so that either convention can be used explicitly.
"""

from __future__ import annotations

import re

from groundlm.formats.base import MALFORMED, Codec, Decoded, ParseResult, check_size, decode_grid, quantize

BINS = 1000
_PAIR = r"\(\s*(\d{1,6})\s*,\s*(\d{1,6})\s*\)"
_BOX = re.compile(rf"(?:<ref>([^<]{{0,1000}})</ref>\s*)?<box>\s*{_PAIR}\s*,\s*{_PAIR}\s*</box>")
_ANY_BOX_TAG = re.compile(r"<box>")


class QwenCodec(Codec):
    name = "qwen"
    description = "<ref>phrase</ref><box>(x1,y1),(x2,y2)</box>, 0-999, parsed / 999"
    answer_pattern = r"<box>\(\d{1,3},\d{1,3}\),\(\d{1,3},\d{1,3}\)</box>"

    def __init__(self, divisor: float = 999.0) -> None:
        if divisor <= 0:
            raise ValueError("divisor must be positive")
        self.divisor = divisor

    def render_boxes(self, boxes, width, height, label=None):
        check_size(width, height)
        ref = f"<ref>{label}</ref>" if label else ""
        parts = []
        for x0, y0, x1, y1 in boxes:
            q = [quantize(v, e, BINS) for v, e in zip((x0, y0, x1, y1), (width, height, width, height))]
            parts.append(f"<box>({q[0]},{q[1]}),({q[2]},{q[3]})</box>")
        return ref + "".join(parts)

    def parse(self, text: str, width: float, height: float) -> ParseResult:
        check_size(width, height)
        decoded = Decoded()
        label = None
        found = 0
        for m in _BOX.finditer(text):
            found += 1
            label = m.group(1) if m.group(1) is not None else label
            values, err = decode_grid(m.groups()[1:], (width, height, width, height), BINS, self.divisor)
            if values is None:
                decoded.errors.append(err)
            else:
                decoded.add_box(tuple(values), label)
        tags = len(_ANY_BOX_TAG.findall(text))
        if found < tags:
            decoded.errors.append(MALFORMED)  # a <box> tag whose content did not parse
        return decoded.result(text, matched=tags > 0)
