import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from groundlm.cli import main
from groundlm.errors import UserError
from groundlm.train.config import load_config
from groundlm.train.loop import train

from .conftest import tiny_train_config

# Summing a gradient in another order changes it by float round-off; Adam divides each element by its own running
# scale, so an element whose gradient is near zero can move by ~1e-5 after a few steps (seen on AVX-512 CPUs: one of
# 58,209 weights, 1.4e-5). A wrong reduction (a missing or doubled share of the batch) moves weights by ~lr = 3e-3.
ROUND_OFF = 5e-5


def _weights(run_dir):
    return load_file(str(Path(run_dir) / "final" / "model.safetensors"))


def test_train_writes_a_run_directory(tmp_path, tiny_split):
    cfg = load_config(tiny_train_config(tmp_path, tiny_split))
    summary = train(cfg, progress=False)
    run = Path(cfg.run_dir)
    assert {"config.yaml", "metrics.csv", "summary.json", "final", "checkpoints"} <= {p.name for p in run.iterdir()}
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-2", "step-4"]
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert {r["key"] for r in rows if r["kind"] == "train"} == {"loss", "lr", "samples_per_s"}
    assert {"acc50", "ciou", "invalid", "image_gain"} <= {r["key"] for r in rows if r["kind"] == "eval/refer"}
    assert summary["steps"] == 4 and "acc50" in summary["eval"]
    assert json.loads((run / "summary.json").read_text())["steps"] == 4
    with pytest.raises(UserError, match="--resume"):
        train(cfg, progress=False)  # refuses to overwrite a run


def test_resume_equals_uninterrupted(tmp_path, tiny_split):
    straight = load_config(tiny_train_config(tmp_path / "a", tiny_split))
    train(straight, progress=False)
    broken = load_config(tiny_train_config(tmp_path / "b", tiny_split))
    assert train(broken, progress=False, stop_after=2) == {"interrupted_at": 2}
    assert not (Path(broken.run_dir) / "final").exists()
    train(broken, resume=True, progress=False)
    a, b = _weights(straight.run_dir), _weights(broken.run_dir)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_config_overrides_and_errors(tmp_path, tiny_split):
    path = tiny_train_config(tmp_path, tiny_split)
    cfg = load_config(path, ["lr=0.01", "model.language.num_layers=3", "tasks=[refer]"])
    assert cfg.lr == 0.01 and cfg.model.language.num_layers == 3 and [t.name for t in cfg.tasks] == ["refer"]
    with pytest.raises(UserError, match="unknown field"):
        load_config(path, ["learning_rate=1"])
    with pytest.raises(UserError, match="key=value"):
        load_config(path, ["lr"])
    with pytest.raises(UserError, match="no such config"):
        load_config(tmp_path / "nope.yaml")
    # YAML reads 3e-4 (no dot) as a string: numeric fields take it as the number it spells.
    cfg = load_config(path, ["lr=3e-4", "max_steps=1e3", "warmup=0", "lora={r: 4, dropout: 1e-1}"])
    assert (cfg.lr, cfg.max_steps, cfg.warmup, cfg.lora.dropout) == (3e-4, 1000, 0.0, 0.1)
    assert isinstance(cfg.max_steps, int) and isinstance(cfg.warmup, float)
    for bad, message in (("lr=fast", "expected a number"), ("max_steps=12.5", "expected an integer")):
        with pytest.raises(UserError, match=message):
            load_config(path, [bad])


