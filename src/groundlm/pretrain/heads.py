"""Light per-cell heads on a vision tower's feature grid, and their named losses (thrown away after pretraining).

One 3x3 convolution and a 1x1 convolution map the tower's ``[B, D, g, g]`` features to every target of
:mod:`groundlm.pretrain.targets` at once, so that the tower, not the heads, has to carry depth, object classes,
boundaries, the colour and texture names of objects, head landmarks and head orientation.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from groundlm.geometry.rotations import geodesic_distance, sixd_to_matrix
from groundlm.models.depth_losses import silog_loss
from groundlm.pretrain.targets import CLASSES, COLORS, LANDMARKS, TEXTURES

LOSSES = ("depth", "category", "boundary", "landmarks", "color", "texture", "rotation")
# Output channels, in order: log depth, class logits, boundary logit, landmark logits, colour logits (the names and
# "none"), texture logits (likewise), 6D rotation.
_SPLITS = (1, len(CLASSES), 1, len(LANDMARKS), len(COLORS) + 1, len(TEXTURES) + 1, 6)
MIN_HEAD_COVER = 0.3  # cells at least this much covered by a head train the rotation


def soft_cross_entropy(logits: torch.Tensor, shares: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against soft labels, averaged over cells: ``-mean(sum_c p_c log softmax(z)_c)``; ``logits``
    and ``shares`` ``[B, C, g, g]``, each cell's shares summing to 1."""
    return -(shares * F.log_softmax(logits, 1)).sum(1).mean()


class DenseHeads(nn.Module):
    def __init__(self, in_channels: int, hidden: int = 128) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(in_channels, hidden, 3, padding=1), nn.GELU())
        self.out = nn.Conv2d(hidden, sum(_SPLITS), 1)

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        """``features`` ``[B, D, g, g]`` -> ``depth`` ``[B, g, g]`` (log metres), ``category`` ``[B, C, g, g]``,
        ``boundary`` ``[B, g, g]``, ``landmarks`` ``[B, 3, g, g]``, ``color`` ``[B, K + 1, g, g]``, ``texture``
        ``[B, T + 1, g, g]`` (logits) and ``rotation`` ``[B, g, g, 3, 3]``."""
        depth, category, boundary, landmarks, color, texture, sixd = self.out(self.body(features)).split(_SPLITS, 1)
        return {
            "depth": depth[:, 0],
            "category": category,
            "boundary": boundary[:, 0],
            "landmarks": landmarks,
            "color": color,
            "texture": texture,
            "rotation": sixd_to_matrix(sixd.permute(0, 2, 3, 1)),
        }


def dense_losses(out: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Named losses of :meth:`DenseHeads.forward`'s outputs against batched targets (the fields of
    :class:`~groundlm.pretrain.targets.DenseTargets` stacked, ``rotation`` as ``[B, 9, g, g]``):
    SILog on log depth, soft cross-entropy on classes, colour and texture names, binary cross-entropy on
    boundaries and landmark heatmaps, and the geodesic distance (radians, 6DRepNet's loss) on head cells weighted by
    head cover."""
    boundary = F.binary_cross_entropy_with_logits(out["boundary"], targets["boundary"])
    landmarks = F.binary_cross_entropy_with_logits(out["landmarks"], targets["landmarks"])
    cover = targets["head_cover"] * (targets["head_cover"] >= MIN_HEAD_COVER)
    rotation = out["rotation"].new_zeros(())
    if cover.sum() > 0:
        true_r = targets["rotation"].permute(0, 2, 3, 1).reshape(*cover.shape, 3, 3)
        angle = geodesic_distance(out["rotation"], true_r, eps=1e-6)
        rotation = (angle * cover).sum() / cover.sum()
    return {
        "depth": silog_loss(out["depth"], targets["log_depth"], targets["depth_valid"]),
        "category": soft_cross_entropy(out["category"], targets["category"]),
        "boundary": boundary,
        "landmarks": landmarks,
        "color": soft_cross_entropy(out["color"], targets["color"]),
        "texture": soft_cross_entropy(out["texture"], targets["texture"]),
        "rotation": rotation,
    }
