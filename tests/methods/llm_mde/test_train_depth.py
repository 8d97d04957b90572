import json

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from groundlm import data
from groundlm.cli import main
from groundlm.errors import UserError
from groundlm.methods.llm_mde.inference_depth import evaluate_depth, predict_depth
from groundlm.methods.llm_mde.modeling_depth_lm import DepthLM, DepthLMConfig
from groundlm.methods.llm_mde.task_depth import DepthBatcher
from groundlm.methods.llm_mde.train_depth import DepthTrainConfig, depth_loss, train_depth
from groundlm.train.config import SplitSpec
from tests.conftest import TINY_LANGUAGE, TINY_VISION, tiny_language, tiny_vision

TINY_LM = {**TINY_LANGUAGE, "kind": "bert", "num_layers": 1, "max_positions": 256}


def tiny_model_config(**kw) -> DepthLMConfig:
    return DepthLMConfig(
        vision=tiny_vision(),
        language=tiny_language(**TINY_LM),
        prototypes=16,
        heads=4,
        head_channels=16,
        head_blocks=2,
        **kw,
    )


def test_batches_hold_pixels_prompts_and_resized_depth(tiny_split):
    ds = data.load(f"spatialworld:{tiny_split / 'train'}")
    model = DepthLM(tiny_model_config())
    batcher = DepthBatcher.for_model(model)
    assert (batcher.image_size, batcher.out_size, batcher.prompt) == (32, 16, "adaptive")
    batch = batcher.batch(ds[:3], model.prompt_batch)
    assert batch["pixel_values"].shape == (3, 3, 32, 32) and batch["depth"].shape == (3, 16, 16)
    assert batch["prompt_ids"].shape[0] == 3
    assert "Category: " in batcher.prompts([ds[0].load_image()], [ds[0].scene_type])[0]
    full = ds[0].load_depth()
    assert float(batch["depth"][0].max()) <= float(full.max()) + 1e-6  # nearest resizing keeps measured values
    assert torch.equal(batch["valid"], ((batch["depth"] > 0) & (batch["depth"] <= 10)).float())
    assert "prompt_ids" not in batcher.batch(ds[:1])  # a regressor without prompts gets none


def test_training_lowers_the_loss_saves_and_reports_depth_metrics(tmp_path, tiny_split):
    cfg = DepthTrainConfig(
        run_dir=str(tmp_path / "run"),
        train=SplitSpec(f"spatialworld:{tiny_split / 'train'}"),
        val=SplitSpec(f"spatialworld:{tiny_split / 'val'}"),
        model=tiny_model_config(),
        batch_size=4,
        lr=3e-3,
        max_steps=40,
        device="cpu",
    )
    result = train_depth(cfg, progress=False)
    assert {"abs_rel", "rmse", "d1"} <= set(result["eval"]) and result["eval"]["n"] == 3
    lines = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    losses = [float(line.split(",")[-1]) for line in lines if ",train,loss," in line]
    assert len(losses) == 40 and np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])
    # The saved model scores what the trained one scored.
    loaded = DepthLM.from_pretrained(result["final_model"])
    val = list(data.load(f"spatialworld:{tiny_split / 'val'}"))
    again = evaluate_depth(loaded, DepthBatcher.for_model(loaded), val)
    assert again["abs_rel"] == pytest.approx(result["eval"]["abs_rel"], rel=1e-5)
    with pytest.raises(ValueError, match="silog"):
        DepthTrainConfig(run_dir="x", train=cfg.train, loss="l2")
    with pytest.raises(ValueError, match="median"):
        DepthTrainConfig(run_dir="x", train=cfg.train, align="mean")


def test_predictions_come_back_at_each_image_size():
    model = DepthLM(tiny_model_config())
    images = [Image.new("RGB", (40, 30), (90, 20, 20)), Image.new("RGB", (32, 32))]
    maps = predict_depth(model, DepthBatcher.for_model(model), images)
    assert [m.shape for m in maps] == [(30, 40), (32, 32)] and all(m.dtype == np.float32 for m in maps)
    assert all(m.min() > 0 and m.max() < 10 for m in maps)


def test_depth_losses_by_name():
    target = torch.rand(2, 8, 8) + 1
    valid = torch.ones_like(target)
    # A global scale of 2 costs 10 * log 2 * sqrt(1 - 0.85) under SILog (lambda 0.85), whatever the depths.
    assert float(depth_loss("silog", 2 * target, target, valid)) == pytest.approx(
        10 * np.log(2) * np.sqrt(0.15), rel=1e-4
    )
    assert float(depth_loss("ssi", 2 * target + 1, target, valid)) < 1e-5


