"""Kosmos-2: ``<phrase>a snowman</phrase><object><patch_index_0044><patch_index_0863></object>``.

The image is a 32 x 32 grid of patches numbered ``idx = row * 32 + col``. A normalised box ``(x1, y1, x2, y2)``
is written as its upper-left patch ``(floor(x1 * 32), floor(y1 * 32))`` and lower-right patch
``(ceil(x2 * 32 - 1), ceil(y2 * 32 - 1))``. Decoding (Kosmos-2's demo) takes patch centres, or patch edges when both
corners share a row or a column. Several boxes for one phrase are joined by ``</delimiter_of_multi_objects/>``.
"""

from __future__ import annotations

import math
import re

from groundlm.formats.base import MALFORMED, OUT_OF_RANGE, Codec, Decoded, ParseResult, check_size

GRID = 32
DELIMITER = "</delimiter_of_multi_objects/>"
_OBJECT = re.compile(r"(?:<phrase>([^<]{0,1000})</phrase>\s*)?<object>(.{0,4000}?)</object>", re.DOTALL)
_PATCH = re.compile(r"<patch_index_(\d{1,6})>")


def box_to_patch_indices(box: tuple[float, float, float, float], grid: int = GRID) -> tuple[int, int]:
    """Normalised ``xyxy`` -> (upper-left index, lower-right index), clamped to the grid."""
    x1, y1, x2, y2 = box

    def cell(v: float) -> int:
        return min(max(v, 0), grid - 1)

    ul = cell(math.floor(y1 * grid)) * grid + cell(math.floor(x1 * grid))
    lr = cell(math.ceil(y2 * grid - 1)) * grid + cell(math.ceil(x2 * grid - 1))
    return ul, lr


def patch_indices_to_box(ul: int, lr: int, grid: int = GRID) -> tuple[float, float, float, float]:
    """(upper-left, lower-right) patch indices -> normalised ``xyxy``."""
    ux, uy, lx, ly = ul % grid, ul // grid, lr % grid, lr // grid
    size = 1.0 / grid
    if ux == lx or uy == ly:  # one row or column of patches: use the patch edges
        return ux * size, uy * size, (lx + 1) * size, (ly + 1) * size
    return (ux + 0.5) * size, (uy + 0.5) * size, (lx + 0.5) * size, (ly + 0.5) * size


class Kosmos2Codec(Codec):
    name = "kosmos2"
    description = "<object><patch_index_UL><patch_index_LR></object> on a 32x32 grid"
    answer_pattern = (
        r"<object><patch_index_(0\d{3}|10[01]\d|102[0-3])><patch_index_(0\d{3}|10[01]\d|102[0-3])></object>"
    )

    def render_boxes(self, boxes, width, height, label=None):
        check_size(width, height)
        pairs = []
        for x0, y0, x1, y1 in boxes:
            ul, lr = box_to_patch_indices((x0 / width, y0 / height, x1 / width, y1 / height))
            pairs.append(f"<patch_index_{ul:04d}><patch_index_{lr:04d}>")
        phrase = f"<phrase>{label}</phrase>" if label else ""
        return f"{phrase}<object>{DELIMITER.join(pairs)}</object>"

    def parse(self, text: str, width: float, height: float) -> ParseResult:
        check_size(width, height)
        decoded = Decoded()
        matched = False
        for m in _OBJECT.finditer(text):
            matched = True
            for part in m.group(2).split(DELIMITER):
                nums = _PATCH.findall(part)
                if len(nums) != 2 or _PATCH.sub("", part).strip():
                    decoded.errors.append(MALFORMED)
                    continue
                ul, lr = int(nums[0]), int(nums[1])
                if ul >= GRID * GRID or lr >= GRID * GRID:
                    decoded.errors.append(OUT_OF_RANGE)
                    continue
                x0, y0, x1, y1 = patch_indices_to_box(ul, lr)
                decoded.add_box((x0 * width, y0 * height, x1 * width, y1 * height), m.group(1))
        return decoded.result(text, matched)
