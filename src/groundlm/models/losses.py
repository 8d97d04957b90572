"""Losses the model computes from its own outputs: next-token cross-entropy, and the regression losses of heads.

Each returns a *sum* over the entries it scores, so that the caller chooses the normaliser: the training loop
divides by the count over the whole global batch, so that N processes and gradient accumulation give the update of
one large batch (docs/architecture.md, section 5.3).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

IGNORE = -100  # label of positions that predict nothing (prompt, padding, region placeholders)


def token_loss_sum(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Sum over labelled positions of ``-log p(labels[:, t+1] | logits[:, t])``; ``logits [B, T, V]``, ``labels
    [B, T]`` with ``-100`` where nothing is predicted. A sum, so that callers choose the normaliser (the loop
    divides by the target tokens of the whole global batch)."""
    shift_logits = logits[:, :-1].float()
    shift_labels = labels[:, 1:]
    return F.cross_entropy(
        shift_logits.reshape(-1, shift_logits.shape[-1]),
        shift_labels.reshape(-1),
        ignore_index=IGNORE,
        reduction="sum",
    )


def mean_token_log_prob(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``[B]``: each row's mean over its labelled positions of ``log p(labels[:, t+1] | logits[:, t])`` (0 for a
    row with none); the per-row counterpart of :func:`token_loss_sum`, with the opposite sign."""
    shift_logits, shift_labels = logits[:, :-1].float(), labels[:, 1:]
    nll = F.cross_entropy(shift_logits.transpose(1, 2), shift_labels, ignore_index=IGNORE, reduction="none")
    scored = shift_labels != IGNORE
    return -(nll * scored).sum(1) / scored.sum(1).clamp(min=1)


def target_tokens(labels: torch.Tensor) -> int:
    """How many positions :func:`token_loss_sum` scores in ``labels`` ``[B, T]``."""
    return int((labels[:, 1:] != IGNORE).sum())


REGRESSION_LOSSES = ("l1", "mse", "smooth_l1")


def regression_loss_sum(pred: torch.Tensor, target: torch.Tensor, kind: str = "l1") -> torch.Tensor:
    """Sum over the rows of ``target`` that hold a value (no NaN) of the per-row loss, itself summed over the
    ``D`` outputs: ``pred`` and ``target`` ``[..., D]``; ``kind`` in :data:`REGRESSION_LOSSES`."""
    if kind not in REGRESSION_LOSSES:
        raise ValueError(f"unknown regression loss {kind!r}; known: {', '.join(REGRESSION_LOSSES)}")
    rows = ~torch.isnan(target).any(-1)
    p, t = pred[rows].float(), target[rows].float()
    if kind == "l1":
        return (p - t).abs().sum()
    if kind == "mse":
        return (p - t).pow(2).sum()
    return F.smooth_l1_loss(p, t, reduction="sum")


def target_rows(target: torch.Tensor) -> int:
    """How many rows of ``target`` ``[..., D]`` :func:`regression_loss_sum` scores."""
    return int((~torch.isnan(target).any(-1)).sum())
