import json
import math

from groundlm.adapters.lora import LoraSpec
from groundlm.baselines.crop_pose import CropPoseConfig
from groundlm.bench.hpe import COLUMNS, HpeBenchConfig, format_hpe_table, preset, run_hpe_bench

from ..models.conftest import tiny_config


def test_hpe_bench_runs_every_row_and_writes_the_same_numbers(tmp_path):
    cfg = HpeBenchConfig(
        run_dir=str(tmp_path / "run"),
        data_dir=str(tmp_path / "data"),
        n_train=10,
        n_test=5,
        size=32,
        model=tiny_config(),
        base_steps=3,
        lora=LoraSpec(r=2, alpha=4, towers=("language", "vision")),
        lora_steps=3,
        ratios=(0.0, 0.5),
        taus=(0.9, 0.99999),
        cnn=CropPoseConfig(crop_size=32, width=16, blocks=2, steps=3, batch_size=4),
        batch_size=4,
        eval_items=4,
    )
    result = run_hpe_bench(cfg, progress=False)
    names = [r["row"] for r in result["rows"]]
    assert names == [
        "mean-pose floor",
        "CNN crop (6DRepNet-style)",
        "grounding base (no pose)",
        "LoRA only, r=0",
        "LoRA only, r=0.5",
        "task arithmetic",
        "TIES",
        "DARE (linear)",
        "layer selection, τ=0.9",
        "layer selection, τ=0.99999",
    ]
    rows = {r["row"]: r for r in result["rows"]}
    assert all(set(COLUMNS) <= set(r) for r in result["rows"])
    # The floor and the CNN always answer; the floor's error is that of the mean training pose.
    assert rows["mean-pose floor"]["invalid"] == 0.0 and rows["CNN crop (6DRepNet-style)"]["invalid"] == 0.0
    assert math.isfinite(rows["mean-pose floor"]["mae"]) and len(rows["mean-pose floor"]["mean_pose"]) == 3
    # LoRA touches every targeted module, so a tight threshold takes them all and a loose one none.
    assert rows["layer selection, τ=0.99999"]["layers_taken"].get("model0", 0) > 0
    assert (
        rows["layer selection, τ=0.9"]["layers_taken"].get("model0", 0)
        <= (rows["layer selection, τ=0.99999"]["layers_taken"]["model0"])
    )
    stored = json.loads((tmp_path / "run" / "bench-hpe.json").read_text())
    assert [r["row"] for r in stored["rows"]] == names
    assert stored["rows"][1]["mae"] == rows["CNN crop (6DRepNet-style)"]["mae"]
    table = format_hpe_table(result)
    assert all(name in table for name in names) and "grounding_acc50" in table


def test_presets():
    assert preset("quick").ratios == (0.0, 0.25, 0.5)
    assert preset("demo", run_dir="x").run_dir == "x" and len(preset("demo").ratios) == 1
