"""Region encoders: turn pixel boxes into tokens for ``<region>`` placeholders.

:class:`RoIRegionEncoder` is the simple one: RoI-Align of the vision tower's patch grid over the box, then the
projector, giving ``grid**2`` tokens per region. PixelLLM and DynRefer plug in their own encoders with the same
call signature.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from groundlm.geometry.roi_align import roi_align


class RoIRegionEncoder(nn.Module):
    def __init__(self, vision_hidden: int, lm_hidden: int, grid: int = 2) -> None:
        super().__init__()
        self.grid = grid
        self.proj = nn.Sequential(nn.Linear(vision_hidden, lm_hidden), nn.GELU(), nn.Linear(lm_hidden, lm_hidden))

    @property
    def tokens_per_region(self) -> int:
        return self.grid * self.grid

    def forward(self, patch_features: torch.Tensor, boxes: list[torch.Tensor], image_size: int) -> torch.Tensor:
        """``patch_features`` ``[B, N, D]`` (N = g*g), ``boxes`` a list of B ``[R_b, 4]`` pixel ``xyxy`` boxes on the
        model's input image -> ``[sum R_b, grid**2, lm_hidden]`` tokens, regions in batch order."""
        b, n, d = patch_features.shape
        g = math.isqrt(n)
        fmap = patch_features.transpose(1, 2).reshape(b, d, g, g)
        pooled = roi_align(
            fmap,
            [bx.to(fmap.dtype) for bx in boxes],
            self.grid,
            spatial_scale=g / image_size,
            sampling_ratio=2,
            aligned=True,
        )
        return self.proj(pooled.flatten(2).transpose(1, 2))
