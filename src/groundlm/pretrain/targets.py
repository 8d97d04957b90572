"""Dense targets for tower pretraining, pooled from SpatialWorld's pixel labels onto the tower's patch grid.

A tower with output stride ``s`` on an ``S``-pixel input gives a ``g x g`` grid (``g = S / s``); every target below
is one value (or vector) per grid cell, computed from the ``S x S`` labels of the cell's ``s x s`` pixels:

* ``log_depth`` ``[g, g]``: mean natural log of the metric depth (metres) over the cell's pixels with a depth;
  ``depth_valid`` ``[g, g]``: at least half of them have one (sky has none);
* ``category`` ``[C, g, g]``: the share of the cell's pixels of each class in :data:`CLASSES` (soft labels);
* ``boundary`` ``[g, g]``: the share of the cell's pixels whose right or lower neighbour is another instance;
* ``landmarks`` ``[3, g, g]``: a Gaussian (sigma 0.75 cells) around each head landmark of :data:`LANDMARKS`
  (max over heads), the CenterNet-style heatmap;
* ``color`` ``[K + 1, g, g]``: the share of the cell's pixels on an object or a person's body of each colour name in
  :data:`COLORS` (a person's is the shirt's), the last channel the rest (soft labels);
* ``texture`` ``[T + 1, g, g]``: the same for the object texture names in :data:`TEXTURES` (objects only);
* ``rotation`` ``[9, g, g]``: the row-major head rotation ``R = Rz(roll) Ry(yaw) Rx(pitch)`` of the head that covers
  the cell (:mod:`groundlm.geometry.rotations`); ``head_cover`` ``[g, g]``: the share of the cell covered by it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch

from groundlm.data.sample import Head, Region, Sample
from groundlm.geometry.cells import cell_pixels, resized_labels
from groundlm.geometry.rotations import euler_to_matrix

CLASSES = ("background", "sphere", "cube", "cylinder", "cone", "person", "head")
LANDMARKS = ("nose_tip", "left_eye", "right_eye")
# SpatialWorld's colour and texture names (the words of its referring expressions; each domain renders a colour
# name with its own palette).
COLORS = ("red", "green", "blue", "yellow", "purple", "orange", "white", "black")
TEXTURES = ("solid", "striped", "checkered", "dotted")
# Mirroring the image swaps the person's left and right eye channels.
MIRRORED_LANDMARKS = (0, 2, 1)
# Mirroring in x maps R to F R F with F = diag(-1, 1, 1): the signs below, row-major (yaw and roll negate).
MIRROR_SIGNS = np.array([1, -1, -1, -1, 1, 1, -1, 1, 1], dtype=np.float32)
LANDMARK_SIGMA = 0.75  # cells


@dataclass
class DenseTargets:
    """Per-cell targets of one image (shapes in the module docstring), float32 arrays."""

    log_depth: np.ndarray
    depth_valid: np.ndarray
    category: np.ndarray
    boundary: np.ndarray
    landmarks: np.ndarray
    color: np.ndarray
    texture: np.ndarray
    rotation: np.ndarray
    head_cover: np.ndarray

    def as_dict(self) -> dict[str, np.ndarray]:
        return asdict(self)


def flip_targets(batch: dict[str, torch.Tensor], rows: torch.Tensor) -> dict[str, torch.Tensor]:
    """Batched targets (the :class:`DenseTargets` fields stacked, ``[B, ...]``) with the images in ``rows`` (a
    ``[B]`` bool mask) mirrored horizontally: maps flipped in x, the eye channels swapped, ``R -> F R F``."""
    out = {}
    for name, value in batch.items():
        flipped = value.flip(-1)
        if name == "landmarks":
            flipped = flipped[:, list(MIRRORED_LANDMARKS)]
        elif name == "rotation":
            flipped = flipped * torch.as_tensor(MIRROR_SIGNS, device=value.device)[None, :, None, None]
        shape = (-1,) + (1,) * (value.ndim - 1)
        out[name] = torch.where(rows.view(shape), flipped, value)
    return out


def _labels(sample: Sample, size: int) -> tuple[np.ndarray, np.ndarray]:
    depth, mask = sample.load_depth(), sample.load_mask()
    if depth is None or mask is None:
        raise ValueError(f"sample {sample.id!r} has no depth or instance mask to pretrain on")
    return resized_labels(depth.astype(np.float32), size), resized_labels(mask.astype(np.int32), size)


def _attribute_shares(
    sample: Sample,
    mask: np.ndarray,
    grid: int,
    names: tuple[str, ...],
    value_of: Callable[[Region], str | None],
    default: int,
) -> np.ndarray:
    """``[len(names), g, g]``: the share of each cell's pixels whose region's ``value_of(region)`` is each name;
    pixels of no region, or of a region whose value is not in ``names``, count for ``names[default]``."""
    label_of = np.full(int(mask.max()) + 1, default % len(names), dtype=np.int64)
    for r in sample.regions:
        value = value_of(r)
        if 0 < r.mask_id < len(label_of) and value in names:
            label_of[r.mask_id] = names.index(value)
    onehot = (label_of[mask][None] == np.arange(len(names))[:, None, None]).astype(np.float32)
    return cell_pixels(onehot, grid).mean(-1)


def head_covers(sample: Sample, mask: np.ndarray, grid: int) -> list[tuple[Head, np.ndarray]]:
    """Each head with a region and the ``[g, g]`` share of every cell that its pixels cover (``mask``: the
    ``S x S`` instance mask)."""
    return [
        (h, cell_pixels((mask == sample.regions[h.region].mask_id).astype(np.float32), grid).mean(-1))
        for h in sample.heads
        if h.region >= 0
    ]


def head_cover_maps(sample: Sample, size: int, grid: int) -> list[tuple[Head, np.ndarray]]:
    """:func:`head_covers` of ``sample`` at an ``size``-pixel input."""
    return head_covers(sample, _labels(sample, size)[1], grid)


def dense_targets(sample: Sample, size: int, grid: int) -> DenseTargets:
    """The targets of ``sample`` for an ``size``-pixel square input and a ``grid x grid`` feature map. Needs the
    sample's depth and instance mask (SpatialWorld has both)."""
    depth, mask = _labels(sample, size)

    valid = depth > 0
    cell_valid = cell_pixels(valid.astype(np.float32), grid)
    log_sum = cell_pixels(np.where(valid, np.log(np.maximum(depth, 1e-3)), 0.0), grid).sum(-1)
    count = cell_valid.sum(-1)
    log_depth = np.where(count > 0, log_sum / np.maximum(count, 1), 0.0)
    depth_valid = (cell_valid.mean(-1) >= 0.5).astype(np.float32)

    category = _attribute_shares(sample, mask, grid, CLASSES, lambda r: r.category, 0)
    color = _attribute_shares(sample, mask, grid, (*COLORS, "none"), lambda r: r.attributes.get("color"), -1)
    texture = _attribute_shares(sample, mask, grid, (*TEXTURES, "none"), lambda r: r.attributes.get("texture"), -1)

    edge = np.zeros(mask.shape, dtype=np.float32)
    edge[:, :-1] = np.maximum(edge[:, :-1], mask[:, :-1] != mask[:, 1:])
    edge[:-1, :] = np.maximum(edge[:-1, :], mask[:-1, :] != mask[1:, :])
    boundary = cell_pixels(edge, grid).mean(-1)

    scale = grid / np.array([sample.width, sample.height], dtype=np.float32)
    centres = np.arange(grid, dtype=np.float32) + 0.5
    landmarks = np.zeros((len(LANDMARKS), grid, grid), dtype=np.float32)
    rotation = np.zeros((9, grid, grid), dtype=np.float32)
    head_cover = np.zeros((grid, grid), dtype=np.float32)
    for head in sample.heads:
        for k, name in enumerate(LANDMARKS):
            if name in head.landmarks:
                x, y = np.asarray(head.landmarks[name], dtype=np.float32) * scale
                d2 = (centres[None, :] - x) ** 2 + (centres[:, None] - y) ** 2
                landmarks[k] = np.maximum(landmarks[k], np.exp(-d2 / (2 * LANDMARK_SIGMA**2)))
    for head, cover in head_covers(sample, mask, grid):
        mine = cover > head_cover
        R = euler_to_matrix(head.yaw, head.pitch, head.roll).reshape(9).numpy().astype(np.float32)
        rotation[:, mine] = R[:, None]
        head_cover = np.where(mine, cover, head_cover)
    return DenseTargets(
        log_depth.astype(np.float32),
        depth_valid,
        category,
        boundary,
        landmarks,
        color,
        texture,
        rotation,
        head_cover.astype(np.float32),
    )
