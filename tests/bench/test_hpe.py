import json
import math

from groundlm.baselines.crop_pose import CropPoseConfig
from groundlm.bench.hpe import COLUMNS, HpeBenchConfig, format_hpe_table, preset, run_hpe_bench
from groundlm.models.lora import LoraSpec

from ..models.conftest import tiny_config


def test_hpe_bench_runs_every_row_and_writes_the_same_numbers(tmp_path, monkeypatch):
    import groundlm.bench.hpe as hpe

    # Every model trains and is evaluated on the bench's device (an explicit --device cpu here).
    seen: list[tuple[str, str]] = []
    real_train, real_load, real_cnn = hpe.train, hpe.load_model, hpe.train_crop_pose
    monkeypatch.setattr(hpe, "train", lambda c, **kw: seen.append(("train", c.device)) or real_train(c, **kw))
    monkeypatch.setattr(
        hpe, "load_model", lambda d, device=None: seen.append(("evaluate", device)) or real_load(d, device=device)
    )

    def cnn(*args, device, **kw):
        seen.append(("cnn", device))
        return real_cnn(*args, device=device, **kw)

    monkeypatch.setattr(hpe, "train_crop_pose", cnn)
    cfg = HpeBenchConfig(
        device="cpu",
        run_dir=str(tmp_path / "run"),
        data_dir=str(tmp_path / "data"),
        n_train=10,
        n_test=5,
        size=32,
        model=tiny_config(),
        tower=None,
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
    assert [kind for kind, _ in seen].count("evaluate") == len(names) - 2  # every VLM row
    assert {kind for kind, _ in seen} == {"train", "evaluate", "cnn"} and {d for _, d in seen} == {"cpu"}


def test_hpe_bench_on_a_pretrained_tower_rereads(tmp_path):
    from groundlm.formats.numeric import NumericDecoding
    from groundlm.models.backbones import is_tower_dir
    from groundlm.models.config import VisionConfig
    from groundlm.pretrain.tower import TowerPretrainConfig, pretrain_tower
    from groundlm.train.config import SplitSpec

    tower = tmp_path / "tower"
    pretrain_tower(
        TowerPretrainConfig(
            out=str(tower),
            vision=VisionConfig(kind="resnet", image_size=32, patch_size=8, hidden_size=32, num_layers=2),
            data=[SplitSpec(f"spatialworld:{tmp_path / 'pre'}", {"n": 4, "seed": 5, "size": 32, "domain": "dusk"})],
            steps=2,
            batch_size=2,
            head_hidden=8,
        ),
        progress=False,
    )
    cfg = HpeBenchConfig(
        run_dir=str(tmp_path / "run"),
        data_dir=str(tmp_path / "data"),
        n_train=8,
        n_test=4,
        size=32,
        model=tiny_config(),
        tower=str(tower),
        base_steps=2,
        lora=LoraSpec(r=2, alpha=4, train_modules=("region_encoder",)),
        lora_steps=2,
        ratios=(0.0,),
        taus=(0.999,),
        cnn=CropPoseConfig(crop_size=32, width=16, blocks=2, steps=2, batch_size=4),
        batch_size=4,
        eval_items=3,
        numeric=NumericDecoding(),  # greedy: sampled answers of an untrained model make the constraint slow
    )
    result = run_hpe_bench(cfg, progress=False)
    assert is_tower_dir(tower)
    assert result["config"]["model"]["vision"]["path"] == str(tower)
    assert result["config"]["model"]["vision"]["freeze"] is True
    rows = {r["row"]: r for r in result["rows"]}
    # Task arithmetic at weight 1 is the LoRA model (region encoder included) and scores the same.
    same = ("invalid", "blended", "head_acc50", "grounding_acc50")
    assert [rows["task arithmetic"][k] for k in same] == [rows["LoRA only, r=0"][k] for k in same]
    assert json.loads((tmp_path / "run" / "models" / "lora-r0" / "final" / "groundlm.json").read_text())["tasks"]


def test_presets():
    assert preset("quick").ratios == (0.0, 0.25, 0.5)
    assert preset("demo", run_dir="x").run_dir == "x" and len(preset("demo").ratios) == 1
