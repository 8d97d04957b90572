"""Florence-2: ``phrase<loc_x1><loc_y1><loc_x2><loc_y2>``, points ``<loc_x><loc_y>``.

Quantised on 1000 bins per axis: ``q = clamp(floor(v / (extent / 1000)), 0, 999)``, decoded at the bin centre
``(q + 0.5) * extent / 1000`` (as in Florence-2's post-processor).
"""

from __future__ import annotations

import re

from groundlm.formats.base import MALFORMED, Codec, Decoded, ParseResult, check_size, decode_grid, quantize

BINS = 1000
_RUN = re.compile(r"((?:<loc_\d{1,6}>\s*){1,400})")
_LOC = re.compile(r"<loc_(\d{1,6})>")
_LABEL = re.compile(r"([^<>]{0,200})$")


class Florence2Codec(Codec):
    name = "florence2"
    supports_points = True
    description = "<loc_x1><loc_y1><loc_x2><loc_y2>, floor(v/(W/1000)), decoded at bin centres"
    answer_pattern = r"(<loc_\d{1,3}>){4}"

    def _render(self, values, extents) -> str:
        return "".join(f"<loc_{quantize(v, e, BINS)}>" for v, e in zip(values, extents))

    def render_boxes(self, boxes, width, height, label=None):
        check_size(width, height)
        return "".join((label or "") + self._render(b, (width, height, width, height)) for b in boxes)

    def render_points(self, points, width, height):
        check_size(width, height)
        return "".join(self._render(p, (width, height)) for p in points)

    def parse(self, text: str, width: float, height: float) -> ParseResult:
        check_size(width, height)
        decoded = Decoded()
        matched = False
        last_end = 0
        for m in _RUN.finditer(text):
            matched = True
            label_match = _LABEL.search(text[last_end : m.start()])
            label = label_match.group(1).strip() or None if label_match else None
            last_end = m.end()
            nums = _LOC.findall(m.group(1))
            if len(nums) == 2:
                values, err = decode_grid(nums, (width, height), BINS, BINS, center=True)
                if values is None:
                    decoded.errors.append(err)
                else:
                    decoded.points.append(tuple(values))
                continue
            if len(nums) % 4:
                decoded.errors.append(MALFORMED)
                continue
            for i in range(0, len(nums), 4):
                values, err = decode_grid(nums[i : i + 4], (width, height, width, height), BINS, BINS, center=True)
                if values is None:
                    decoded.errors.append(err)
                else:
                    decoded.add_box(tuple(values), label)
        return decoded.result(text, matched)
