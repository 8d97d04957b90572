import numpy as np
import pytest
import torch

from groundlm.geometry import boxes as B


def test_convert_round_trips_and_known_values():
    xyxy = np.array([[10.0, 20.0, 50.0, 80.0]])
    assert np.allclose(B.convert(xyxy, "xyxy", "xywh"), [[10, 20, 40, 60]])
    assert np.allclose(B.convert(xyxy, "xyxy", "cxcywh"), [[30, 50, 40, 60]])
    for fmt in ("xywh", "cxcywh"):
        assert np.allclose(B.convert(B.convert(xyxy, "xyxy", fmt), fmt, "xyxy"), xyxy)
    with pytest.raises(ValueError, match="unknown box format"):
        B.convert(xyxy, "xyxy", "yxyx")


def test_normalize_denormalize():
    b = np.array([64.0, 32.0, 128.0, 96.0])
    n = B.normalize(b, 256, 128)
    assert np.allclose(n, [0.25, 0.25, 0.5, 0.75])
    assert np.allclose(B.denormalize(n, 256, 128), b)


def test_iou_known_values_and_matrix():
    a = np.array([0.0, 0.0, 10.0, 10.0])
    b = np.array([5.0, 5.0, 15.0, 15.0])
    assert B.iou(a, b) == pytest.approx(25 / 175)
    assert B.iou(a, a) == pytest.approx(1.0)
    assert B.iou(a, np.array([20.0, 20, 30, 30])) == 0.0
    # A degenerate pair has an empty union: IoU is defined as 0, not NaN.
    assert B.iou(np.zeros(4), np.zeros(4)) == 0.0
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 50, (5, 2))
    q = rng.uniform(0, 50, (7, 2))
    bp = np.concatenate([p, p + rng.uniform(1, 30, (5, 2))], 1)
    bq = np.concatenate([q, q + rng.uniform(1, 30, (7, 2))], 1)
    m = B.iou_matrix(bp, bq)
    assert m.shape == (5, 7)
    for i in range(5):
        for j in range(7):
            assert m[i, j] == pytest.approx(B.iou(bp[i], bq[j]))


def test_torch_and_numpy_agree():
    rng = np.random.default_rng(1)
    a = np.sort(rng.uniform(0, 100, (6, 2, 2)), axis=1).transpose(0, 2, 1).reshape(6, 4)[:, [0, 2, 1, 3]]
    b = a[::-1].copy()
    assert np.allclose(B.iou(torch.from_numpy(a), torch.from_numpy(b)).numpy(), B.iou(a, b))
    assert np.allclose(B.clip(torch.from_numpy(a) - 20, 50, 60).numpy(), B.clip(a - 20, 50, 60))
    assert np.allclose(B.enclosing_box(torch.from_numpy(a)).numpy(), B.enclosing_box(a))


def test_clip_area_enclosing_valid():
    b = np.array([[-5.0, 3.0, 120.0, 40.0], [10.0, 10.0, 5.0, 20.0]])
    assert np.allclose(B.clip(b, 100, 30)[0], [0, 3, 100, 30])
    assert np.allclose(B.area(b), [125 * 37, 0])
    assert np.allclose(B.enclosing_box(b), [-5, 3, 120, 40])
    assert B.is_valid(b).tolist() == [True, False]
    assert not B.is_valid(np.array([0.0, 0.0, np.nan, 1.0]))
    with pytest.raises(ValueError):
        B.enclosing_box(np.zeros((0, 4)))


def test_prompt_box_checks_what_a_user_gives():
    from groundlm.geometry.boxes import prompt_box

    assert prompt_box(["1", 2, 30.5, 40], 64, 48) == (1.0, 2.0, 30.5, 40.0)
    assert prompt_box((0, 0, 64, 48), 64, 48) == (0.0, 0.0, 64.0, 48.0)
    for bad, words in (
        ([0, 0, 65, 10], "not inside the 64x48 image"),
        ([-1, 0, 5, 5], "not inside"),
        ([10, 0, 5, 10], "x0 < x1"),
        ([0, 5, 10, 5], "y0 < y1"),
        ([0, 0, float("nan"), 1], "not finite"),
        ([0, 0, 10], "four numbers"),
        (["a", 0, 1, 1], "four numbers"),
        (None, "four numbers"),
    ):
        with pytest.raises(ValueError, match=words):
            prompt_box(bad, 64, 48)
