"""PixelLLM's point head, registered as the head kind ``point`` (:mod:`groundlm.models.heads`)."""

from __future__ import annotations

import itertools

from torch import nn

from groundlm.models.config import HeadConfig
from groundlm.models.heads import register_head


class PointHead(nn.Module):
    """PixelLLM's point head: a pre-LayerNorm MLP (``layers`` linear layers, GELU between them) on each token's last
    hidden state, ending in a sigmoid, so the point (``out_dim`` 2: x, y) or box (4: x0, y0, x1, y1) is normalised
    to ``[0, 1]`` of the image."""

    def __init__(self, width: int, out_dim: int, hidden: int | None = None, layers: int = 4) -> None:
        super().__init__()
        hidden = hidden or width
        sizes = [width] + [hidden] * (layers - 1) + [out_dim]
        blocks: list[nn.Module] = [nn.LayerNorm(width)]
        for k, (a, b) in enumerate(itertools.pairwise(sizes)):
            blocks += [nn.Linear(a, b)] + ([nn.GELU()] if k < layers - 1 else [])
        self.mlp = nn.Sequential(*blocks)

    def forward(self, hidden):
        return self.mlp(hidden).sigmoid()


@register_head("point")
def point_head(config: HeadConfig, width: int) -> nn.Module:
    return PointHead(width, config.out_dim, config.hidden)
