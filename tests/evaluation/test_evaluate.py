import json

import numpy as np
import pytest
from PIL import Image

from groundlm import formats
from groundlm.errors import UserError
from groundlm.evaluation import Options, evaluate, format_table
from groundlm.metrics import grounding_metrics


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_refer_text_predictions_match_library_metrics(tmp_path):
    gt = [{"id": i, "width": 200, "height": 100, "box": [10 * i, 10, 10 * i + 50, 60]} for i in range(5)]
    codec = formats.get("florence2")
    preds = [{"id": i, "text": codec.render_boxes([g["box"]], 200, 100)} for i, g in enumerate(gt[:3])]
    preds.append({"id": 3, "text": "no idea"})  # id 4 has no prediction at all
    report = evaluate(
        "refer", _jsonl(tmp_path / "gt.jsonl", gt), _jsonl(tmp_path / "p.jsonl", preds), Options(format="florence2")
    )
    decoded = [codec.parse(p["text"], 200, 100).boxes[0] for p in preds[:3]]
    expected = grounding_metrics([*decoded, None, None], [g["box"] for g in gt])
    assert report.metrics == pytest.approx(expected)
    assert report.metrics["invalid"] == pytest.approx(0.4)
    assert report.errors == {"no_match": 1, "missing": 1}
    assert any("no prediction" in w for w in report.warnings)


def test_refer_box_predictions_and_policy(tmp_path):
    gt = _jsonl(tmp_path / "gt.jsonl", [{"id": "a", "width": 100, "height": 100, "box": [0, 0, 50, 50]}])
    boxes = _jsonl(tmp_path / "b.jsonl", [{"id": "a", "box": [0, 0, 50, 50]}, {"id": "zz", "box": [0, 0, 1, 1]}])
    report = evaluate("refer", gt, boxes)
    assert report.metrics["acc50"] == 1.0 and any("ignored" in w for w in report.warnings)
    two = _jsonl(tmp_path / "t.jsonl", [{"id": "a", "text": "[[000,000,500,500;600,600,900,900]]"}])
    assert evaluate("refer", gt, two, Options(format="cogvlm", policy="reject")).metrics["invalid"] == 1.0
    assert evaluate("refer", gt, two, Options(format="cogvlm", policy="first")).metrics["acc50"] == 1.0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": "a", "width": 100, "height": 100, "box": [0, 0, 50]}\n', "gt.jsonl:1: 'box' must be a list"),
        ('{"id": "a", "width": 100, "height": 100}\n', "gt.jsonl:1: missing field 'box'"),
        ('\n{"id": "a", "width": -1, "height": 100, "box": [0, 0, 5, 5]}\n', "gt.jsonl:2: 'width' must be positive"),
        ("{not json}\n", "gt.jsonl:1: not valid JSON"),
        ("[1, 2]\n", "gt.jsonl:1: expected a JSON object"),
        ('{"id": "a", "width": 9, "height": 9, "box": [0,0,1,1]}\n' * 2, "gt.jsonl:2: id 'a' repeats"),
        ("", "has no records"),
    ],
)
def test_malformed_ground_truth_is_a_clear_error(tmp_path, content, message):
    gt = tmp_path / "gt.jsonl"
    gt.write_text(content)
    pred = _jsonl(tmp_path / "p.jsonl", [{"id": "a", "box": [0, 0, 5, 5]}])
    with pytest.raises(UserError, match=message.replace("[", r"\[")):
        evaluate("refer", str(gt), pred)


def test_text_without_format_and_missing_file(tmp_path):
    gt = _jsonl(tmp_path / "gt.jsonl", [{"id": "a", "width": 10, "height": 10, "box": [0, 0, 5, 5]}])
    pred = _jsonl(tmp_path / "p.jsonl", [{"id": "a", "text": "[[0,0,5,5]]"}])
    with pytest.raises(UserError, match="pass --format"):
        evaluate("refer", gt, pred)
    with pytest.raises(UserError, match="no such file"):
        evaluate("refer", gt, str(tmp_path / "nope.jsonl"))
    with pytest.raises(UserError, match="unknown task"):
        evaluate("segment", gt, pred)


