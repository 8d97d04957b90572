import csv
import json

from groundlm.cli import main
from groundlm.inference import load_vlm
from groundlm.train.config import load_config
from groundlm.train.loop import train
from tests.conftest import TINY_LANGUAGE, TINY_VISION
from tests.train.conftest import tiny_train_config


def test_dynrefer_trains_its_three_losses_and_is_evaluated_from_the_command_line(tmp_path, tiny_split, capsys):
    model = {
        "vision": {**TINY_VISION, "freeze": True},
        "language": {**TINY_LANGUAGE, "num_layers": 1, "max_positions": 128},
        "region_encoder": "dynrefer",
        "views": {
            "n": 2,
            "source_size": 48,
            "queries": 2,
            "width": 16,
            "layers": 1,
            "tags": ["auto"],
            "contrastive": True,
        },
    }
    path = tiny_train_config(
        tmp_path,
        tiny_split,
        tasks=[{"name": "region_caption", "options": {"image": False}}],
        model=model,
        loss_weights={"lm": 1.0, "tag": 0.01, "rtc": 0.5},
        max_steps=3,
        eval_every=0,
        save_every=0,
    )
    summary = train(load_config(path), progress=False)
    with open(tmp_path / "run" / "metrics.csv") as f:
        logged = {row[2] for row in csv.reader(f)}  # step, split, name, value
    assert {"loss/lm", "loss/tag", "loss/rtc"} <= logged
    trained = load_vlm(summary["final_model"])
    tags = trained.config.views.tags
    assert "auto" not in tags and {"person", "head"} <= set(tags)  # the split's own tags
    argv = ["eval", "caption", "--checkpoint", summary["final_model"], "--data", f"spatialworld:{tiny_split / 'val'}"]
    assert main([*argv, "--limit", "3", "--json"]) == 0
    assert "CIDEr" in json.loads(capsys.readouterr().out)


def test_the_shipped_dynrefer_config_loads():
    cfg = load_config("configs/region-quick.yaml")
    assert cfg.model.region_encoder == "dynrefer" and cfg.model.views.n == 3
    assert cfg.loss_weights == {"lm": 1.0, "tag": 0.01, "rtc": 0.5}
