"""Dense captioning mAP, following the DenseCap protocol (Johnson et al. 2016, ``eval_utils.lua``).

Per image: ground-truth boxes that overlap with IoU >= 0.7 are merged (greedily, the box with most such
neighbours first; the merged box is the mean and keeps every member's captions as references). Predictions,
by descending score, each take their highest-IoU merged box if it is still unused. Over all images, sorted by
score, a prediction is a true positive at ``(t_iou, t_met)`` iff it took a box, its IoU >= t_iou and the METEOR of
its caption against that box's references > t_met. AP is the 101-point interpolated precision; ``map`` averages
AP over IoU {0.3, 0.4, 0.5, 0.6, 0.7} x METEOR {0, 0.05, 0.1, 0.15, 0.2, 0.25}. ``det_map`` ignores the captions
(the detection-only mAP over the same IoU thresholds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from groundlm.geometry.boxes import iou_matrix
from groundlm.metrics.captions import MeteorScorer

IOU_THRESHOLDS: tuple[float, ...] = (0.3, 0.4, 0.5, 0.6, 0.7)
METEOR_THRESHOLDS: tuple[float, ...] = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25)
MERGE_IOU = 0.7


@dataclass(frozen=True)
class DenseImage:
    """Ground truth of one image: pixel ``xyxy`` boxes ``[N, 4]`` and the reference captions of each box."""

    boxes: np.ndarray
    captions: Sequence[Sequence[str]]


@dataclass(frozen=True)
class DensePrediction:
    """Predictions for one image: boxes ``[M, 4]``, one caption and one confidence score per box."""

    boxes: np.ndarray
    captions: Sequence[str]
    scores: Sequence[float]


def merge_boxes(boxes: np.ndarray, threshold: float = MERGE_IOU) -> list[np.ndarray]:
    """Groups of indices of boxes overlapping with IoU >= ``threshold``, largest neighbourhood first."""
    n = len(boxes)
    if n == 0:
        return []
    close = iou_matrix(boxes, boxes) >= threshold
    np.fill_diagonal(close, True)  # a zero-area box still forms its own group
    alive = np.ones(n, dtype=bool)
    groups = []
    while alive.any():
        counts = (close & alive[None, :]).sum(1) * alive
        i = int(np.argmax(counts))
        members = np.flatnonzero(close[i] & alive)
        groups.append(members)
        alive[members] = False
    return groups


def average_precision(tp: np.ndarray, n_positives: int) -> float:
    """101-point interpolated AP from true-positive flags sorted by descending score."""
    if len(tp) == 0 or n_positives == 0:
        return 0.0
    ctp = np.cumsum(tp)
    recall = ctp / n_positives
    precision = ctp / np.arange(1, len(tp) + 1)
    return float(np.mean([precision[recall >= t].max(initial=0.0) for t in np.linspace(0, 1, 101)]))


def densecap_map(
    gts: Sequence[DenseImage], preds: Sequence[DensePrediction], meteor: MeteorScorer | None = None
) -> dict[str, object]:
    """``map``, ``det_map`` and every AP, for images paired by position."""
    if len(gts) != len(preds):
        raise ValueError(f"{len(preds)} prediction sets for {len(gts)} images")
    scores, ious, taken, hyps, refs = [], [], [], [], []
    n_positives = 0
    for gt, pred in zip(gts, preds):
        gt_boxes = np.asarray(gt.boxes, dtype=np.float64).reshape(-1, 4)
        groups = merge_boxes(gt_boxes)
        merged = np.array([gt_boxes[g].mean(0) for g in groups]).reshape(-1, 4)
        merged_refs = [[c for i in g for c in gt.captions[i]] for g in groups]
        n_positives += len(groups)
        p_boxes = np.asarray(pred.boxes, dtype=np.float64).reshape(-1, 4)
        overlaps = iou_matrix(p_boxes, merged) if len(merged) else np.zeros((len(p_boxes), 0))
        used = np.zeros(len(merged), dtype=bool)
        for d in np.argsort(-np.asarray(pred.scores, dtype=np.float64), kind="stable"):
            j = int(np.argmax(overlaps[d])) if overlaps.shape[1] else -1
            ov = float(overlaps[d, j]) if j >= 0 else 0.0
            matched = j >= 0 and ov > 0
            scores.append(float(pred.scores[d]))
            ious.append(ov)
            taken.append(matched and not used[j])
            hyps.append(pred.captions[d])
            refs.append(merged_refs[j] if matched else None)
            if matched:
                used[j] = True
    if n_positives == 0:
        raise ValueError("no ground-truth regions to evaluate")
    meteor_scores = _meteor_scores(hyps, refs, meteor)
    order = np.argsort(-np.asarray(scores), kind="stable")
    ious_s, taken_s, met_s = np.asarray(ious)[order], np.asarray(taken, bool)[order], meteor_scores[order]
    aps, det_aps = {}, {}
    for t_iou in IOU_THRESHOLDS:
        located = taken_s & (ious_s >= t_iou)
        det_aps[f"iou{t_iou}"] = average_precision(located, n_positives)
        for t_met in METEOR_THRESHOLDS:
            aps[f"iou{t_iou}_meteor{t_met}"] = average_precision(located & (met_s > t_met), n_positives)
    return {
        "map": float(np.mean(list(aps.values()))),
        "det_map": float(np.mean(list(det_aps.values()))),
        "ap": aps,
        "det_ap": det_aps,
        "n_images": len(gts),
        "n_gt": n_positives,
        "n_pred": len(scores),
    }


def _meteor_scores(hyps: list[str], refs: list[list[str] | None], meteor: MeteorScorer | None) -> np.ndarray:
    out = np.zeros(len(hyps))
    idx = [i for i, r in enumerate(refs) if r]
    if not idx:
        return out
    scorer = meteor or MeteorScorer()
    try:
        _, per_item = scorer.compute({i: refs[i] for i in idx}, {i: hyps[i] for i in idx})
    finally:
        if meteor is None:
            scorer.close()
    out[idx] = per_item
    return out
