"""PixelLLM's trace metrics (docs/architecture.md, section 6.3): how well per-word points follow a localized narrative's
mouse trace.

Points are ``(x, y)`` normalised to ``[0, 1]`` of the image. Over every word with a ground-truth point:

* ``point_l2``: the mean Euclidean distance between the predicted and the ground-truth point;
* ``in_box``: over words whose utterance names an object, the share whose predicted point lies inside that object's
  box (normalised ``xyxy``, edges included);
* ``words`` and ``box_words``: how many words each mean is over.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def trace_metrics(
    pred: Sequence[Sequence[float]],
    gt: Sequence[Sequence[float]],
    boxes: Sequence[Sequence[float] | None] | None = None,
) -> dict[str, float]:
    """``pred`` and ``gt`` ``[W, 2]`` (one row per word), ``boxes`` ``[W]`` of normalised boxes or None per word."""
    p, g = np.asarray(pred, dtype=np.float64).reshape(-1, 2), np.asarray(gt, dtype=np.float64).reshape(-1, 2)
    if p.shape != g.shape:
        raise ValueError(f"{len(p)} predicted points for {len(g)} ground-truth points")
    if len(p) == 0:
        raise ValueError("no word with a point to score")
    out = {"words": float(len(p)), "point_l2": float(np.linalg.norm(p - g, axis=1).mean())}
    named = [(pt, b) for pt, b in zip(p, boxes or [None] * len(p)) if b is not None]
    if named:
        inside = [b[0] <= x <= b[2] and b[1] <= y <= b[3] for (x, y), b in named]
        out.update(in_box=float(np.mean(inside)), box_words=float(len(named)))
    return out
