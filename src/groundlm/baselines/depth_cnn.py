"""LLM-MDE's baselines (docs/architecture.md, section 6.2): a convolutional depth regressor and the mean-depth floor.

* :class:`DepthCNN`: transformers' GLPN (Kim et al. 2022: a hierarchical transformer encoder with overlapping
  convolutional patch embeddings and a light convolutional decoder) in a small configuration, trained from scratch
  on the same data, steps and batches as LLM-MDE (:func:`groundlm.methods.llm_mde.train_depth.fit_depth`).
* :class:`TowerDepth`: the vision tower's patch features straight into LLM-MDE's adaptation head, no language
  model: what the LM adds over the tower alone.
* :class:`MeanDepthMap`: the floor, the training set's mean depth map (per pixel, over valid pixels), the same map
  for every image; evaluated median-aligned per image, it is what knowing the scale alone scores.

Both are called as depth regressors: ``model(pixel_values [B, 3, S, S]) -> [B, h, w]`` metres.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from transformers import GLPNConfig, GLPNForDepthEstimation

from groundlm.data.sample import Sample
from groundlm.methods.llm_mde.modeling_depth_head import AdaptationHead
from groundlm.methods.llm_mde.task_depth import DepthBatcher
from groundlm.models.backbones import build_vision
from groundlm.models.config import VisionConfig


@dataclass
class DepthCNNConfig:
    """GLPN's four encoder stages (``widths``, ``depths``, attention ``heads``) and the decoder width."""

    widths: tuple[int, ...] = (16, 32, 64, 128)
    depths: tuple[int, ...] = (1, 1, 1, 1)
    heads: tuple[int, ...] = (1, 1, 2, 4)
    decoder: int = 32
    max_depth: int = 10  # metres (GLPN's config takes a whole number)


class DepthCNN(nn.Module):
    """GLPN from a config: ``[B, 3, S, S]`` -> ``[B, S, S]`` metres in ``(0, max_depth)``."""

    def __init__(self, config: DepthCNNConfig) -> None:
        super().__init__()
        conf = GLPNConfig(
            num_encoder_blocks=len(config.widths),
            hidden_sizes=list(config.widths),
            depths=list(config.depths),
            num_attention_heads=list(config.heads),
            sr_ratios=[8, 4, 2, 1][-len(config.widths) :],
            patch_sizes=[7] + [3] * (len(config.widths) - 1),
            strides=[4] + [2] * (len(config.widths) - 1),
            mlp_ratios=[2] * len(config.widths),
            decoder_hidden_size=config.decoder,
            max_depth=int(config.max_depth),
        )
        self.model = GLPNForDepthEstimation(conf)

    def forward(self, pixel_values: torch.Tensor, prompt_ids=None, prompt_mask=None) -> torch.Tensor:
        return self.model(pixel_values=pixel_values).predicted_depth


class TowerDepth(nn.Module):
    """The tower (``vision``, frozen with ``freeze_tower``) and an :class:`AdaptationHead` on its patch features:
    ``[B, 3, S, S]`` -> ``[B, g * 2^blocks, g * 2^blocks]`` metres."""

    def __init__(
        self,
        vision: VisionConfig,
        channels: int = 64,
        blocks: int = 3,
        max_depth: float = 10.0,
        freeze_tower: bool = True,
    ) -> None:
        super().__init__()
        self.vision = build_vision(vision)
        if freeze_tower:
            self.vision.requires_grad_(False)
        grid = self.vision.grid
        self.head = AdaptationHead(self.vision.hidden_size, (grid, grid), channels, blocks, max_depth)
        self.out_size = grid * 2**blocks

    def forward(self, pixel_values: torch.Tensor, prompt_ids=None, prompt_mask=None) -> torch.Tensor:
        return self.head(self.vision(pixel_values))


class MeanDepthMap(nn.Module):
    """The mean depth map ``[o, o]`` (metres) of the valid pixels of ``samples`` at the batcher's map size; pixels
    never valid get the mean of the others."""

    def __init__(self, batcher: DepthBatcher, samples: Sequence[Sample]) -> None:
        super().__init__()
        total = torch.zeros(batcher.out_size, batcher.out_size, dtype=torch.float64)
        count = torch.zeros_like(total)
        for s in samples:
            depth = torch.from_numpy(batcher.target(s)).double()
            valid = (depth > 0) & (depth <= batcher.max_depth)
            total += depth * valid
            count += valid
        mean = total / count.clamp_min(1)
        mean[count == 0] = float(total.sum() / count.sum().clamp_min(1))
        self.register_buffer("mean", mean.float())

    def forward(self, pixel_values: torch.Tensor, prompt_ids=None, prompt_mask=None) -> torch.Tensor:
        return self.mean.expand(pixel_values.shape[0], *self.mean.shape)