def test_cli_train_predict_and_checkpoint_eval(tmp_path, tiny_split, capsys):
    path = tiny_train_config(tmp_path, tiny_split, max_steps=2, eval_every=0, save_every=0)
    assert main(["train", str(path)]) == 0
    capsys.readouterr()
    final = tmp_path / "run" / "final"
    image = tiny_split / "val" / "images" / "sw1_0000000.png"
    assert (
        main(
            [
                "predict",
                "--checkpoint",
                str(final),
                "--image",
                str(image),
                "--query",
                "the cube",
                "--constrain",
                "--out",
                str(tmp_path / "o.png"),
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["parsed"]["error"] in (None, "degenerate") and (tmp_path / "o.png").is_file()
    assert (
        main(["eval", "refer", "--checkpoint", str(final), "--data", str(tiny_split / "val"), "--json", "--limit", "4"])
        == 0
    )
    assert set(json.loads(capsys.readouterr().out)) == {"n", "acc50", "ciou", "miou", "invalid"}
    assert main(["predict", "--checkpoint", str(tmp_path), "--image", str(image), "--query", "x"]) == 2
    # Pose, constrained: the answer always parses into a box and three angles.
    args = ["predict", "--checkpoint", str(final), "--image", str(image), "--task", "pose"]
    assert main([*args, "--query", "the person", "--constrain", "--out", str(tmp_path / "p.png")]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["pose"]) == {"yaw", "pitch", "roll"} and (tmp_path / "p.png").is_file()
    assert main(args) == 2 and "pose needs --query" in capsys.readouterr().err
    # Sampled numeric decoding, re-reading the box: K answers, their numbers combined.
    sampled = [*args, "--query", "the person", "--reread", "--numeric", "median", "--samples", "3"]
    assert main(sampled) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result["texts"]) == 3 and result["numeric"] == "median"
    assert next(iter(json.loads((final / "groundlm.json").read_text())["tasks"])) == "refer"
    # groundlm merge: the model with itself by layer selection takes nothing from the "fine-tune".
    merged = tmp_path / "merged"
    merge = ["merge", "--base", str(final), "--tuned", str(final), "--out", str(merged), "--method", "layer_select"]
    assert main(merge) == 0 and "base: " in capsys.readouterr().out
    assert json.loads((merged / "merge.json").read_text())["taken"] == {
        "base": len(json.loads((merged / "merge.json").read_text())["layers"]["layers"])
    }
    assert main(["merge", "--base", str(final), "--tuned", str(tmp_path / "nope"), "--out", str(merged)]) == 2


def test_two_processes_equal_one_process(tmp_path, tiny_split):
    one = tiny_train_config(tmp_path / "one", tiny_split, eval_every=0, save_every=0, max_steps=3)
    two = tiny_train_config(tmp_path / "two", tiny_split, eval_every=0, save_every=0, max_steps=3)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    subprocess.run([sys.executable, "-m", "groundlm", "train", str(one)], check=True, env=env, capture_output=True)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517"]
    proc = subprocess.run([*torchrun, "-m", "groundlm", "train", str(two)], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((tmp_path / "two" / "run" / "summary.json").read_text())
    assert summary["processes"] == 2
    a, b = _weights(tmp_path / "one" / "run"), _weights(tmp_path / "two" / "run")
    for k in a:  # round-off only: see ROUND_OFF
        assert torch.allclose(a[k], b[k], atol=ROUND_OFF), k


def test_gradient_accumulation_matches_one_big_batch(tmp_path, tiny_split):
    whole = load_config(tiny_train_config(tmp_path / "w", tiny_split, eval_every=0, save_every=0, max_steps=2))
    split = load_config(
        tiny_train_config(tmp_path / "s", tiny_split, eval_every=0, save_every=0, max_steps=2, grad_accum=2)
    )
    train(whole, progress=False)
    train(split, progress=False)
    a, b = _weights(whole.run_dir), _weights(split.run_dir)
    for k in a:  # summation order differs: round-off only, see ROUND_OFF
        assert torch.allclose(a[k], b[k], atol=ROUND_OFF), k
    with pytest.raises(UserError, match="multiple of grad_accum"):
        train(load_config(tiny_train_config(tmp_path / "x", tiny_split, grad_accum=3)), progress=False)


def test_tasks_train_and_evaluate_on_their_own_splits(tmp_path, tiny_split):
    from groundlm.data.synth.writer import write_split

    heads = tmp_path / "heads"
    write_split(heads, 4, seed=2, size=32, domain="headshot", progress=False)
    tasks = [
        {"name": "pose", "weight": 1, "data": f"spatialworld:{heads}", "val": f"spatialworld:{heads}"},
        {"name": "refer", "weight": 0.5},  # the config's train and val splits
    ]
    cfg = load_config(
        tiny_train_config(tmp_path, tiny_split, tasks=tasks, max_steps=2, eval_every=2, save_every=0, max_new_tokens=4)
    )
    summary = train(cfg, progress=False)
    assert set(summary["eval_tasks"]) == {"pose", "refer"} and "mae" in summary["eval"]
    with pytest.raises(UserError, match="quote it"):
        load_config(tiny_train_config(tmp_path / "bad", tiny_split, lora={"r": 4, True: ["language"]}))
