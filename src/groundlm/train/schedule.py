"""The optimiser and learning-rate schedules shared by every trainer (the grounded VLM, LLM-MDE, tower pretraining
and the CNN baseline): AdamW on the trainable parameters, its learning rate scaled per step by a schedule."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch

Schedule = Callable[[int], float]  # optimisation step (0-based) -> factor of the base learning rate


def cosine_schedule(warmup: float, max_steps: int) -> Schedule:
    """The learning-rate factor per step: linear warm-up over ``warmup * max_steps`` steps, then cosine to 0."""
    warm = max(1, int(warmup * max_steps))

    def f(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        progress = (step - warm) / max(1, max_steps - warm)
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))

    return f


def cosine_decay(max_steps: int) -> Schedule:
    """The learning-rate factor per step without warm-up: ``(1 + cos(pi * step / max_steps)) / 2``, from 1 to 0."""
    return lambda step: 0.5 * (1 + math.cos(math.pi * min(step / max_steps, 1)))


def build_optimizer(
    params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float, schedule: Schedule
) -> tuple[torch.optim.AdamW, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW over ``params`` and the scheduler that scales its learning rate by ``schedule`` (stepped once per
    optimisation step)."""
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