def test_a_bad_depth_file_is_one_clear_error(tmp_path, tiny_split):
    import shutil

    split = tmp_path / "split"
    shutil.copytree(tiny_split / "val", split)
    ds = data.load(f"spatialworld:{split}")
    depth_file = split / "depth" / f"{ds[0].id}.png"
    Image.new("L", (32, 32), 7).save(depth_file)  # 8-bit: would read as 7 mm everywhere
    with pytest.raises(UserError, match="16-bit PNG in millimetres"):
        ds[0].load_depth()
    depth_file.write_bytes(b"not a png")
    with pytest.raises(UserError, match="cannot be read"):
        ds[0].load_depth()


def test_cli_trains_predicts_and_evaluates_a_depth_model(tmp_path, tiny_split, capsys):
    config = {
        "method": "depth",
        "run_dir": str(tmp_path / "run"),
        "train": [f"spatialworld:{tiny_split / 'train'}", f"spatialworld:{tiny_split / 'val'}"],
        "val": f"spatialworld:{tiny_split / 'val'}",
        "model": {
            "vision": TINY_VISION,
            "language": TINY_LM,
            "prototypes": 16,
            "heads": 4,
            "head_blocks": 2,
            "lm_training": "lora",
            "lora_rank": 2,
        },
        "batch_size": 2,
        "max_steps": 3,
        "align": "median",
        "device": "cpu",
    }
    path = tmp_path / "depth.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["train", str(path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    final = summary["final_model"]
    ds = data.load(f"spatialworld:{tiny_split / 'val'}")
    image = str(ds[0].image_path)
    out = tmp_path / "pred" / "d.png"
    assert main(["predict", "--checkpoint", final, "--image", image, "--task", "depth", "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    written = np.asarray(Image.open(out))
    assert written.dtype == np.uint16 and written.shape == (32, 32) and 0 < printed["metres"]["median"] < 10
    assert np.asarray(Image.open(printed["color"])).shape == (32, 32, 3)
    assert main(["eval", "depth", "--checkpoint", final, "--data", f"spatialworld:{tiny_split / 'val'}", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["n"] == 3 and metrics["abs_rel"] > 0
    # User mistakes: one line, exit 2.
    assert main(["predict", "--checkpoint", str(tmp_path), "--image", image, "--task", "depth"]) == 2
    assert "not a model directory" in capsys.readouterr().err
    assert main(["predict", "--checkpoint", final, "--image", str(tmp_path / "none.png"), "--task", "depth"]) == 2
    assert "no such image" in capsys.readouterr().err
    assert main(["predict", "--checkpoint", final, "--image", image, "--query", "the cup"]) == 2
    assert "depth model" in capsys.readouterr().err
    path.write_text(yaml.safe_dump({**config, "loss": "l1"}))
    assert main(["train", str(path)]) == 2
    assert "silog" in capsys.readouterr().err


def test_depth_training_resumes_exactly(tmp_path, tiny_split, capsys):
    def config(name: str) -> DepthTrainConfig:
        return DepthTrainConfig(
            run_dir=str(tmp_path / name),
            train=SplitSpec(f"spatialworld:{tiny_split / 'train'}"),
            model=tiny_model_config(lm_training="lora", lora_rank=2),
            batch_size=2,
            max_steps=4,
            save_every=2,
            device="cpu",
        )

    train_depth(config("straight"), progress=False)
    assert train_depth(config("broken"), progress=False, stop_after=2) == {"interrupted_at": 2}
    assert not (tmp_path / "broken" / "final").exists()
    with pytest.raises(UserError, match="--resume"):
        train_depth(config("broken"), progress=False)  # refuses to start over a run's checkpoints
    # The CLI resumes a depth run too.
    path = tmp_path / "depth.yaml"
    cfg = config("broken")
    model = {"vision": TINY_VISION, "language": TINY_LM, "prototypes": 16, "heads": 4, "head_channels": 16}
    tree = {"method": "depth", "run_dir": cfg.run_dir, "train": cfg.train.uri, "batch_size": 2, "max_steps": 4}
    model.update(head_blocks=2, lm_training="lora", lora_rank=2)
    path.write_text(yaml.safe_dump({**tree, "model": model, "save_every": 2, "device": "cpu"}))
    assert main(["train", str(path), "--resume"]) == 0
    capsys.readouterr()
    a = DepthLM.from_pretrained(tmp_path / "straight" / "final").state_dict()
    b = DepthLM.from_pretrained(tmp_path / "broken" / "final").state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
