"""Region encoders: turn pixel boxes into tokens for ``<region>`` placeholders, and the registry that builds them.

Every encoder has ``tokens_per_region`` and ``needs_patches``, and is called as
``encoder(patch_features, boxes, image_size, pixels, vision=..., views=...)``: ``patch_features`` ``[B, N, D]`` (the
tower's ``g x g`` grid of the whole input, row-major; None for an encoder whose ``needs_patches`` is False),
``boxes`` a list of B ``[R_b, 4]`` pixel ``xyxy`` boxes on the model's ``image_size`` input, ``pixels`` the
normalised images ``[B, 3, S, S]`` at any square size ``S`` (for encoders that look again at the picture, as
DynRefer's does), ``vision`` the tower (``[M, 3, image_size, image_size] -> [M, g*g, D]``) and ``views`` a multi-view
encoder's coefficients ``[sum R_b, n]`` -> ``[sum R_b, tokens_per_region, width]``, regions in batch order. Encoders
ignore what they do not use.

A method's encoder may take more: the batch's ``region_inputs`` mapping, written by the batch hook registered for
the encoder's name (:data:`groundlm.inference.collate.REGION_INPUTS`), reaches it as keyword arguments, except three
keys the VLM reads itself: ``pixels`` (the picture the encoder looks at, instead of the model's input), ``targets``
(what its losses train on, given to ``encoder.losses``) and ``counts`` (``{loss name: 0-d tensor}``, the regions
each loss scores, which the training loop sums over the global batch to normalise it). An encoder with losses has
``loss_names`` and ``losses(tokens, targets, embed, normalizers) -> {name: loss}`` (DynRefer's decoders).

:class:`RoIRegionEncoder` (``roi``) is the simple one: RoI-Align of the patch grid over the box, then an MLP.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

import torch
from torch import nn

from groundlm.geometry.roi_align import roi_align
from groundlm.methods import load_parts
from groundlm.models.config import VLMConfig
from groundlm.registry import Registry


class RegionEncoder(Protocol):
    """What the VLM needs of a region encoder (an ``nn.Module``); shapes in the module docstring."""

    needs_patches: bool

    @property
    def tokens_per_region(self) -> int: ...

    def __call__(
        self,
        patch_features: torch.Tensor | None,
        boxes: list[torch.Tensor],
        image_size: int,
        pixels: torch.Tensor | None = None,
        *,
        vision: Callable[[torch.Tensor], torch.Tensor] | None = None,
        views: torch.Tensor | None = None,
    ) -> torch.Tensor: ...


# builder(config, vision_hidden, lm_width) -> encoder
RegionEncoderBuilder = Callable[[VLMConfig, int, int], nn.Module]
REGION_ENCODERS: Registry[RegionEncoderBuilder] = Registry("region encoder")
register_region_encoder = REGION_ENCODERS.register


def build_region_encoder(config: VLMConfig, vision_hidden: int, lm_width: int) -> nn.Module:
    """The region encoder ``config.region_encoder`` names (the methods' encoders register when first needed)."""
    load_parts("models")
    return REGION_ENCODERS.get_known(config.region_encoder)(config, vision_hidden, lm_width)


class RoIRegionEncoder(nn.Module):
    needs_patches = True

    def __init__(self, vision_hidden: int, lm_hidden: int, grid: int = 2) -> None:
        super().__init__()
        self.grid = grid
        self.proj = nn.Sequential(nn.Linear(vision_hidden, lm_hidden), nn.GELU(), nn.Linear(lm_hidden, lm_hidden))

    @property
    def tokens_per_region(self) -> int:
        return self.grid * self.grid

    def forward(
        self,
        patch_features: torch.Tensor,
        boxes: list[torch.Tensor],
        image_size: int,
        pixels: torch.Tensor | None = None,
        **_: object,
    ) -> torch.Tensor:
        """``patch_features`` ``[B, N, D]`` (N = g*g), ``boxes`` a list of B ``[R_b, 4]`` pixel ``xyxy`` boxes on the
        model's input image -> ``[sum R_b, grid**2, lm_hidden]`` tokens, regions in batch order (``pixels`` unused)."""
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


@register_region_encoder("roi")
def roi_region_encoder(config: VLMConfig, vision_hidden: int, lm_width: int) -> nn.Module:
    return RoIRegionEncoder(vision_hidden, lm_width, config.region_grid)
