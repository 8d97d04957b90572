"""The learning-rate schedule shared by every training loop (VLM training and tower pretraining)."""

from __future__ import annotations

import math
from collections.abc import Callable


def cosine_schedule(warmup: float, max_steps: int) -> Callable[[int], float]:
    """The learning-rate factor per step: linear warm-up over ``warmup * max_steps`` steps, then cosine to 0."""
    warm = max(1, int(warmup * max_steps))

    def f(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        progress = (step - warm) / max(1, max_steps - warm)
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))

    return f
