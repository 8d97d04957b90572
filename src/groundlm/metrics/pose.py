"""Head-pose metrics.

Angles are degrees ``(yaw, pitch, roll)`` (convention of :mod:`groundlm.geometry.rotations`).

* The standard test filter drops samples whose ground truth has any ``|angle| > 99`` degrees (AFLW2000:
  2000 -> 1969); ``n`` counts all samples and ``n_used`` those kept.
* ``yaw``, ``pitch``, ``roll``: mean absolute error per angle (no wrap-around, as the field reports it);
  ``mae`` their mean; ``geodesic``: mean angle of ``R_pred R_gt^T`` in degrees.
* These errors average over kept samples with a valid prediction; ``invalid`` is the share of kept samples
  without one, so a model cannot improve its MAE by refusing to answer without it showing.
* ``box_acc50``: share of kept samples with a ground-truth head box whose predicted box has IoU >= 0.5
  (a missing box is a miss); None when no ground-truth boxes are given.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from groundlm.geometry.boxes import iou
from groundlm.geometry.rotations import euler_to_matrix, geodesic_distance

Pose = Sequence[float]
Box = Sequence[float]
POSE_FILTER_DEGREES = 99.0


def pose_metrics(
    preds: Sequence[Pose | None],
    gts: Sequence[Pose],
    pred_boxes: Sequence[Box | None] | None = None,
    gt_boxes: Sequence[Box | None] | None = None,
    max_abs: float | None = POSE_FILTER_DEGREES,
) -> dict[str, float | int | None]:
    """Metrics over paired predicted (or None) and ground-truth poses; ``max_abs=None`` disables the filter."""
    if len(preds) != len(gts):
        raise ValueError(f"{len(preds)} predictions for {len(gts)} ground-truth poses")
    n = len(gts)
    if n == 0:
        raise ValueError("no samples to evaluate")
    gt = np.asarray(gts, dtype=np.float64).reshape(n, 3)
    used = np.ones(n, bool) if max_abs is None else (np.abs(gt) <= max_abs).all(1)
    n_used = int(used.sum())
    valid = np.array([p is not None for p in preds]) & used
    out: dict[str, float | int | None] = {"n": n, "n_used": n_used}
    if valid.any():
        pred = np.array([preds[i] for i in np.flatnonzero(valid)], dtype=np.float64)
        err = np.abs(pred - gt[valid])
        out.update(yaw=float(err[:, 0].mean()), pitch=float(err[:, 1].mean()), roll=float(err[:, 2].mean()))
        out["mae"] = float(err.mean())
        rp = euler_to_matrix(*torch.from_numpy(pred).unbind(1))
        rg = euler_to_matrix(*torch.from_numpy(gt[valid]).unbind(1))
        out["geodesic"] = float(torch.rad2deg(geodesic_distance(rp, rg, eps=0.0)).mean())
    else:
        out.update(yaw=math.nan, pitch=math.nan, roll=math.nan, mae=math.nan, geodesic=math.nan)
    out["invalid"] = float(1.0 - valid.sum() / n_used) if n_used else math.nan
    out["box_acc50"] = _box_accuracy(pred_boxes, gt_boxes, used)
    return out


def _box_accuracy(pred_boxes, gt_boxes, used: np.ndarray) -> float | None:
    if gt_boxes is None:
        return None
    if pred_boxes is None:
        pred_boxes = [None] * len(gt_boxes)
    hits = [
        pb is not None and float(iou(np.asarray(pb, float), np.asarray(gb, float))) >= 0.5
        for pb, gb, u in zip(pred_boxes, gt_boxes, used)
        if u and gb is not None
    ]
    return float(np.mean(hits)) if hits else None
