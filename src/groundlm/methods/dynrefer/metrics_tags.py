"""Region recognition metrics: multi-label tag mAP and F1 (DynRefer's attribute and tag detection), and category
accuracy read from a generated caption.

* ``tag_map``: for each tag with at least one positive region, the average precision of the regions ranked by the
  tag's score (``sum over positives of precision at that positive's rank / positives``, no interpolation, as
  scikit-learn's ``average_precision_score``), averaged over those tags;
* ``tag_f1``: micro F1 of the tags whose score is at least ``threshold``;
* ``recognition_accuracy``: the share of regions whose caption names their category first among the known ones.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np


def ranked_average_precision(scores: np.ndarray, positive: np.ndarray) -> float:
    """AP of one label: ``scores`` ``[N]``, ``positive`` ``[N]`` bool; ties ranked by position (stable)."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    hits = np.asarray(positive, dtype=bool)[order]
    if not hits.any():
        raise ValueError("average precision needs at least one positive")
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision[hits].mean())


def tag_metrics(scores: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """``tag_map`` and ``tag_f1`` of ``scores`` (probabilities) ``[N, V]`` against 0/1 ``labels`` ``[N, V]``, and
    ``tags_scored``, the number of tags with a positive."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels) > 0.5
    if scores.shape != labels.shape or scores.ndim != 2:
        raise ValueError(f"scores {scores.shape} and labels {labels.shape} must both be [N, V]")
    present = [v for v in range(labels.shape[1]) if labels[:, v].any()]
    aps = [ranked_average_precision(scores[:, v], labels[:, v]) for v in present]
    predicted = scores >= threshold
    tp = float((predicted & labels).sum())
    f1 = 2 * tp / max(float(predicted.sum() + labels.sum()), 1.0)
    return {"tag_map": float(np.mean(aps)) if aps else 0.0, "tag_f1": f1, "tags_scored": len(present)}


def named_category(text: str, categories: Sequence[str]) -> str | None:
    """The first of ``categories`` that ``text`` names as a whole word (case-insensitive), or None."""
    found = [(m.start(), c) for c in categories if (m := re.search(rf"\b{re.escape(c)}\b", text, re.IGNORECASE))]
    return min(found)[1] if found else None


def recognition_accuracy(captions: Sequence[str], truth: Sequence[str], categories: Sequence[str]) -> float:
    """Share of ``captions`` whose first named category (:func:`named_category`) is the region's ``truth``."""
    if len(captions) != len(truth):
        raise ValueError(f"{len(captions)} captions for {len(truth)} regions")
    if not captions:
        return 0.0
    return float(np.mean([named_category(c, categories) == t for c, t in zip(captions, truth)]))
