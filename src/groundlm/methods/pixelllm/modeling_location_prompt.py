"""PixelLLM's location prompt encoder (docs/architecture.md, section 6.3): a box (or a point) a user points at, turned
into ``K`` tokens for the LM, registered as the region encoder ``location_prompt`` (:mod:`groundlm.models.region`), so a
``<region>`` placeholder of any task takes them.

* **Fourier codes** of a point ``p`` in ``[0, 1]^2`` (random Fourier features, Tancik et al. 2020, as
  segment-anything's prompt encoder uses them): ``[sin(2π (2p - 1) B), cos(2π (2p - 1) B)]`` with a fixed Gaussian
  ``B`` ``[2, F/2]`` (scale ``sigma``), so nearby points get similar codes at every scale.
* **Type embeddings**: a box is its two corners, each code plus a learned embedding of its role (top-left,
  bottom-right); a point is its code plus a point embedding.
* **Prompt adapter**: ``K`` learned queries attend (one cross-attention layer, then an MLP, pre-LayerNorm, residual)
  to the prompt tokens together with the image's patch features, and become ``K`` tokens of the LM's width.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from groundlm.models.config import VLMConfig
from groundlm.models.query_attention import QueryAttention
from groundlm.models.region import register_region_encoder


class FourierCodes(nn.Module):
    """Points ``[..., 2]`` in ``[0, 1]`` (x, y) -> codes ``[..., features]``; ``features`` even. ``B`` is drawn once
    from ``N(0, sigma^2)`` with ``seed`` and stored as a buffer (saved with the model, never trained)."""

    def __init__(self, features: int = 64, sigma: float = 1.0, seed: int = 0) -> None:
        super().__init__()
        if features < 2 or features % 2:
            raise ValueError(f"Fourier codes need an even number of features >= 2, got {features}")
        gen = torch.Generator().manual_seed(seed)
        self.register_buffer("frequencies", sigma * torch.randn(2, features // 2, generator=gen))

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        angles = 2 * math.pi * ((2 * points - 1) @ self.frequencies.to(points.dtype))
        return torch.cat([angles.sin(), angles.cos()], dim=-1)


class LocationPromptEncoder(nn.Module):
    """Boxes -> ``tokens`` tokens each. Called as a region encoder: ``(patch_features [B, N, D_v], boxes: B x
    [R_b, 4] pixel xyxy on the model's input, image_size)`` -> ``[sum R_b, tokens, lm_width]``."""

    needs_patches = True

    def __init__(
        self, vision_hidden: int, lm_width: int, tokens: int = 4, width: int = 128, heads: int = 4, features: int = 64
    ) -> None:
        super().__init__()
        self.tokens = tokens
        self.codes = FourierCodes(features)
        self.code_proj = nn.Linear(features, width)
        self.types = nn.Embedding(3, width)  # 0: box top-left corner, 1: box bottom-right corner, 2: point
        self.image_proj = nn.Linear(vision_hidden, width)
        self.queries = nn.Parameter(0.02 * torch.randn(tokens, width))
        self.read = QueryAttention(width, heads)
        self.out = nn.Linear(width, lm_width)

    @property
    def tokens_per_region(self) -> int:
        return self.tokens

    def prompt_tokens(self, boxes: torch.Tensor, image_size: int) -> torch.Tensor:
        """``boxes`` ``[R, 4]`` pixel xyxy -> the two corner tokens ``[R, 2, width]`` (code + corner type); a box of
        zero size is a point and gets the point type on both tokens."""
        corners = (boxes / image_size).clamp(0, 1).view(-1, 2, 2)  # [R, 2 corners, (x, y)]
        is_point = (boxes[:, 2] <= boxes[:, 0]) & (boxes[:, 3] <= boxes[:, 1])
        kinds = torch.where(is_point[:, None], 2, torch.arange(2, device=boxes.device)[None])
        return self.code_proj(self.codes(corners)) + self.types(kinds)

    def forward(
        self,
        patch_features: torch.Tensor,
        boxes: list[torch.Tensor],
        image_size: int,
        pixels: torch.Tensor | None = None,
        **_: object,
    ) -> torch.Tensor:
        out = []
        for feats, bx in zip(patch_features, boxes):
            if len(bx) == 0:
                continue
            prompt = self.prompt_tokens(bx.to(feats.dtype), image_size)  # [R, 2, W]
            image = self.image_proj(feats)[None].expand(len(bx), -1, -1)  # [R, N, W]
            q = self.queries[None].expand(len(bx), -1, -1)
            out.append(self.out(self.read(q, torch.cat([prompt, image], 1))))
        if not out:
            return patch_features.new_zeros(0, self.tokens, self.out.out_features)
        return torch.cat(out)


@register_region_encoder("location_prompt")
def location_prompt_encoder(config: VLMConfig, vision_hidden: int, lm_width: int) -> nn.Module:
    return LocationPromptEncoder(vision_hidden, lm_width, tokens=config.region_grid**2)
