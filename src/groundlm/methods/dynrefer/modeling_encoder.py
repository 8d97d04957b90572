"""DynRefer's multi-view region encoder (Zhao et al. 2024; docs/architecture.md, section 6.4), registered as the region
encoder ``dynrefer`` (:mod:`groundlm.models.region`).

For a region ``b`` on an image ``B = [0, 0, W, H]`` and ``n`` coefficients ``t_0 = 0 < t_1 ... `` (chosen outside:
random in training, pHash-selected or fixed at inference, see :class:`~groundlm.models.config.ViewsConfig`):

1. **views**: ``b_t = (1 - t) b + t B`` cropped from the image and resized to the tower's input size (RoI-Align of
   the pixels, :func:`view_crops`), so the region alone (``t = 0``) fills the tower's input at full detail and wider
   views trade detail for context;
2. **embedding**: each view -> the vision tower -> its patch grid -> RoI-Align of the region *in that view's
   coordinates* (``roi_grid x roi_grid``), plus the view's mean-pooled token;
3. **alignment**: for each ``t != 0`` a 3x3 convolution of ``concat(x_t, x_0)`` predicts a 2-D offset field that
   resamples ``x_t`` (``grid_sample``), correcting the small misplacements that cropping, resizing and pooling
   introduce (the deformable-convolution idea); initialised at zero, so it starts as the identity;
4. **fusion**: the views concatenated on channels, then an MLP, per position;
5. **queries**: ``queries`` learned queries read the fused tokens (``layers`` :class:`QueryAttention` blocks) and
   are projected to the language model's width: the region's tokens.

The decoders (tags, region-text contrast: :mod:`groundlm.methods.dynrefer.modeling_decoders`) read the same
tokens, as the language model does. A frozen tower runs without gradients (the caller passes it so).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from groundlm.geometry.roi_align import roi_align
from groundlm.methods.dynrefer.modeling_decoders import RegionDecoders
from groundlm.models.config import ViewsConfig, VLMConfig
from groundlm.models.query_attention import QueryAttention
from groundlm.models.region import register_region_encoder


def view_boxes_tensor(boxes: torch.Tensor, ts: torch.Tensor, width: float, height: float) -> torch.Tensor:
    """``b_t = (1 - t) b + t [0, 0, W, H]`` for each region and coefficient: ``boxes`` ``[R, 4]`` pixel ``xyxy``,
    ``ts`` ``[R, n]`` -> ``[R, n, 4]`` (the tensor form of :func:`groundlm.geometry.views.view_boxes`)."""
    full = boxes.new_tensor([0.0, 0.0, width, height])
    t = ts[..., None].to(boxes.dtype)
    return (1 - t) * boxes[:, None, :] + t * full


def view_crops(images: torch.Tensor, boxes: torch.Tensor, batch_index: torch.Tensor, size: int) -> torch.Tensor:
    """Each box of ``images`` ``[B, C, H, W]`` resampled to ``size x size``: ``boxes`` ``[M, 4]`` pixel ``xyxy``,
    ``batch_index`` ``[M]`` -> ``[M, C, size, size]``. A bilinear RoI-Align with ``ceil(box / size)`` samples per
    output pixel along each axis (averaging, so a view that shrinks is anti-aliased); a box of exactly ``size``
    pixels on the pixel grid is the crop itself."""
    rois = torch.cat([batch_index[:, None].to(boxes.dtype), boxes], 1)
    return roi_align(images, rois, size, spatial_scale=1.0, sampling_ratio=0, aligned=True)


def box_in_view(region: torch.Tensor, view: torch.Tensor, size: int) -> torch.Tensor:
    """The region's box in the coordinates of its view resized to ``size x size``: ``region`` ``[R, 4]``, ``view``
    ``[R, n, 4]`` pixel ``xyxy`` -> ``[R, n, 4]`` pixels of the resized view."""
    origin = view[..., :2].repeat(1, 1, 2)
    extent = (view[..., 2:] - view[..., :2]).clamp(min=1e-6).repeat(1, 1, 2)
    return (region[:, None, :] - origin) / extent * size


class ViewAlignment(nn.Module):
    """Resample a view's region features ``x_t`` ``[R, D, k, k]`` by offsets predicted from ``concat(x_t, x_0)``.

    Offsets are in grid_sample's normalised units (``[-1, 1]`` spans the map); the convolution starts at zero, so
    the resampling starts as the identity (sampling every cell at its own centre)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.offset = nn.Conv2d(2 * channels, 2, 3, padding=1)
        nn.init.zeros_(self.offset.weight)
        nn.init.zeros_(self.offset.bias)

    def forward(self, x_t: torch.Tensor, x_0: torch.Tensor) -> torch.Tensor:
        r, _, h, w = x_t.shape
        ys = torch.linspace(-1, 1, h, device=x_t.device, dtype=x_t.dtype)
        xs = torch.linspace(-1, 1, w, device=x_t.device, dtype=x_t.dtype)
        base = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), -1).expand(r, h, w, 2)
        offsets = self.offset(torch.cat([x_t, x_0], 1)).permute(0, 2, 3, 1)
        return F.grid_sample(x_t, base + offsets, mode="bilinear", padding_mode="border", align_corners=True)


