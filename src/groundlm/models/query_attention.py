"""Learned queries reading a set of tokens: one pre-LayerNorm cross-attention block with an MLP, both residual (the
reading step of BLIP-2's Q-Former and of segment-anything's prompt decoder, without self-attention)."""

from __future__ import annotations

import torch
from torch import nn


class QueryAttention(nn.Module):
    """``x = q + Attn(LN(q), LN(kv), LN(kv)); x = x + MLP(LN(x))``; ``q`` ``[B, Q, width]``, ``kv`` ``[B, N, width]``
    -> ``[B, Q, width]``."""

    def __init__(self, width: int, heads: int = 4, mlp_ratio: int = 4) -> None:
        super().__init__()
        self.norm_q, self.norm_kv, self.norm_mlp = nn.LayerNorm(width), nn.LayerNorm(width), nn.LayerNorm(width)
        self.attend = nn.MultiheadAttention(width, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(width, mlp_ratio * width), nn.GELU(), nn.Linear(mlp_ratio * width, width))

    def forward(self, queries: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        kv = self.norm_kv(context)
        x = queries + self.attend(self.norm_q(queries), kv, kv, need_weights=False)[0]
        return x + self.mlp(self.norm_mlp(x))