def test_pose_text_and_numeric(tmp_path):
    gt = [
        {"id": "h0", "width": 640, "height": 480, "yaw": 10, "pitch": 0, "roll": 0, "box": [100, 100, 200, 200]},
        {"id": "h1", "width": 640, "height": 480, "yaw": -30, "pitch": 10, "roll": 5, "box": [300, 100, 400, 200]},
        {"id": "h2", "width": 640, "height": 480, "yaw": 120, "pitch": 0, "roll": 0},
    ]
    text = [
        {"id": "h0", "text": formats.render_pose([100, 100, 200, 200], 12, 1, -1, 640, 480)},
        {"id": "h1", "text": formats.get("cogvlm").render_boxes([[300, 100, 400, 200]], 640, 480)},
    ]
    report = evaluate("pose", _jsonl(tmp_path / "gt.jsonl", gt), _jsonl(tmp_path / "p.jsonl", text))
    m = report.metrics
    assert list(m) == ["n", "n_used", "yaw", "pitch", "roll", "mae", "geodesic", "invalid", "box_acc50"]
    assert m["n_used"] == 2 and m["yaw"] == pytest.approx(2.0) and m["invalid"] == pytest.approx(0.5)
    assert m["box_acc50"] == 1.0  # the detection-only answer still located the head
    assert report.errors["missing_pose"] == 1 and any("blended" in w for w in report.warnings)
    numeric = [{"id": g["id"], "yaw": g["yaw"], "pitch": g["pitch"], "roll": g["roll"]} for g in gt]
    m = evaluate("pose", str(tmp_path / "gt.jsonl"), _jsonl(tmp_path / "n.jsonl", numeric)).metrics
    assert m["mae"] == 0 and m["invalid"] == 0


def test_depth_png_millimetres_and_npy_metres(tmp_path):
    rng = np.random.default_rng(0)
    depth = rng.uniform(0.5, 8.0, (12, 16))
    Image.fromarray(np.round(depth * 1000).astype(np.uint16)).save(tmp_path / "g.png")
    np.save(tmp_path / "p.npy", depth * 1.1)
    gt = _jsonl(tmp_path / "gt.jsonl", [{"id": "x", "depth": "g.png"}])
    pred = _jsonl(tmp_path / "p.jsonl", [{"id": "x", "depth": "p.npy"}])
    m = evaluate("depth", gt, pred, Options(max_depth=100)).metrics
    assert m["n"] == 1 and m["abs_rel"] == pytest.approx(0.1, abs=1e-3)
    assert evaluate("depth", gt, pred, Options(max_depth=100, align="median")).metrics["abs_rel"] < 1e-3
    Image.fromarray((depth * 10).astype(np.uint8)).save(tmp_path / "bad.png")
    bad = _jsonl(tmp_path / "bad.jsonl", [{"id": "x", "depth": "bad.png"}])
    with pytest.raises(UserError, match="16-bit"):
        evaluate("depth", gt, bad)


def test_format_table_aligns_and_handles_missing():
    text = format_table("t", [("a", {"n": 3, "x": 0.5, "y": None}), ("bb", {"n": 10, "x": float("nan")})])
    lines = text.splitlines()
    assert lines[0] == "t" and "nan" in text and "-" in lines[-2]
    assert len({len(line) for line in lines[1:] if line.startswith("-")}) == 1


def test_sampled_answers_are_combined_by_mean_or_median(tmp_path):
    gt = _jsonl(
        tmp_path / "gt.jsonl",
        [{"id": "a", "width": 100, "height": 100, "yaw": 30, "pitch": 0, "roll": 0, "box": [10, 10, 50, 50]}],
    )
    texts = [
        "[[100,100,500,500]] yaw:+10.0 pitch:+0.0 roll:+0.0",
        "[[100,100,500,500]] yaw:+20.0 pitch:+0.0 roll:+0.0",
        "[[100,100,500,500]] yaw:+60.0 pitch:+0.0 roll:+0.0",
        "nonsense",
    ]
    pred = _jsonl(tmp_path / "p.jsonl", [{"id": "a", "texts": texts}])
    mean = evaluate("pose", gt, pred, Options(numeric="mean")).metrics
    median = evaluate("pose", gt, pred, Options(numeric="median")).metrics
    assert mean["yaw"] == pytest.approx(0.0) and median["yaw"] == pytest.approx(10.0)
    assert mean["invalid"] == 0.0 and mean["box_acc50"] == 1.0
    refer_gt = _jsonl(tmp_path / "rg.jsonl", [{"id": "a", "width": 100, "height": 100, "box": [0, 0, 40, 40]}])
    boxes = ["[[000,000,400,400]]", "[[000,000,800,800]]", "oops"]
    refer = _jsonl(tmp_path / "rp.jsonl", [{"id": "a", "texts": boxes}])
    assert evaluate("refer", refer_gt, refer, Options(format="cogvlm", numeric="mean")).metrics["miou"] == (
        pytest.approx(1600 / 3600)
    )
    failed = _jsonl(tmp_path / "f.jsonl", [{"id": "a", "texts": ["oops", "no"]}])
    report = evaluate("refer", refer_gt, failed, Options(format="cogvlm"))
    assert report.metrics["invalid"] == 1.0 and report.errors == {"no_match": 1}
