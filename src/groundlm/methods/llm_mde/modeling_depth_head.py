"""LLM-MDE's adaptation head (docs/architecture.md, section 6.2): the LM's output tokens over the image's patches back
into a dense depth map. A linear layer maps each token to ``channels``; the ``h x w`` tokens form a
``[B, channels, h, w]`` map; ``blocks`` upsampling blocks (x2 bilinear, 3x3 conv, batch norm, ELU, with a 1x1 residual
path) enlarge it by ``2^blocks``; a 3x3 conv and a sigmoid give a share of ``max_depth``, in metres."""

from __future__ import annotations

import itertools

import torch
from torch import nn
from torch.nn import functional as F


class UpBlock(nn.Module):
    """``[B, C_in, h, w]`` -> ``[B, C_out, 2h, 2w]``: ELU(BN(conv(ELU(BN(conv(up(x)))))) + conv1x1(up(x)))."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ELU(),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.skip = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        return F.elu(self.body(up) + self.skip(up))


class AdaptationHead(nn.Module):
    """``lm_dim``-wide tokens on a ``grid = (h, w)`` of patches -> depth ``[B, h * 2^blocks, w * 2^blocks]`` in
    metres, in ``(0, max_depth)``."""

    def __init__(
        self, lm_dim: int, grid: tuple[int, int], channels: int = 64, blocks: int = 3, max_depth: float = 10.0
    ) -> None:
        super().__init__()
        if max_depth <= 0 or blocks < 0:
            raise ValueError("an adaptation head needs max_depth > 0 and blocks >= 0")
        self.grid, self.max_depth = grid, max_depth
        self.project = nn.Linear(lm_dim, channels)
        widths = [max(channels // 2**k, 8) for k in range(blocks + 1)]  # halved per block, at least 8
        self.blocks = nn.Sequential(*(UpBlock(a, b) for a, b in itertools.pairwise(widths)))
        self.out = nn.Conv2d(widths[-1], 1, 3, padding=1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """``tokens`` ``[B, h * w, lm_dim]`` in row-major patch order -> depth ``[B, H', W']`` metres."""
        h, w = self.grid
        if tokens.shape[1] != h * w:
            raise ValueError(f"expected {h * w} patch tokens for a {h}x{w} grid, got {tokens.shape[1]}")
        x = self.project(tokens).transpose(1, 2).reshape(tokens.shape[0], -1, h, w)
        return torch.sigmoid(self.out(self.blocks(x)))[:, 0] * self.max_depth
