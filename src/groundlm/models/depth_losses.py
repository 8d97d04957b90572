"""Depth losses: the scale-invariant log loss (SILog) and the scale-and-shift-invariant loss with multi-scale
gradient matching, as LLM-MDE trains with them (docs/architecture.md, section 6.2).

Shapes: depths ``[B, H, W]`` (metres, or log metres where named), masks ``[B, H, W]`` in {0, 1} (1 = the
ground truth is known). Each loss is computed per image and averaged over the images that have a valid pixel.
"""

from __future__ import annotations

import torch


def silog_loss(
    pred_log: torch.Tensor, target_log: torch.Tensor, valid: torch.Tensor, lam: float = 0.85
) -> torch.Tensor:
    """Scale-invariant log loss (Eigen et al. 2014, as LLM-MDE and AdaBins use it), per image then averaged:
    ``10 * sqrt(mean(g^2) - lam * mean(g)^2)`` with ``g = pred_log - target_log`` over valid entries.
    Inputs ``[B, ...]`` natural-log depths; ``valid`` ``[B, ...]`` in {0, 1}. Images with no valid entry add 0."""
    g = (pred_log - target_log) * valid
    n = valid.flatten(1).sum(1)
    has = n > 0
    n = n.clamp_min(1)
    mean_sq = g.pow(2).flatten(1).sum(1) / n
    mean = g.flatten(1).sum(1) / n
    per_image = 10.0 * torch.sqrt((mean_sq - lam * mean.pow(2)).clamp_min(1e-8))
    return (per_image * has).sum() / has.sum().clamp_min(1)


def fit_scale_shift(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image, the ``(s, t)`` ``[B]`` that minimise ``sum(mask * (s * pred + t - target)^2)`` (closed-form least
    squares; MiDaS, Ranftl et al. 2020). An image whose valid pixels are constant gets ``s = 0``."""
    m = mask.flatten(1)
    p, g = pred.flatten(1) * m, target.flatten(1) * m
    n = m.sum(1)
    a00, a01, a11 = (p * p).sum(1), p.sum(1), n
    b0, b1 = (p * g).sum(1), g.sum(1)
    det = a00 * a11 - a01 * a01
    ok = det.abs() > 1e-12
    det = torch.where(ok, det, torch.ones_like(det))
    s = torch.where(ok, (a11 * b0 - a01 * b1) / det, torch.zeros_like(det))
    t = torch.where(ok, (a00 * b1 - a01 * b0) / det, b1 / n.clamp_min(1))
    return s, t


def gradient_matching_loss(residual: torch.Tensor, mask: torch.Tensor, scales: int = 4) -> torch.Tensor:
    """Multi-scale gradient matching (MiDaS): at scales ``k = 0 .. scales - 1`` (every ``2^k``-th pixel), the sum of
    ``|d/dx R| + |d/dy R|`` over pixel pairs that are both valid, divided by the valid pixels, summed over scales,
    per image then averaged. ``residual`` ``[B, H, W]`` is the aligned prediction minus the target."""
    total = torch.zeros(residual.shape[0], device=residual.device, dtype=residual.dtype)
    for k in range(scales):
        step = 2**k
        r, m = residual[:, ::step, ::step], mask[:, ::step, ::step]
        if r.shape[-1] < 2 or r.shape[-2] < 2:
            break
        mx, my = m[:, :, 1:] * m[:, :, :-1], m[:, 1:, :] * m[:, :-1, :]
        gx = (r[:, :, 1:] - r[:, :, :-1]).abs() * mx
        gy = (r[:, 1:, :] - r[:, :-1, :]).abs() * my
        total = total + (gx.flatten(1).sum(1) + gy.flatten(1).sum(1)) / m.flatten(1).sum(1).clamp_min(1)
    has = mask.flatten(1).sum(1) > 0
    return (total * has).sum() / has.sum().clamp_min(1)


def ssi_loss(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, alpha: float = 0.5, scales: int = 4
) -> torch.Tensor:
    """Scale-and-shift-invariant loss (MiDaS): the prediction aligned to the target per image by least squares
    (:func:`fit_scale_shift`, not differentiated through), then ``sum(mask * (s p + t - g)^2) / (2 * n_valid)``, plus
    ``alpha`` times :func:`gradient_matching_loss` of the aligned residual; averaged over images with valid pixels."""
    with torch.no_grad():
        s, t = fit_scale_shift(pred, target, mask)
    residual = (s[:, None, None] * pred + t[:, None, None] - target) * mask
    n = mask.flatten(1).sum(1)
    has = n > 0
    data = residual.pow(2).flatten(1).sum(1) / (2 * n.clamp_min(1))
    loss = (data * has).sum() / has.sum().clamp_min(1)
    return loss + alpha * gradient_matching_loss(residual, mask, scales) if alpha else loss
