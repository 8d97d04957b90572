"""Multi-view crops around a region, and their selection (DynRefer, Zhao et al. 2024).

A view interpolates between the region box ``b`` and the whole-image box ``B = [0, 0, W, H]``:
``b_t = (1 - t) * b + t * B`` for ``t`` in ``[0, 1]``; ``t = 0`` is the region alone, ``t = 1`` the full image.
At inference the ``n - 1`` context views are chosen greedily by ``score(t) = Hamming(pHash(v_0), pHash(v_t)) / t``:
views that differ most from the region, discounted for how much context they add. Training samples them at random.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from groundlm.geometry.phash import HashMethod, hamming, phash

CANDIDATE_TS: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(1, 11))


def view_boxes(box: Sequence[float], width: float, height: float, ts: Sequence[float]) -> np.ndarray:
    """Pixel ``xyxy`` view boxes ``[len(ts), 4]``: ``b_t = (1 - t) * box + t * [0, 0, W, H]``."""
    b = np.asarray(box, dtype=np.float64).reshape(4)
    t = np.asarray(ts, dtype=np.float64).reshape(-1, 1)
    if np.any((t < 0) | (t > 1)):
        raise ValueError(f"view interpolation coefficients must lie in [0, 1], got {list(ts)}")
    full = np.array([0.0, 0.0, width, height])
    return (1.0 - t) * b + t * full


@dataclass(frozen=True)
class ViewSelection:
    """Selected views: ``ts[0] == 0`` is the region itself; ``boxes`` are pixel ``xyxy`` ``[n, 4]``."""

    ts: tuple[float, ...]
    boxes: np.ndarray
    scores: dict[float, float]


def select_views(
    image: Image.Image | np.ndarray,
    box: Sequence[float],
    n: int = 3,
    ts: Sequence[float] = CANDIDATE_TS,
    method: HashMethod = "dynrefer",
) -> ViewSelection:
    """Keep the region view (``t = 0``) and pick the ``n - 1`` candidates with the highest ``Hamming / t``.

    Ties go to the smaller ``t`` (less context). ``ts`` must not contain 0 (the region view is always kept).
    """
    candidates = [float(t) for t in ts]
    if n < 1:
        raise ValueError("n must be at least 1")
    if any(t <= 0 for t in candidates):
        raise ValueError("candidate coefficients must be > 0; t = 0 is always kept")
    if n - 1 > len(candidates):
        raise ValueError(f"cannot select {n - 1} context views from {len(candidates)} candidates")
    pil = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
    width, height = pil.size
    boxes = view_boxes(box, width, height, [0.0, *candidates])
    region_hash = phash(pil, tuple(boxes[0]), method=method)
    scores = {t: hamming(region_hash, phash(pil, tuple(b), method=method)) / t for t, b in zip(candidates, boxes[1:])}
    order = sorted(range(len(candidates)), key=lambda i: (-scores[candidates[i]], candidates[i]))
    chosen = [candidates[i] for i in order[: n - 1]]
    picked = (0.0, *chosen)
    return ViewSelection(ts=picked, boxes=view_boxes(box, width, height, picked), scores=scores)


def random_views(n: int, rng: np.random.Generator, ts: Sequence[float] = CANDIDATE_TS) -> tuple[float, ...]:
    """Training-time views: ``t = 0`` plus ``n - 1`` distinct coefficients drawn uniformly from ``ts``."""
    if n - 1 > len(ts):
        raise ValueError(f"cannot draw {n - 1} views from {len(ts)} candidates")
    picked = rng.choice(np.asarray(ts, dtype=np.float64), size=n - 1, replace=False)
    return (0.0, *(float(t) for t in picked))
