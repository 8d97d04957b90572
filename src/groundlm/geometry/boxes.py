"""Axis-aligned boxes.

The one internal convention is ``xyxy`` in pixels of the original image: ``(x0, y0, x1, y1)`` with
``x0 <= x1`` and ``y0 <= y1``, continuous coordinates where the image spans ``[0, W] x [0, H]`` (pixel ``i``
covers ``[i, i+1)``). Every function takes a numpy array or a torch tensor of shape ``[..., 4]`` (lists are
converted to float64 numpy) and returns the same kind, so metrics (numpy) and models (torch) share one code path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch

BoxFormat = Literal["xyxy", "xywh", "cxcywh"]
BOX_FORMATS: tuple[str, ...] = ("xyxy", "xywh", "cxcywh")

Array = Any  # np.ndarray | torch.Tensor


def _as_array(boxes: Array) -> Array:
    if isinstance(boxes, (np.ndarray, torch.Tensor)):
        return boxes
    return np.asarray(boxes, dtype=np.float64)


def _xp(x: Array) -> Any:
    """The array module of ``x``: ``torch`` or ``numpy`` (both spell ``stack``, ``maximum`` alike)."""
    return torch if isinstance(x, torch.Tensor) else np


def _check_last_dim(boxes: Array, n: int = 4) -> None:
    if boxes.shape[-1] != n:
        raise ValueError(f"expected boxes with last dimension {n}, got shape {tuple(boxes.shape)}")


def convert(boxes: Array, src: BoxFormat, dst: BoxFormat) -> Array:
    """Convert boxes between ``xyxy``, ``xywh`` (COCO: top-left corner + size) and ``cxcywh`` (centre + size).

    Units are unchanged (pixels stay pixels, normalised stays normalised).
    """
    boxes = _as_array(boxes)
    _check_last_dim(boxes)
    for fmt in (src, dst):
        if fmt not in BOX_FORMATS:
            raise ValueError(f"unknown box format {fmt!r}; expected one of {BOX_FORMATS}")
    if src == dst:
        return boxes
    a, b, c, d = (boxes[..., i] for i in range(4))
    if src == "xywh":
        x0, y0, x1, y1 = a, b, a + c, b + d
    elif src == "cxcywh":
        x0, y0, x1, y1 = a - c / 2, b - d / 2, a + c / 2, b + d / 2
    else:
        x0, y0, x1, y1 = a, b, c, d
    if dst == "xyxy":
        out = (x0, y0, x1, y1)
    elif dst == "xywh":
        out = (x0, y0, x1 - x0, y1 - y0)
    else:
        out = ((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0)
    return _xp(boxes).stack(out, -1)


def _image_scale(boxes: Array, width: float, height: float) -> Array:
    """``[W, H, W, H]`` in the array kind and dtype of ``boxes``."""
    if isinstance(boxes, torch.Tensor):
        return boxes.new_tensor([width, height, width, height])
    return np.array([width, height, width, height], dtype=np.float64)


def normalize(boxes: Array, width: float, height: float) -> Array:
    """Pixel ``xyxy`` -> ``xyxy`` in ``[0, 1]`` of the image size (``x / W``, ``y / H``)."""
    boxes = _as_array(boxes)
    _check_last_dim(boxes)
    scale = _image_scale(boxes, width, height)
    return boxes / scale


def denormalize(boxes: Array, width: float, height: float) -> Array:
    """Normalised ``xyxy`` in ``[0, 1]`` -> pixel ``xyxy`` (``x * W``, ``y * H``)."""
    boxes = _as_array(boxes)
    _check_last_dim(boxes)
    scale = _image_scale(boxes, width, height)
    return boxes * scale


def clip(boxes: Array, width: float, height: float) -> Array:
    """Clip pixel ``xyxy`` boxes to the image ``[0, W] x [0, H]``."""
    boxes = _as_array(boxes)
    _check_last_dim(boxes)
    xp = _xp(boxes)
    x0, y0, x1, y1 = (boxes[..., i] for i in range(4))
    lim = (width, height, width, height)
    out = [xp.minimum(xp.maximum(v, 0 * v), 0 * v + m) for v, m in zip((x0, y0, x1, y1), lim)]
    return xp.stack(out, -1)


def area(boxes: Array) -> Array:
    """Area of ``xyxy`` boxes, ``max(x1 - x0, 0) * max(y1 - y0, 0)`` (degenerate boxes have area 0)."""
    boxes = _as_array(boxes)
    _check_last_dim(boxes)
    xp = _xp(boxes)
    w = boxes[..., 2] - boxes[..., 0]
    h = boxes[..., 3] - boxes[..., 1]
    return xp.maximum(w, 0 * w) * xp.maximum(h, 0 * h)


def intersection_and_union(a: Array, b: Array) -> tuple[Array, Array]:
    """Elementwise intersection and union areas of ``xyxy`` boxes ``a`` and ``b`` (broadcast on ``[..., 4]``)."""
    a, b = _as_array(a), _as_array(b)
    _check_last_dim(a)
    _check_last_dim(b)
    xp = _xp(a)
    iw = xp.minimum(a[..., 2], b[..., 2]) - xp.maximum(a[..., 0], b[..., 0])
    ih = xp.minimum(a[..., 3], b[..., 3]) - xp.maximum(a[..., 1], b[..., 1])
    inter = xp.maximum(iw, 0 * iw) * xp.maximum(ih, 0 * ih)
    union = area(a) + area(b) - inter
    return inter, union


def iou(a: Array, b: Array) -> Array:
    """Elementwise IoU of ``xyxy`` boxes (``[..., 4]`` broadcast); 0 where the union is empty."""
    inter, union = intersection_and_union(a, b)
    xp = _xp(inter)
    safe = xp.where(union > 0, union, 1 + 0 * union)
    return xp.where(union > 0, inter / safe, 0 * inter)


def iou_matrix(a: Array, b: Array) -> Array:
    """IoU of every pair: ``a`` ``[N, 4]``, ``b`` ``[M, 4]`` -> ``[N, M]``."""
    a, b = _as_array(a), _as_array(b)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"iou_matrix expects [N, 4] and [M, 4], got {tuple(a.shape)} and {tuple(b.shape)}")
    return iou(a[:, None, :], b[None, :, :])


def enclosing_box(boxes: Array) -> Array:
    """The smallest ``xyxy`` box that contains every box of ``[N, 4]`` (N >= 1) -> ``[4]``."""
    boxes = _as_array(boxes)
    _check_last_dim(boxes)
    if boxes.ndim != 2 or boxes.shape[0] == 0:
        raise ValueError(f"enclosing_box expects a non-empty [N, 4] array, got shape {tuple(boxes.shape)}")
    xp = _xp(boxes)
    lo = boxes[:, :2].min(0)
    hi = boxes[:, 2:].max(0)
    if xp is torch:
        lo, hi = lo.values, hi.values
    return xp.concatenate([lo, hi]) if xp is np else torch.cat([lo, hi])


def is_valid(boxes: Array) -> Array:
    """True where a box is finite and has ``x1 > x0`` and ``y1 > y0``."""
    boxes = _as_array(boxes)
    _check_last_dim(boxes)
    xp = _xp(boxes)
    finite = xp.isfinite(boxes).all(-1)
    return finite & (boxes[..., 2] > boxes[..., 0]) & (boxes[..., 3] > boxes[..., 1])


def prompt_box(box: object, width: float, height: float) -> tuple[float, float, float, float]:
    """A box a user gives as a prompt, checked: four finite pixel numbers ``(x0, y0, x1, y1)`` inside the
    ``width`` x ``height`` image with ``x0 < x1`` and ``y0 < y1``; anything else is one ``ValueError`` that says
    which rule it breaks."""
    try:
        values = tuple(float(v) for v in box)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise ValueError(f"a box must be four numbers x0 y0 x1 y1 (pixels), got {box!r}") from None
    if len(values) != 4:
        raise ValueError(f"a box must be four numbers x0 y0 x1 y1 (pixels), got {len(values)}")
    if not all(np.isfinite(values)):
        raise ValueError(f"the box {list(values)} holds a number that is not finite")
    x0, y0, x1, y1 = values
    if not (x0 < x1 and y0 < y1):
        raise ValueError(f"the box {list(values)} needs x0 < x1 and y0 < y1 (pixels: x0 y0 x1 y1)")
    if not (x0 >= 0 and y0 >= 0 and x1 <= width and y1 <= height):
        raise ValueError(f"the box {list(values)} is not inside the {width:g}x{height:g} image (pixels)")
    return values  # type: ignore[return-value]


def as_box_list(boxes: Sequence[Sequence[float]]) -> list[tuple[float, float, float, float]]:
    """Plain Python tuples, for JSON output."""
    return [tuple(float(v) for v in b) for b in boxes]  # type: ignore[misc]
