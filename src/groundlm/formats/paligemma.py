"""PaliGemma: ``<locYYYY><locXXXX><locYYYY><locXXXX> label``, several detections joined by ``" ; "``.

Four 4-digit tokens on a 0-1023 grid in the order **y_min, x_min, y_max, x_max**:
``q = clamp(floor(v / extent * 1024), 0, 1023)``, decoded as ``q / 1024 * extent``.
"""

from __future__ import annotations

import re

from groundlm.formats.base import MALFORMED, Codec, Decoded, ParseResult, check_size, decode_grid, quantize

BINS = 1024
_DETECTION = re.compile(r"((?:<loc\d{1,6}>\s*){1,400})([^<;]{0,200})")
_LOC = re.compile(r"<loc(\d{1,6})>")


class PaliGemmaCodec(Codec):
    name = "paligemma"
    description = "<loc_ymin><loc_xmin><loc_ymax><loc_xmax> label on 0-1023 of 1024"
    answer_pattern = r"(<loc(0\d{3}|10[01]\d|102[0-3])>){4}"

    def render_boxes(self, boxes, width, height, label=None):
        check_size(width, height)
        parts = []
        for x0, y0, x1, y1 in boxes:
            values = zip((y0, x0, y1, x1), (height, width, height, width))
            locs = "".join(f"<loc{quantize(v, e, BINS):04d}>" for v, e in values)
            parts.append(locs + (f" {label}" if label else ""))
        return " ; ".join(parts)

    def parse(self, text: str, width: float, height: float) -> ParseResult:
        check_size(width, height)
        decoded = Decoded()
        matched = False
        for m in _DETECTION.finditer(text):
            matched = True
            nums = _LOC.findall(m.group(1))
            if len(nums) % 4:
                decoded.errors.append(MALFORMED)
                continue
            label = m.group(2).strip() or None
            for i in range(0, len(nums), 4):
                values, err = decode_grid(nums[i : i + 4], (height, width, height, width), BINS, BINS)
                if values is None:
                    decoded.errors.append(err)
                    continue
                y0, x0, y1, x1 = values
                decoded.add_box((x0, y0, x1, y1), label)
        return decoded.result(text, matched)
