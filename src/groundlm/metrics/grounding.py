"""Referring-expression grounding metrics.

* ``acc50``: share of samples whose top-1 box has IoU >= 0.5 with the ground truth (threshold and ``>=``/``>``
  are parameters; the key is ``acc{round(100 * threshold)}``).
* ``ciou``: cumulative IoU, ``sum(intersections) / sum(unions)`` over the split.
* ``miou``: mean per-sample IoU.
* ``invalid``: share of samples with no usable box (missing or unparsable prediction).

A missing prediction counts as IoU 0 and adds the ground-truth area to the union sum of ``ciou``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from groundlm.geometry.boxes import intersection_and_union

Box = Sequence[float]


def accuracy_key(threshold: float) -> str:
    return f"acc{round(100 * threshold)}"


def grounding_metrics(
    preds: Sequence[Box | None], gts: Sequence[Box], threshold: float = 0.5, inclusive: bool = True
) -> dict[str, float]:
    """Metrics over paired lists of predicted (or None) and ground-truth pixel ``xyxy`` boxes."""
    if len(preds) != len(gts):
        raise ValueError(f"{len(preds)} predictions for {len(gts)} ground-truth boxes")
    n = len(gts)
    if n == 0:
        raise ValueError("no samples to evaluate")
    gt = np.asarray(gts, dtype=np.float64).reshape(n, 4)
    valid = np.array([p is not None for p in preds])
    pred = np.array([p if p is not None else (0.0, 0.0, 0.0, 0.0) for p in preds], dtype=np.float64)
    inter, union = intersection_and_union(pred, gt)
    inter = np.where(valid, inter, 0.0)
    union = np.where(valid, union, np.maximum(gt[:, 2] - gt[:, 0], 0) * np.maximum(gt[:, 3] - gt[:, 1], 0))
    ious = np.divide(inter, union, out=np.zeros(n), where=union > 0)
    hits = ious >= threshold if inclusive else ious > threshold
    return {
        "n": n,
        accuracy_key(threshold): float(hits.mean()),
        "ciou": float(inter.sum() / union.sum()) if union.sum() > 0 else 0.0,
        "miou": float(ious.mean()),
        "invalid": float(1.0 - valid.mean()),
    }
