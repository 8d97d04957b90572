import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from groundlm.metrics import pose_metrics


def test_filter_mae_invalid_and_geodesic():
    gts = [(10, 0, 0), (-20, 5, 5), (0, 0, 0), (120, 0, 0), (0, -100, 0)]
    preds = [(12, 1, -1), (-20, 8, 5), None, (0, 0, 0), (0, 0, 0)]
    m = pose_metrics(preds, gts)
    assert m["n"] == 5 and m["n_used"] == 3  # two ground truths exceed 99 degrees
    assert m["yaw"] == pytest.approx(1.0) and m["pitch"] == pytest.approx(2.0) and m["roll"] == pytest.approx(0.5)
    assert m["mae"] == pytest.approx(3.5 / 3)
    assert m["invalid"] == pytest.approx(1 / 3)
    ref = []
    for p, g in zip(preds[:2], gts[:2]):
        rp = Rotation.from_euler("ZYX", [p[2], p[0], p[1]], degrees=True)
        rg = Rotation.from_euler("ZYX", [g[2], g[0], g[1]], degrees=True)
        ref.append(np.degrees((rp * rg.inv()).magnitude()))
    assert m["geodesic"] == pytest.approx(np.mean(ref), abs=1e-6)
    assert m["box_acc50"] is None
    unfiltered = pose_metrics(preds, gts, max_abs=None)
    assert unfiltered["n_used"] == 5


def test_box_accuracy_and_all_invalid():
    gts = [(0, 0, 0), (0, 0, 0)]
    m = pose_metrics([None, None], gts, pred_boxes=[(0, 0, 10, 10), None], gt_boxes=[(0, 0, 10, 10), (0, 0, 5, 5)])
    assert math.isnan(m["mae"]) and m["invalid"] == 1.0
    assert m["box_acc50"] == pytest.approx(0.5)