class MultiViewRegionEncoder(nn.Module):
    """Boxes -> ``queries`` tokens each, from ``n`` views re-encoded by the tower. Called as a region encoder (shapes
    in :mod:`groundlm.models.region`) with ``vision`` (the tower: ``[M, 3, S, S] -> [M, g*g, D]``) and ``views``
    (``[sum R_b, n]`` coefficients, first column 0; None: ``0`` and ``cfg.fixed``); ``pixels`` is the image the
    views are cropped from, at any square size (boxes are scaled from ``image_size`` to it)."""

    needs_patches = False  # it re-encodes its own views, not the whole input

    def __init__(self, cfg: ViewsConfig, vision_hidden: int, lm_width: int) -> None:
        super().__init__()  # ViewsConfig checked its fields
        self.cfg = cfg
        k = cfg.roi_grid
        self.align = nn.ModuleList(ViewAlignment(vision_hidden) for _ in range(cfg.n - 1)) if cfg.align else None
        self.fuse = nn.Sequential(
            nn.Linear(cfg.n * vision_hidden, cfg.width), nn.GELU(), nn.Linear(cfg.width, cfg.width)
        )
        self.position = nn.Parameter(0.02 * torch.randn(k * k + 1, cfg.width))  # k*k RoI cells and the pooled token
        self.queries = nn.Parameter(0.02 * torch.randn(cfg.queries, cfg.width))
        self.read = nn.ModuleList(QueryAttention(cfg.width) for _ in range(cfg.layers))
        self.out = nn.Linear(cfg.width, lm_width)
        self.decoders = RegionDecoders(lm_width, cfg.tags, cfg.contrastive)

    @property
    def tokens_per_region(self) -> int:
        return self.cfg.queries

    @property
    def loss_names(self) -> list[str]:
        """The decoders' losses (``tag``, ``rtc``) this encoder has."""
        return self.decoders.loss_names

    def losses(
        self, tokens: torch.Tensor, targets: dict[str, torch.Tensor], embed: nn.Module, normalizers: dict[str, float]
    ) -> dict[str, torch.Tensor]:
        """The decoders' losses on the region tokens (:meth:`RegionDecoders.losses`)."""
        return self.decoders.losses(tokens, targets, embed, normalizers)

    def default_views(self, regions: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """``[regions, n]``: ``t = 0`` and the fixed coefficients."""
        return torch.tensor([0.0, *self.cfg.fixed_views()], device=device, dtype=dtype).expand(regions, -1)

    def view_features(
        self,
        vision: Callable[[torch.Tensor], torch.Tensor],
        pixels: torch.Tensor,
        boxes: torch.Tensor,
        batch_index: torch.Tensor,
        ts: torch.Tensor,
        tower_size: int,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per region and view, the region's RoI features ``[R, n, D, k, k]`` and the view's pooled token
        ``[R, n, D]``; ``boxes`` ``[R, 4]`` in pixels of ``pixels``; views go to the tower at ``tower_size``."""
        r, n = ts.shape
        views = view_boxes_tensor(boxes, ts, pixels.shape[-1], pixels.shape[-2])  # [R, n, 4]
        crops = view_crops(pixels, views.reshape(-1, 4), batch_index.repeat_interleave(n), tower_size)
        patches = vision(crops)  # [R*n, g*g, D]
        m, cells, d = patches.shape
        g = math.isqrt(cells)
        fmap = patches.transpose(1, 2).reshape(m, d, g, g)
        inside = box_in_view(boxes, views, tower_size).reshape(-1, 4)
        rois = torch.cat([torch.arange(m, device=fmap.device, dtype=fmap.dtype)[:, None], inside.to(fmap.dtype)], 1)
        k = self.cfg.roi_grid
        pooled = roi_align(fmap, rois, k, spatial_scale=g / tower_size, sampling_ratio=2, aligned=True)
        return pooled.reshape(r, n, d, k, k), patches.mean(1).reshape(r, n, d)

    def forward(
        self,
        patch_features: torch.Tensor,
        boxes: list[torch.Tensor],
        image_size: int,
        pixels: torch.Tensor | None = None,
        *,
        vision: Callable[[torch.Tensor], torch.Tensor] | None = None,
        views: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if pixels is None or vision is None:
            raise ValueError("the dynrefer region encoder needs the pixels and the vision tower")
        flat = torch.cat([b.to(pixels.dtype) for b in boxes]) * (pixels.shape[-1] / image_size)
        if len(flat) == 0:
            return pixels.new_zeros(0, self.cfg.queries, self.out.out_features)
        batch_index = torch.cat([torch.full((len(b),), i, device=pixels.device) for i, b in enumerate(boxes)])
        ts = self.default_views(len(flat), pixels.device, pixels.dtype) if views is None else views.to(pixels.dtype)
        if ts.shape != (len(flat), self.cfg.n):
            raise ValueError(f"views: expected [{len(flat)}, {self.cfg.n}] coefficients, got {tuple(ts.shape)}")
        x, pooled = self.view_features(vision, pixels, flat, batch_index, ts, image_size)  # the tower's input size
        if self.align is not None:
            aligned = [x[:, 0]] + [a(x[:, j], x[:, 0]) for j, a in enumerate(self.align, start=1)]
            x = torch.stack(aligned, 1)
        r, n, d, k, _ = x.shape
        cells = x.flatten(3).permute(0, 3, 1, 2)  # [R, k*k, n, D]
        tokens = torch.cat([cells, pooled[:, None]], 1).reshape(r, k * k + 1, n * d)
        fused = self.fuse(tokens) + self.position
        q = self.queries[None].expand(r, -1, -1)
        for block in self.read:
            q = block(q, fused)
        return self.out(q)


@register_region_encoder("dynrefer")
def dynrefer_region_encoder(config: VLMConfig, vision_hidden: int, lm_width: int) -> nn.Module:
    return MultiViewRegionEncoder(config.views, vision_hidden, lm_width)
