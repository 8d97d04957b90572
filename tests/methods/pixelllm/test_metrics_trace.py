import pytest

from groundlm.methods.pixelllm.metrics_trace import trace_metrics


def test_trace_metrics_known_answers():
    pred = [(0.0, 0.0), (0.3, 0.4), (0.5, 0.5)]
    gt = [(0.0, 0.0), (0.0, 0.0), (0.5, 0.5)]
    boxes = [None, (0.0, 0.0, 0.2, 0.2), (0.4, 0.4, 0.5, 0.5)]  # word 2 outside its box, word 3 on the edge: inside
    m = trace_metrics(pred, gt, boxes)
    assert m["point_l2"] == pytest.approx(0.5 / 3) and m["words"] == 3
    assert m["in_box"] == pytest.approx(0.5) and m["box_words"] == 2
    assert "in_box" not in trace_metrics(pred, gt)
    with pytest.raises(ValueError, match="3 predicted points for 2"):
        trace_metrics(pred, gt[:2])
    with pytest.raises(ValueError, match="no word"):
        trace_metrics([], [])
