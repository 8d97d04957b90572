import json

from groundlm.cli import main

from ..train.conftest import tiny_train_config


def test_bench_train_compares_the_trainer_with_the_model_step_alone(tmp_path, capsys):
    from groundlm.data.synth.writer import write_split

    for name, n, seed in (("train", 8, 0), ("val", 3, 1)):  # its own split: decoded arrays are written beside it
        write_split(tmp_path / "sw" / name, n, seed=seed, size=32, domain="portrait", progress=False)
    config = tiny_train_config(tmp_path, tmp_path / "sw")
    out = tmp_path / "train.json"
    argv = ["bench", "train", "--config", str(config), "--steps", "3", "--workers", "0", "1", "--json", str(out)]
    assert main(argv) == 0
    assert "end to end / model step alone" in capsys.readouterr().out
    result = json.loads(out.read_text())
    names = ["model step alone", "end to end, 0 workers", "end to end, 1 workers"]
    assert [r["run"] for r in result["rows"]][:3] == names
    assert result["rows"][3]["decoded_arrays"] and result["rows"][3]["workers"] == result["default_workers"]
    alone, *ends = result["rows"]
    assert alone["ratio_to_model_step"] == 1.0 and alone["data_wait_share"] < 0.05
    assert all(r["samples_per_s"] > 0 and 0 <= r["data_wait_share"] < 1 and r["peak_memory_mb"] > 0 for r in ends)
    chosen = next(r for r in ends if r["workers"] == result["default_workers"] and not r["decoded_arrays"])
    assert result["end_to_end_ratio"] == chosen["ratio_to_model_step"]
    assert main(["bench", "train", "--config", str(tmp_path / "none.yaml")]) == 2
