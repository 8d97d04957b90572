"""The training loss: next-token cross-entropy on labelled target tokens."""

from __future__ import annotations

import torch

from groundlm.train.collate import IGNORE


def token_loss_sum(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Sum over labelled positions of ``-log p(labels[:, t+1] | logits[:, t])``; ``logits [B, T, V]``, ``labels
    [B, T]`` with ``-100`` where nothing is predicted. A sum, so that callers choose the normaliser (the loop
    divides by the target tokens of the whole global batch)."""
    shift_logits = logits[:, :-1].float()
    shift_labels = labels[:, 1:]
    return torch.nn.functional.cross_entropy(
        shift_logits.reshape(-1, shift_logits.shape[-1]),
        shift_labels.reshape(-1),
        ignore_index=IGNORE,
        reduction="sum",
    )
