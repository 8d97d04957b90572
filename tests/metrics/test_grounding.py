import pytest

from groundlm.metrics import grounding_metrics


def test_known_values():
    gts = [(0, 0, 10, 10), (0, 0, 10, 10), (0, 0, 10, 10), (0, 0, 10, 10)]
    preds = [(0, 0, 10, 10), (0, 0, 10, 5), (5, 5, 15, 15), None]
    m = grounding_metrics(preds, gts)
    # IoUs: 1, 0.5, 25/175, 0 (missing).
    assert m["n"] == 4
    assert m["acc50"] == pytest.approx(0.5)  # 0.5 counts with the default >=
    assert m["miou"] == pytest.approx((1 + 0.5 + 25 / 175) / 4)
    assert m["ciou"] == pytest.approx((100 + 50 + 25) / (100 + 100 + 175 + 100))
    assert m["invalid"] == pytest.approx(0.25)


def test_strict_threshold_and_key():
    gts = [(0, 0, 10, 10)]
    assert grounding_metrics([(0, 0, 10, 5)], gts, inclusive=False)["acc50"] == 0.0
    assert grounding_metrics([(0, 0, 10, 8)], gts, threshold=0.75)["acc75"] == 1.0


def test_bad_inputs():
    with pytest.raises(ValueError):
        grounding_metrics([None], [(0, 0, 1, 1), (0, 0, 1, 1)])
    with pytest.raises(ValueError):
        grounding_metrics([], [])
