"""Monocular depth metrics (Eigen et al. 2014 and the usual NYU/KITTI protocol).

Depths are metres. Per image, over valid pixels (ground truth finite and inside ``(min_depth, max_depth)``,
optionally inside the Eigen crop), after optional alignment of the prediction and clipping it to the same range:

* ``abs_rel = mean(|p - g| / g)``, ``sq_rel = mean((p - g)^2 / g)``, ``rmse = sqrt(mean((p - g)^2))``,
* ``rmse_log = sqrt(mean((ln p - ln g)^2))``, ``log10 = mean(|log10 p - log10 g|)``,
* ``d_k = mean(max(p / g, g / p) < 1.25^k)`` for k = 1, 2, 3.

Dataset metrics are the mean of per-image values. Alignment for relative-depth models: ``none``, ``median``
(scale by ``median(g) / median(p)``), ``lstsq`` (least-squares scale and shift in depth), ``lstsq_disparity``
(least-squares scale and shift of ``1 / p`` against ``1 / g``, then inverted).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import numpy as np

DEPTH_KEYS: tuple[str, ...] = ("abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "d1", "d2", "d3")
Alignment = Literal["none", "median", "lstsq", "lstsq_disparity"]
ALIGNMENTS: tuple[str, ...] = ("none", "median", "lstsq", "lstsq_disparity")

# NYU Depth v2 (480 x 640): the Eigen crop keeps rows 45:471 and columns 41:601.
EIGEN_CROP = (45, 471, 41, 601)
EIGEN_SIZE = (480, 640)


def eigen_crop_mask(height: int, width: int) -> np.ndarray:
    """Boolean ``[H, W]`` mask of the Eigen crop, scaled proportionally for sizes other than 480 x 640."""
    top, bottom, left, right = EIGEN_CROP
    h0, w0 = EIGEN_SIZE
    mask = np.zeros((height, width), dtype=bool)
    rows = slice(round(top * height / h0), round(bottom * height / h0))
    cols = slice(round(left * width / w0), round(right * width / w0))
    mask[rows, cols] = True
    return mask


def _fit_scale_shift(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """``argmin_{s, t} sum (s x + t - y)^2``."""
    a = np.stack([x, np.ones_like(x)], 1)
    (s, t), *_ = np.linalg.lstsq(a, y, rcond=None)
    return float(s), float(t)


def align(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, method: Alignment, max_depth: float) -> np.ndarray:
    """The prediction aligned to the ground truth on ``mask`` (whole map returned)."""
    if method == "none":
        return pred
    p, g = pred[mask], gt[mask]
    if method == "median":
        return pred * (np.median(g) / np.median(p))
    if method == "lstsq":
        s, t = _fit_scale_shift(p, g)
        return s * pred + t
    if method == "lstsq_disparity":
        s, t = _fit_scale_shift(1.0 / np.maximum(p, 1e-8), 1.0 / g)
        disparity = s / np.maximum(pred, 1e-8) + t
        return 1.0 / np.maximum(disparity, 1.0 / max_depth)
    raise ValueError(f"unknown alignment {method!r}; expected one of {ALIGNMENTS}")


def image_depth_errors(
    pred: np.ndarray,
    gt: np.ndarray,
    min_depth: float = 1e-3,
    max_depth: float = 10.0,
    eigen_crop: bool = False,
    alignment: Alignment = "none",
) -> dict[str, float] | None:
    """Errors of one ``[H, W]`` prediction against ``[H, W]`` ground truth; None if no pixel is valid."""
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from ground truth shape {gt.shape}")
    mask = np.isfinite(gt) & (gt > min_depth) & (gt < max_depth) & np.isfinite(pred)
    if eigen_crop:
        mask &= eigen_crop_mask(*gt.shape)
    if not mask.any():
        return None
    p = np.clip(align(pred, gt, mask, alignment, max_depth)[mask], min_depth, max_depth)
    g = gt[mask]
    ratio = np.maximum(p / g, g / p)
    return {
        "abs_rel": float(np.mean(np.abs(p - g) / g)),
        "sq_rel": float(np.mean((p - g) ** 2 / g)),
        "rmse": float(np.sqrt(np.mean((p - g) ** 2))),
        "rmse_log": float(np.sqrt(np.mean((np.log(p) - np.log(g)) ** 2))),
        "log10": float(np.mean(np.abs(np.log10(p) - np.log10(g)))),
        "d1": float(np.mean(ratio < 1.25)),
        "d2": float(np.mean(ratio < 1.25**2)),
        "d3": float(np.mean(ratio < 1.25**3)),
    }


def depth_metrics(pairs: Iterable[tuple[np.ndarray, np.ndarray]], **options) -> dict[str, float]:
    """Mean of per-image errors over ``(pred, gt)`` pairs; ``n`` counts images with valid pixels.

    ``options`` are those of :func:`image_depth_errors`.
    """
    rows = [r for p, g in pairs if (r := image_depth_errors(p, g, **options)) is not None]
    if not rows:
        raise ValueError("no image has valid ground-truth depth within the range")
    return mean_errors(rows)


def mean_errors(rows: list[dict[str, float]]) -> dict[str, float]:
    """``n`` and the mean of each of :data:`DEPTH_KEYS` over per-image error rows (at least one)."""
    return {"n": len(rows), **{k: float(np.mean([r[k] for r in rows])) for k in DEPTH_KEYS}}
