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


def box_regex(ref: tuple[str, str], box: tuple[str, str]) -> re.Pattern:
    """An optional ``ref[0] phrase ref[1]`` then ``box[0] (x1,y1),(x2,y2) box[1]``: groups phrase, x1, y1, x2, y2."""
    r0, r1, b0, b1 = (re.escape(t) for t in (*ref, *box))
    return re.compile(rf"(?:{r0}([^<]{{0,1000}}){r1}\s*)?{b0}\s*{_PAIR}\s*,\s*{_PAIR}\s*{b1}")


class QwenCodec(Codec):
    """Qwen-VL's syntax; subclasses change the tags and the scale (:mod:`groundlm.formats.qwen2vl`)."""

    name = "qwen"
    description = "<ref>phrase</ref><box>(x1,y1),(x2,y2)</box>, 0-999, parsed / 999"
    answer_pattern = r"<box>\(\d{1,3},\d{1,3}\),\(\d{1,3},\d{1,3}\)</box>"
    ref_tags = ("<ref>", "</ref>")
    box_tags = ("<box>", "</box>")
    largest = BINS - 1  # the largest integer a parse accepts
    default_divisor = 999.0

    def __init__(self, divisor: float | None = None) -> None:
        divisor = self.default_divisor if divisor is None else divisor
        if divisor <= 0:
            raise ValueError("divisor must be positive")
        self.divisor = divisor
        self._box = box_regex(self.ref_tags, self.box_tags)
        self._any_box = re.compile(re.escape(self.box_tags[0]))

    def render_boxes(self, boxes, width, height, label=None):
        check_size(width, height)
        ref = f"{self.ref_tags[0]}{label}{self.ref_tags[1]}" if label else ""
        parts = []
        for x0, y0, x1, y1 in boxes:
            q = [quantize(v, e, BINS) for v, e in zip((x0, y0, x1, y1), (width, height, width, height))]
            parts.append(f"{self.box_tags[0]}({q[0]},{q[1]}),({q[2]},{q[3]}){self.box_tags[1]}")
        return ref + "".join(parts)

    def parse(self, text: str, width: float, height: float) -> ParseResult:
        check_size(width, height)
        decoded = Decoded()
        label = None
        found = 0
        for m in self._box.finditer(text):
            found += 1
            label = m.group(1) if m.group(1) is not None else label
            extents = (width, height, width, height)
            values, err = decode_grid(m.groups()[1:], extents, self.largest + 1, self.divisor)
            if values is None:
                decoded.errors.append(err)
            else:
                decoded.add_box(tuple(values), label)
        tags = len(self._any_box.findall(text))
        if found < tags:
            decoded.errors.append(MALFORMED)  # a box tag whose content did not parse
        return decoded.result(text, matched=tags > 0)
