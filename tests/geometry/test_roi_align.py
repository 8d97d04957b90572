"""roi_align against a scalar transcription of torchvision's CPU kernel (as torchvision's own tests do)."""

import math

import pytest
import torch

from groundlm.geometry import roi_align


def _bilinear(img, y, x):
    """torchvision's bilinear_interpolate for one channel map ``img`` [H, W]."""
    h, w = img.shape
    if y < -1.0 or y > h or x < -1.0 or x > w:
        return 0.0
    y, x = max(y, 0.0), max(x, 0.0)
    y_low, x_low = int(y), int(x)
    if y_low >= h - 1:
        y_high = y_low = h - 1
        y = float(y_low)
    else:
        y_high = y_low + 1
    if x_low >= w - 1:
        x_high = x_low = w - 1
        x = float(x_low)
    else:
        x_high = x_low + 1
    ly, lx = y - y_low, x - x_low
    hy, hx = 1.0 - ly, 1.0 - lx
    return (
        hy * hx * img[y_low, x_low]
        + hy * lx * img[y_low, x_high]
        + ly * hx * img[y_high, x_low]
        + ly * lx * img[y_high, x_high]
    )


def _reference(features, rois, ph, pw, scale, sampling_ratio, aligned):
    out = torch.zeros(rois.shape[0], features.shape[1], ph, pw, dtype=torch.float64)
    offset = 0.5 if aligned else 0.0
    for k, (b, x0, y0, x1, y1) in enumerate(rois.tolist()):
        sx, sy = x0 * scale - offset, y0 * scale - offset
        rw, rh = x1 * scale - offset - sx, y1 * scale - offset - sy
        if not aligned:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bh, bw = rh / ph, rw / pw
        gh = sampling_ratio if sampling_ratio > 0 else math.ceil(rh / ph)
        gw = sampling_ratio if sampling_ratio > 0 else math.ceil(rw / pw)
        count = max(gh * gw, 1)
        for c in range(features.shape[1]):
            img = features[int(b), c].double()
            for i in range(ph):
                for j in range(pw):
                    acc = 0.0
                    for iy in range(gh):
                        y = sy + i * bh + (iy + 0.5) * bh / gh
                        for ix in range(gw):
                            x = sx + j * bw + (ix + 0.5) * bw / gw
                            acc += float(_bilinear(img, y, x))
                    out[k, c, i, j] = acc / count
    return out


def _random_rois(n_images, k, size, seed):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(k, 2, generator=g) * size * 1.1 - size * 0.1  # some boxes poke outside the map
    wh = torch.rand(k, 2, generator=g) * size * 0.8
    b = torch.randint(0, n_images, (k, 1), generator=g).double()
    return torch.cat([b, xy, xy + wh], 1).double()


@pytest.mark.parametrize("aligned", [True, False])
@pytest.mark.parametrize("sampling_ratio", [2, 0, 3])
@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_matches_torchvision_kernel(aligned, sampling_ratio, scale):
    torch.manual_seed(0)
    feats = torch.randn(2, 3, 9, 11, dtype=torch.float64)
    rois = _random_rois(2, 6, 11 / scale, seed=int(scale * 10) + sampling_ratio)
    # Include a degenerate box and a box entirely outside the map.
    rois = torch.cat([rois, torch.tensor([[0, 4.0, 4.0, 4.0, 4.0], [1, 40.0, 40.0, 60.0, 60.0]]).double()])
    ours = roi_align(feats, rois, (3, 4), spatial_scale=scale, sampling_ratio=sampling_ratio, aligned=aligned)
    ref = _reference(feats, rois, 3, 4, scale, sampling_ratio, aligned)
    assert torch.allclose(ours, ref, atol=1e-10)


def test_list_of_boxes_equals_indexed_rois():
    torch.manual_seed(1)
    feats = torch.randn(2, 4, 8, 8)
    per_image = [torch.tensor([[0.0, 0.0, 5.0, 5.0], [2.0, 1.0, 7.0, 6.0]]), torch.tensor([[1.0, 1.0, 3.0, 7.0]])]
    rois = torch.tensor([[0, 0.0, 0.0, 5.0, 5.0], [0, 2.0, 1.0, 7.0, 6.0], [1, 1.0, 1.0, 3.0, 7.0]])
    assert torch.allclose(roi_align(feats, per_image, 2), roi_align(feats, rois, 2))


def test_constant_map_and_exact_pixel_box():
    feats = torch.arange(16.0).reshape(1, 1, 4, 4)
    # With aligned=True, the box covering pixel (row 1, col 2) exactly samples its centre.
    out = roi_align(feats, torch.tensor([[0, 2.0, 1.0, 3.0, 2.0]]), 1, aligned=True)
    assert out.item() == pytest.approx(6.0)
    const = torch.full((1, 2, 5, 5), 3.0)
    assert torch.allclose(roi_align(const, torch.tensor([[0, 0.5, 0.5, 4.0, 4.5]]), 3), torch.full((1, 2, 3, 3), 3.0))


def test_gradients_flow_to_features():
    feats = torch.randn(1, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    rois = torch.tensor([[0, 0.7, 1.2, 4.9, 5.3]], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda f: roi_align(f, rois, 2, sampling_ratio=2), (feats,))


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="features must be"):
        roi_align(torch.zeros(3, 4, 4), torch.zeros(1, 5), 2)
    with pytest.raises(ValueError, match="batch index"):
        roi_align(torch.zeros(1, 1, 4, 4), torch.tensor([[3.0, 0, 0, 1, 1]]), 2)
    assert roi_align(torch.zeros(1, 2, 4, 4), torch.zeros(0, 5), 2).shape == (0, 2, 2, 2)
