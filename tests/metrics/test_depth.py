import numpy as np
import pytest

from groundlm.metrics import depth_metrics, eigen_crop_mask, image_depth_errors


def _gt(seed=0, shape=(48, 64)):
    return np.random.default_rng(seed).uniform(0.5, 9.0, shape)


def test_perfect_and_scaled_predictions():
    gt = _gt()
    m = image_depth_errors(gt, gt)
    assert m["abs_rel"] == 0 and m["rmse"] == 0 and m["d1"] == 1.0
    m = image_depth_errors(1.1 * gt, gt, max_depth=100)
    assert m["abs_rel"] == pytest.approx(0.1)
    assert m["log10"] == pytest.approx(np.log10(1.1))
    assert m["rmse_log"] == pytest.approx(np.log(1.1))
    assert m["d1"] == 1.0
    m = image_depth_errors(1.3 * gt, gt, max_depth=100)
    assert m["d1"] == 0.0 and m["d2"] == 1.0


def test_formulas_against_direct_computation():
    gt = _gt(1)
    pred = gt * np.random.default_rng(2).uniform(0.7, 1.4, gt.shape)
    gt[0, :5] = 0.0  # invalid pixels are ignored
    m = image_depth_errors(pred, gt)
    v = gt > 1e-3
    p = np.clip(pred[v], 1e-3, 10)
    g = gt[v]
    assert m["sq_rel"] == pytest.approx(np.mean((p - g) ** 2 / g))
    assert m["rmse"] == pytest.approx(np.sqrt(np.mean((p - g) ** 2)))
    assert m["d1"] == pytest.approx(np.mean(np.maximum(p / g, g / p) < 1.25))


def test_alignments_recover_scale_and_shift():
    gt = _gt(3)
    assert image_depth_errors(gt / 3.0, gt, alignment="median")["abs_rel"] == pytest.approx(0, abs=1e-12)
    assert image_depth_errors(0.5 * gt - 0.2, gt, alignment="lstsq")["abs_rel"] == pytest.approx(0, abs=1e-9)
    disparity_pred = 1.0 / (2.0 / gt + 0.05)  # affine in disparity
    assert image_depth_errors(disparity_pred, gt, alignment="lstsq_disparity")["abs_rel"] == pytest.approx(0, abs=1e-9)
    with pytest.raises(ValueError, match="alignment"):
        image_depth_errors(gt, gt, alignment="affine")


def test_eigen_crop_and_aggregation():
    mask = eigen_crop_mask(480, 640)
    assert mask.sum() == (471 - 45) * (601 - 41) and mask[45, 41] and not mask[44, 41] and not mask[45, 601]
    gts = [_gt(4), _gt(5)]
    m = depth_metrics([(gts[0], gts[0]), (2 * gts[1], gts[1])], max_depth=100)
    assert m["n"] == 2 and m["abs_rel"] == pytest.approx(0.5)
    assert image_depth_errors(np.ones((4, 4)), np.zeros((4, 4))) is None
    with pytest.raises(ValueError, match="no image"):
        depth_metrics([(np.ones((4, 4)), np.zeros((4, 4)))])
    with pytest.raises(ValueError, match="shape"):
        image_depth_errors(np.ones((4, 4)), np.ones((4, 5)))
