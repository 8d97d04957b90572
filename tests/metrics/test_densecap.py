import numpy as np
import pytest

from groundlm.metrics import DenseImage, DensePrediction, densecap_map
from groundlm.metrics.densecap import average_precision, merge_boxes

GT = DenseImage(
    boxes=np.array([[0, 0, 10, 10], [0, 0, 10, 9.5], [20, 20, 40, 40], [50, 0, 60, 30]], float),
    captions=[["a red ball"], ["the red sphere"], ["a blue cube on the floor"], ["a tall green cylinder"]],
)


def test_merge_groups_overlapping_ground_truth():
    groups = merge_boxes(GT.boxes)
    assert sorted(map(sorted, (g.tolist() for g in groups))) == [[0, 1], [2], [3]]
    assert merge_boxes(np.zeros((0, 4))) == []


def test_average_precision_101_points():
    ap = average_precision(np.array([1, 0, 1], bool), 2)
    assert ap == pytest.approx((51 * 1.0 + 50 * (2 / 3)) / 101)
    assert average_precision(np.array([], bool), 3) == 0.0


def test_perfect_predictions_score_one(meteor):
    pred = DensePrediction(
        boxes=np.array([[0, 0, 10, 9.75], [20, 20, 40, 40], [50, 0, 60, 30]], float),
        captions=["a red ball", "a blue cube on the floor", "a tall green cylinder"],
        scores=[0.9, 0.8, 0.7],
    )
    m = densecap_map([GT], [pred], meteor=meteor)
    assert m["n_gt"] == 3 and m["map"] == pytest.approx(1.0) and m["det_map"] == pytest.approx(1.0)


def test_wrong_captions_keep_detection_but_lose_map(meteor):
    pred = DensePrediction(
        boxes=np.array([[0, 0, 10, 9.75], [20, 20, 40, 40], [50, 0, 60, 30]], float),
        captions=["zebra xylophone", "quantum soup", "violin"],
        scores=[0.9, 0.8, 0.7],
    )
    m = densecap_map([GT], [pred], meteor=meteor)
    assert m["det_map"] == pytest.approx(1.0) and m["map"] == pytest.approx(0.0)


def test_duplicates_and_misses_are_false_positives(meteor):
    # The second prediction duplicates the first box (already used); the third hits nothing.
    pred = DensePrediction(
        boxes=np.array([[20, 20, 40, 40], [20, 20, 40, 40], [100, 100, 120, 120]], float),
        captions=["a blue cube on the floor"] * 3,
        scores=[0.9, 0.8, 0.7],
    )
    m = densecap_map([GT], [pred], meteor=meteor)
    # One true positive out of three positives, ranked first: precision 1 up to recall 1/3.
    assert m["det_map"] == pytest.approx(34 / 101)
    assert m["map"] == pytest.approx(34 / 101)
    with pytest.raises(ValueError):
        densecap_map([GT], [], meteor=meteor)
