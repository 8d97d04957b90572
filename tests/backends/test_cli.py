"""Every supported transformers architecture through the command line, as a researcher with a checkpoint runs it:
``train`` (LoRA, a few steps) -> ``merge`` -> ``predict`` -> ``eval --checkpoint``, on a small SpatialWorld split.
The models are tiny and random, built here from configs; their answers are scored, whatever they are."""

import json

import pytest
from safetensors.torch import load_file

from groundlm.cli import main

from .tiny import BUILDERS, lora_run_config


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    from groundlm.data.synth.writer import write_split

    path = tmp_path_factory.mktemp("data") / "heads"
    write_split(path, 3, seed=3, size=32, domain="headshot", progress=False)
    return path


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


@pytest.mark.parametrize("arch", sorted(BUILDERS))
def test_train_merge_predict_eval_through_the_cli(arch, split, tmp_path, capsys):
    base = BUILDERS[arch](tmp_path / "base")
    config = lora_run_config(tmp_path, split, base, backend={"dtype": "float32"}, lr=0.05, device="cpu")
    out = _run(capsys, "train", config)
    summary = json.loads(out[out.index("{\n") :])  # after the evaluations' progress lines
    final = tmp_path / "run" / "final"
    assert summary["steps"] == 2 and (final / "adapter_model.safetensors").is_file()
    assert set(summary["eval_tasks"]) == {"pose", "refer"} and summary["eval"]["n"] == 2  # scored while training
    record = json.loads((final / "backend.json").read_text())
    assert record["model_type"] == arch and record["base"] == str(base.resolve())
    trained = json.loads((final / "groundlm.json").read_text())["tasks"]
    assert trained["refer"]["format"] == record["box_format"]  # refer answered in the family's own syntax
    adapters = load_file(str(final / "adapter_model.safetensors"))
    assert any("vision" in k or "visual" in k for k in adapters) and any("language_model" in k for k in adapters)
    assert any(v.abs().sum() > 0 for k, v in adapters.items() if "lora_B" in k)  # the steps moved the adapters

    out = _run(capsys, "merge", "--base", base, "--tuned", final, "--out", tmp_path / "merged", "--method", "ties")
    assert "ties" in out and (tmp_path / "merged" / "config.json").is_file()
    merged = load_file(str(tmp_path / "merged" / "model.safetensors"))
    original = load_file(str(base / "model.safetensors"))
    changed = [k for k in original if k in merged and not (merged[k] == original[k]).all()]
    assert changed and all("q_proj" in k or "v_proj" in k or "qkv" in k for k in changed)
    _run(
        capsys,
        "merge",
        "--base",
        base,
        "--tuned",
        final,
        "--out",
        tmp_path / "layers",
        "--method",
        "layer_select",
        "--tau",
        "0.999999",
    )
    report = json.loads((tmp_path / "layers" / "merge.json").read_text())
    assert report["taken"].get("model0", 0) >= 1

    image = next(split.glob("**/*.png"))
    predict = ("predict", "--checkpoint", tmp_path / "merged", "--image", image, "--query", "the person")
    result = json.loads(_run(capsys, *predict))
    assert result["task"] == "refer" and "error" in result["parsed"]
    # Constrained to the family's syntax, even a random model's answer parses (Qwen2.5-VL's range is the
    # resized image's, which no pattern for every image states).
    result = json.loads(_run(capsys, *predict, "--constrain"))
    allowed = (None, "degenerate", "out_of_range") if arch == "qwen2_5_vl" else (None, "degenerate")
    assert result["parsed"]["error"] in allowed, result["text"]
    pose = json.loads(
        _run(capsys, "predict", "--checkpoint", final, "--image", image, "--task", "pose", "--query", "the person")
    )
    assert pose["task"] == "pose" and "parsed" in pose

    for checkpoint in (final, tmp_path / "merged"):
        for task in ("refer", "pose"):
            argv = ("eval", task, "--checkpoint", checkpoint, "--data", f"spatialworld:{split}", "--limit", 2, "--json")
            metrics = json.loads(_run(capsys, *argv))
            assert metrics["n"] == 2 and 0.0 <= metrics["invalid"] <= 1.0
