"""RoI-Align (Mask R-CNN, He et al. 2017) written on ``torch.nn.functional.grid_sample``.

Same semantics and results as ``torchvision.ops.roi_align``, which has no CPU build here:

* a box ``(x0, y0, x1, y1)`` in input-image pixels is scaled by ``spatial_scale`` into feature-map pixels,
  and shifted by -0.5 when ``aligned`` (so that pixel centres sit at integer + 0.5, as in Detectron2);
  without ``aligned`` the box is at least 1x1 feature pixel;
* each of the ``output_size`` bins averages a regular ``g_h x g_w`` grid of bilinear samples, where
  ``g = sampling_ratio`` if positive, else ``ceil(box_size / output_size)`` per box (adaptive);
* a sample farther than one pixel outside the map counts as 0; one within that margin is clamped to the edge.

Everything is differentiable in ``features`` (gradients flow through ``grid_sample``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

_GATHER_ELEMENTS = 1 << 25  # feature elements gathered per grid_sample call (128 MB in float32)


def _to_rois(boxes: Tensor | list[Tensor], dtype: torch.dtype, device: torch.device) -> Tensor:
    """``Tensor[K, 5]`` (batch index, x0, y0, x1, y1) from either that or a list of per-image ``Tensor[L, 4]``."""
    if isinstance(boxes, (list, tuple)):
        parts = []
        for i, b in enumerate(boxes):
            b = torch.as_tensor(b, dtype=dtype, device=device).reshape(-1, 4)
            parts.append(torch.cat([torch.full_like(b[:, :1], i), b], dim=1))
        return torch.cat(parts) if parts else torch.zeros(0, 5, dtype=dtype, device=device)
    if boxes.ndim != 2 or boxes.shape[1] != 5:
        raise ValueError(f"boxes must be Tensor[K, 5] or a list of Tensor[L, 4], got shape {tuple(boxes.shape)}")
    return boxes.to(dtype=dtype, device=device)


def _sample_coords(start: Tensor, size: Tensor, bins: int, grid: int) -> Tensor:
    """Sample positions ``[K, bins * grid]`` along one axis: ``start + (bin + (i + 0.5) / grid) * size / bins``."""
    steps = torch.arange(bins * grid, dtype=start.dtype, device=start.device)
    offsets = (steps // grid) + ((steps % grid) + 0.5) / grid  # in units of bins
    return start[:, None] + offsets[None, :] * (size / bins)[:, None]


def _grid_axis(coord: Tensor, extent: int) -> tuple[Tensor, Tensor]:
    """Clamp sample coordinates as torchvision does; return (grid_sample coordinate, validity mask)."""
    valid = (coord >= -1.0) & (coord <= extent)
    clamped = coord.clamp(min=0.0, max=extent - 1)
    # grid_sample with align_corners=False maps g to pixel (g + 1) * extent / 2 - 0.5.
    return (2.0 * clamped + 1.0) / extent - 1.0, valid


def roi_align(
    features: Tensor,
    boxes: Tensor | list[Tensor],
    output_size: int | tuple[int, int],
    spatial_scale: float = 1.0,
    sampling_ratio: int = 2,
    aligned: bool = True,
) -> Tensor:
    """Pool a fixed-size feature patch for each box.

    Args:
        features: ``[N, C, H, W]`` feature maps.
        boxes: ``Tensor[K, 5]`` rows ``(batch_index, x0, y0, x1, y1)``, or a list of N ``Tensor[L_i, 4]``;
            coordinates in input-image pixels (``xyxy``).
        output_size: ``(PH, PW)`` or an int for both.
        spatial_scale: feature pixels per input pixel (e.g. 1/16 for a stride-16 patch grid).
        sampling_ratio: samples per bin along each axis; ``<= 0`` for the adaptive ``ceil(size / bins)``.
        aligned: shift boxes by -0.5 feature pixels (pixel-centre model). torchvision's default is False;
            ours is True because that is the correct geometry.

    Returns:
        ``[K, C, PH, PW]`` pooled features.
    """
    if features.ndim != 4:
        raise ValueError(f"features must be [N, C, H, W], got shape {tuple(features.shape)}")
    ph, pw = (output_size, output_size) if isinstance(output_size, int) else output_size
    n, c, h, w = features.shape
    rois = _to_rois(boxes, features.dtype, features.device)
    out = features.new_zeros(rois.shape[0], c, ph, pw)
    if rois.shape[0] == 0:
        return out

    offset = 0.5 if aligned else 0.0
    xy = rois[:, 1:] * spatial_scale - offset
    start_x, start_y = xy[:, 0], xy[:, 1]
    size_w, size_h = xy[:, 2] - xy[:, 0], xy[:, 3] - xy[:, 1]
    if not aligned:
        size_w, size_h = size_w.clamp(min=1.0), size_h.clamp(min=1.0)

    if sampling_ratio > 0:
        grid_h = torch.full((rois.shape[0],), sampling_ratio, dtype=torch.long, device=rois.device)
        grid_w = grid_h
    else:
        # An empty box gets a zero-sample grid and so a zero output, as in torchvision.
        grid_h = torch.ceil(size_h / ph).long()
        grid_w = torch.ceil(size_w / pw).long()

    batch_index = rois[:, 0].long()
    bad = (batch_index < 0) | (batch_index >= n)
    if bad.any():
        raise ValueError(f"box batch index {int(batch_index[bad][0])} is out of range for {n} feature maps")
    # One batched grid_sample per sampling-grid shape (the grid must be uniform within a call), each box reading its
    # own image's map; boxes go in chunks so that the gathered maps stay within _GATHER_ELEMENTS.
    keys = torch.stack([grid_h, grid_w], dim=1)
    chunk = max(1, _GATHER_ELEMENTS // max(c * h * w, 1))
    done, parts = [], []
    for gh, gw in torch.unique(keys, dim=0).tolist():
        if gh <= 0 or gw <= 0:
            continue
        group = torch.nonzero((keys == keys.new_tensor([gh, gw])).all(1)).squeeze(1)
        for idx in group.split(chunk):
            ys = _sample_coords(start_y[idx], size_h[idx], ph, gh)  # [k, ph*gh]
            xs = _sample_coords(start_x[idx], size_w[idx], pw, gw)  # [k, pw*gw]
            gy, vy = _grid_axis(ys, h)
            gx, vx = _grid_axis(xs, w)
            k = idx.numel()
            grid = torch.stack(torch.broadcast_tensors(gx[:, None, :], gy[:, :, None]), dim=-1)  # [k, ph*gh, pw*gw, 2]
            sampled = F.grid_sample(
                features[batch_index[idx]], grid, mode="bilinear", padding_mode="zeros", align_corners=False
            )  # [k, c, ph*gh, pw*gw]
            mask = (vy[:, :, None] & vx[:, None, :]).to(sampled.dtype)[:, None]
            parts.append((sampled * mask).reshape(k, c, ph, gh, pw, gw).mean(dim=(3, 5)))
            done.append(idx)
    if parts:
        out = out.index_copy(0, torch.cat(done), torch.cat(parts))
    return out
