"""Cross-modal reprogramming (Time-LLM, Jin et al. 2024; LLM-MDE, docs/architecture.md, section 6.2): patch features
re-expressed in a language model's own vocabulary space, so that a frozen LM can read them.

Text prototypes ``E' = W E`` (``W`` ``[V', V]``, a learned linear map over the vocabulary axis of the LM's frozen
word-embedding matrix ``E`` ``[V, D]``) are a small set of ``V'`` learned mixtures of word embeddings. Multi-head
cross-attention takes the patch features as queries and the prototypes as keys and values:
``softmax(Q K^T / sqrt(d_k)) V`` per head with ``Q = X W_q``, ``K = E' W_k``, ``V = E' W_v``, concatenated and
projected to the LM's width by ``W_o``.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class ReprogrammingLayer(nn.Module):
    """``patch_dim``: width of the patch features; ``vocab_size`` and ``lm_dim``: the shape ``[V, D]`` of the LM's
    embedding matrix; ``prototypes``: ``V'``; ``heads`` heads of width ``key_dim`` (default ``lm_dim // heads``)."""

    def __init__(
        self,
        patch_dim: int,
        vocab_size: int,
        lm_dim: int,
        prototypes: int = 1000,
        heads: int = 8,
        key_dim: int | None = None,
    ) -> None:
        super().__init__()
        key_dim = key_dim or max(1, lm_dim // heads)
        self.heads, self.key_dim = heads, key_dim
        self.mapping = nn.Linear(vocab_size, prototypes)  # over the vocabulary axis: E' = W E (+ b)
        self.query = nn.Linear(patch_dim, heads * key_dim)
        self.key = nn.Linear(lm_dim, heads * key_dim)
        self.value = nn.Linear(lm_dim, heads * key_dim)
        self.out = nn.Linear(heads * key_dim, lm_dim)

    def prototypes(self, embeddings: torch.Tensor) -> torch.Tensor:
        """``embeddings`` ``[V, D]`` (the LM's word embeddings; used, never trained here) -> ``E'`` ``[V', D]``."""
        return self.mapping(embeddings.detach().t()).t()

    def forward(self, patches: torch.Tensor, embeddings: torch.Tensor) -> torch.Tensor:
        """``patches`` ``[B, N, patch_dim]``, ``embeddings`` ``[V, D]`` -> ``[B, N, D]`` tokens for the LM."""
        b, n, _ = patches.shape
        source = self.prototypes(embeddings)  # [V', D]
        q = self.query(patches).view(b, n, self.heads, self.key_dim).transpose(1, 2)  # [B, H, N, k]
        k = self.key(source).view(-1, self.heads, self.key_dim).transpose(0, 1)  # [H, V', k]
        v = self.value(source).view(-1, self.heads, self.key_dim).transpose(0, 1)  # [H, V', k]
        weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.key_dim), dim=-1)  # [B, H, N, V']
        mixed = (weights @ v).transpose(1, 2).reshape(b, n, self.heads * self.key_dim)
        return self.out(mixed)


class LinearProjection(nn.Module):
    """The ablation of reprogramming (LLM-MDE's "w/o reprogramming"): each patch feature projected to the LM's width
    by one linear layer; the vocabulary is not used. Same call as :class:`ReprogrammingLayer`."""

    def __init__(self, patch_dim: int, lm_dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(patch_dim, lm_dim)

    def forward(self, patches: torch.Tensor, embeddings: torch.Tensor) -> torch.Tensor:
        """``patches`` ``[B, N, patch_dim]`` -> ``[B, N, lm_dim]``; ``embeddings`` is ignored."""
        return self.proj(patches)
