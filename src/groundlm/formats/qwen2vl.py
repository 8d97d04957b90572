"""Qwen2-VL and Qwen2.5-VL, whose grounding syntaxes differ from Qwen-VL's (:mod:`groundlm.formats.qwen`).

* ``qwen2vl``: ``<|object_ref_start|>phrase<|object_ref_end|><|box_start|>(x1,y1),(x2,y2)<|box_end|>``, integers
  normalised to 0-1000 of the image: rendered ``floor(v / extent * 1000)`` (clamped to 999), parsed
  ``q / 1000 * extent`` (the model card's "divide by 1000").
* ``qwen25vl``: JSON, ``[{"bbox_2d": [x1, y1, x2, y2], "label": "phrase"}]`` (often inside a ```` ```json ````
  fence), integers in **absolute pixels of the model's input image**: the image as Qwen2.5-VL's processor resizes
  it (:func:`smart_resize`: sides rounded to multiples of ``factor`` = patch 14 x merge 2, the area kept within
  ``[min_pixels, max_pixels]``). The defaults are those of the published processor configs.
"""

from __future__ import annotations

import math
import re

from groundlm.formats.base import MALFORMED, OUT_OF_RANGE, Codec, Decoded, ParseResult, check_size
from groundlm.formats.qwen import QwenCodec


class Qwen2VLCodec(QwenCodec):
    name = "qwen2vl"
    description = "<|object_ref_start|>phrase<|object_ref_end|><|box_start|>(x1,y1),(x2,y2)<|box_end|>, 0-1000"
    answer_pattern = r"<\|box_start\|>\((1000|\d{1,3}),(1000|\d{1,3})\),\((1000|\d{1,3}),(1000|\d{1,3})\)<\|box_end\|>"
    ref_tags = ("<|object_ref_start|>", "<|object_ref_end|>")
    box_tags = ("<|box_start|>", "<|box_end|>")
    largest = 1000  # the right (bottom) edge itself
    default_divisor = 1000.0


def smart_resize(
    width: float, height: float, factor: int = 28, min_pixels: int = 56 * 56, max_pixels: int = 12845056
) -> tuple[int, int]:
    """``(width, height)`` of the image Qwen2-VL / Qwen2.5-VL's processor feeds the model: each side rounded to a
    multiple of ``factor``, then scaled (keeping the aspect) so that the area lies in ``[min_pixels, max_pixels]``
    (the processor's rule, step for step)."""
    h = round(height / factor) * factor
    w = round(width / factor) * factor
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h = max(factor, math.floor(height / beta / factor) * factor)
        w = max(factor, math.floor(width / beta / factor) * factor)
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h = math.ceil(height * beta / factor) * factor
        w = math.ceil(width * beta / factor) * factor
    return int(w), int(h)


_INT = r"\s*(-?\d{1,6}(?:\.\d+)?)\s*"
_BBOX = re.compile(rf'"bbox_2d"\s*:\s*\[{_INT},{_INT},{_INT},{_INT}\](?:\s*,\s*"label"\s*:\s*"([^"]{{0,1000}})")?')
_LABEL_FIRST = re.compile(r'"label"\s*:\s*"([^"]{0,1000})"\s*,\s*"bbox_2d"')
_ANY_BBOX = re.compile(r'"bbox_2d"')


class Qwen25VLCodec(Codec):
    name = "qwen25vl"
    description = '[{"bbox_2d": [x1, y1, x2, y2], "label": ...}], absolute pixels of the resized model input'
    answer_pattern = r'\[\{"bbox_2d": \[\d{1,5}, \d{1,5}, \d{1,5}, \d{1,5}\]\}\]'

    def __init__(self, factor: int = 28, min_pixels: int = 56 * 56, max_pixels: int = 12845056) -> None:
        if factor <= 0 or min_pixels <= 0 or max_pixels < min_pixels:
            raise ValueError("factor and min_pixels must be positive, max_pixels >= min_pixels")
        self.factor, self.min_pixels, self.max_pixels = factor, min_pixels, max_pixels

    def input_size(self, width: float, height: float) -> tuple[int, int]:
        """The model input's ``(width, height)`` for an image of ``width x height`` pixels."""
        return smart_resize(width, height, self.factor, self.min_pixels, self.max_pixels)

    def render_boxes(self, boxes, width, height, label=None):
        check_size(width, height)
        iw, ih = self.input_size(width, height)
        items = []
        for x0, y0, x1, y1 in boxes:
            q = [round(v / e * s) for v, e, s in zip((x0, y0, x1, y1), (width, height) * 2, (iw, ih) * 2)]
            q = [min(max(v, 0), s) for v, s in zip(q, (iw, ih) * 2)]
            text = f'{{"bbox_2d": [{q[0]}, {q[1]}, {q[2]}, {q[3]}]'
            items.append(text + (f', "label": "{label}"}}' if label else "}"))
        return "[" + ", ".join(items) + "]"

    def parse(self, text: str, width: float, height: float) -> ParseResult:
        check_size(width, height)
        iw, ih = self.input_size(width, height)
        decoded = Decoded()
        found = 0
        for m in _BBOX.finditer(text):
            found += 1
            values = [float(v) for v in m.groups()[:4]]
            if any(v < 0 or v > s for v, s in zip(values, (iw, ih) * 2)):
                decoded.errors.append(OUT_OF_RANGE)
                continue
            before = _LABEL_FIRST.search(text[max(0, m.start() - 1100) : m.start() + 9])
            label = m.group(5) or (before.group(1) if before else None)
            box = tuple(v / s * e for v, s, e in zip(values, (iw, ih) * 2, (width, height) * 2))
            decoded.add_box(box, label)
        tags = len(_ANY_BBOX.findall(text))
        if found < tags:
            decoded.errors.append(MALFORMED)
        return decoded.result(text, matched=tags > 0)
