import pytest
import torch

from groundlm.models.depth_losses import fit_scale_shift, gradient_matching_loss, silog_loss, ssi_loss


def depths(seed=0, b=2, h=12, w=16):
    g = torch.Generator().manual_seed(seed)
    return 0.5 + 5 * torch.rand(b, h, w, generator=g), (torch.rand(b, h, w, generator=g) > 0.2).float()


def test_scale_and_shift_are_recovered_exactly():
    target, mask = depths()
    pred = (target - 0.3) / 2.5  # target = 2.5 * pred + 0.3
    pred = pred + (1 - mask) * 100  # invalid pixels are ignored
    s, t = fit_scale_shift(pred, target, mask)
    assert torch.allclose(s, torch.tensor([2.5, 2.5]), atol=1e-4)
    assert torch.allclose(t, torch.tensor([0.3, 0.3]), atol=1e-4)
    assert float(ssi_loss(pred, target, mask)) < 1e-5  # affine-related depths cost nothing (float32), gradients too


def test_ssi_loss_is_the_half_mean_squared_aligned_residual_plus_gradients():
    target, mask = depths(1, b=1)
    noise = torch.randn(target.shape, generator=torch.Generator().manual_seed(2))
    pred = target + 0.1 * noise
    s, t = fit_scale_shift(pred, target, mask)
    residual = (s * pred + t - target) * mask
    data = float(residual.pow(2).sum() / (2 * mask.sum()))
    assert float(ssi_loss(pred, target, mask, alpha=0)) == pytest.approx(data, rel=1e-5)
    assert float(ssi_loss(pred, target, mask, alpha=0.5)) == pytest.approx(
        data + 0.5 * float(gradient_matching_loss(residual, mask)), rel=1e-5
    )
    # Gradient matching at one scale, by hand: |dx| and |dy| over pairs of valid pixels, over valid pixels.
    r, m = residual[0], mask[0]
    gx = ((r[:, 1:] - r[:, :-1]).abs() * m[:, 1:] * m[:, :-1]).sum()
    gy = ((r[1:] - r[:-1]).abs() * m[1:] * m[:-1]).sum()
    one_scale = float(gradient_matching_loss(residual, mask, scales=1))
    assert one_scale == pytest.approx(float((gx + gy) / m.sum()), rel=1e-5)


def test_silog_ignores_a_global_scale_and_counts_only_valid_pixels():
    target, mask = depths(3)
    assert float(silog_loss(target.log() + 0.7, target.log(), mask, lam=1.0)) < 2e-3
    g = torch.randn(target.shape, generator=torch.Generator().manual_seed(4)) * 0.1
    valid = [g[i][mask[i] > 0] for i in range(2)]
    per_image = [10 * torch.sqrt((v**2).mean() - 0.85 * v.mean() ** 2) for v in valid]
    assert float(silog_loss(target.log() + g, target.log(), mask)) == pytest.approx(float(sum(per_image) / 2), rel=1e-4)
    empty = torch.zeros_like(mask)
    assert float(silog_loss(target.log() + g, target.log(), empty)) == 0.0
    assert float(ssi_loss(target + g, target, empty)) == 0.0
