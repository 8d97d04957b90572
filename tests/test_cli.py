import json
from pathlib import Path

import pytest

from groundlm.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_eval_refer_json_keys_on_examples(capsys):
    code, out, _ = _run(
        capsys,
        "eval",
        "refer",
        "--gt",
        str(EXAMPLES / "refer/gt.jsonl"),
        "--pred",
        str(EXAMPLES / "refer/pred_qwen.jsonl"),
        "--format",
        "qwen",
        "--json",
    )
    assert code == 0
    m = json.loads(out)
    assert list(m) == ["n", "acc50", "ciou", "miou", "invalid"]
    assert m["n"] == 12 and m["invalid"] == pytest.approx(1 / 12)


@pytest.mark.parametrize(
    ("task", "gt", "pred", "extra", "keys"),
    [
        (
            "pose",
            "pose/gt.jsonl",
            "pose/pred_vlm.jsonl",
            [],
            ["n", "n_used", "yaw", "pitch", "roll", "mae", "geodesic", "invalid", "box_acc50"],
        ),
        (
            "depth",
            "depth/gt.jsonl",
            "depth/pred_metric.jsonl",
            ["--eigen-crop"],
            ["n", "abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "d1", "d2", "d3", "invalid"],
        ),
        ("densecap", "densecap/gt.jsonl", "densecap/pred.jsonl", [], ["map", "det_map", "invalid"]),
        (
            "caption",
            "caption/gt.jsonl",
            "caption/pred.jsonl",
            [],
            ["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr", "invalid"],
        ),
    ],
)
def test_eval_json_keys(capsys, task, gt, pred, extra, keys):
    argv = ["eval", task, "--gt", str(EXAMPLES / gt), "--pred", str(EXAMPLES / pred), "--json", *extra]
    code, out, _ = _run(capsys, *argv)
    assert code == 0
    assert list(json.loads(out)) == keys


def test_eval_table_with_several_prediction_files(capsys):
    code, out, _ = _run(
        capsys,
        "eval",
        "refer",
        "--gt",
        str(EXAMPLES / "refer/gt.jsonl"),
        "--pred",
        str(EXAMPLES / "refer/pred_cogvlm.jsonl"),
        "--pred",
        str(EXAMPLES / "refer/pred_ferret.jsonl"),
        "--format",
        "cogvlm",
        "--format",
        "ferret",
    )
    assert code == 0
    assert "pred_cogvlm.jsonl [cogvlm]" in out and "pred_ferret.jsonl [ferret]" in out and "acc50" in out


def test_user_errors_exit_2_without_traceback(capsys, tmp_path):
    bad = tmp_path / "gt.jsonl"
    bad.write_text('{"id": 1, "width": 10, "height": 10, "box": "oops"}\n')
    code, out, err = _run(capsys, "eval", "refer", "--gt", str(bad), "--pred", str(bad))
    assert code == 2 and out == ""
    assert err.startswith("groundlm: error:") and "gt.jsonl:1" in err and "Traceback" not in err
    code, _, err = _run(
        capsys,
        "eval",
        "refer",
        "--gt",
        str(bad),
        "--pred",
        str(bad),
        "--pred",
        str(bad),
        "--format",
        "cogvlm",
        "--format",
        "qwen",
        "--format",
        "shikra",
    )
    assert code == 2 and "once per --pred" in err


def test_formats_parse_and_list(capsys):
    code, out, _ = _run(
        capsys,
        "formats",
        "parse",
        "kosmos2",
        "<object><patch_index_0044><patch_index_0863></object>",
        "--size",
        "320",
        "320",
    )
    result = json.loads(out)
    assert code == 0 and result["ok"] and result["boxes"][0] == pytest.approx([125, 15, 315, 265])
    code, out, _ = _run(capsys, "formats", "parse", "pose", "[[100,100,200,200]]", "--size", "100", "100")
    assert json.loads(out)["error"] == "missing_pose"
    code, out, _ = _run(capsys, "formats", "list")
    assert code == 0 and "paligemma" in out


def test_pretrain_command_writes_a_tower_and_bad_configs_exit_2(capsys, tmp_path):
    import yaml

    cfg = {
        "out": str(tmp_path / "tower"),
        "vision": {"kind": "resnet", "image_size": 32, "patch_size": 8, "hidden_size": 16, "num_layers": 2},
        "data": [{"uri": f"spatialworld:{tmp_path / 'd'}", "generate": {"n": 3, "seed": 1, "size": 32}}],
        "steps": 2,
        "batch_size": 2,
        "head_hidden": 8,
    }
    path = tmp_path / "tower.yaml"
    path.write_text(yaml.safe_dump(cfg))
    code, out, _ = _run(capsys, "pretrain", str(path), "--set", "steps=1", "--out", str(tmp_path / "t2"))
    assert code == 0 and f"tower written to {tmp_path / 't2'}" in out
    assert json.loads((tmp_path / "t2" / "tower.json").read_text())["info"]["steps"] == 1
    code, _, err = _run(capsys, "pretrain", str(path), "--set", "loss_weights={depht: 1}")
    assert code == 2 and "depht" in err and "Traceback" not in err
    code, _, err = _run(capsys, "pretrain", str(tmp_path / "missing.yaml"))
    assert code == 2 and "no such config file" in err
