import numpy as np
import pytest
import torch

from groundlm import data
from groundlm.models.config import LanguageConfig, VisionConfig
from groundlm.models.depth_lm import DepthLM, DepthLMConfig
from groundlm.tasks.depth import DepthBatcher
from groundlm.train.config import SplitSpec
from groundlm.train.depth import DepthTrainConfig, depth_loss, train_depth


def tiny_model_config(**kw) -> DepthLMConfig:
    return DepthLMConfig(
        vision=VisionConfig(
            image_size=32, patch_size=8, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64
        ),
        language=LanguageConfig(
            kind="bert", hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, max_positions=256
        ),
        prototypes=16,
        heads=4,
        head_channels=16,
        head_blocks=2,
        **kw,
    )


def test_batches_hold_pixels_prompts_and_resized_depth(tiny_split):
    ds = data.load(f"spatialworld:{tiny_split / 'train'}")
    model = DepthLM(tiny_model_config())
    batcher = DepthBatcher(32, 16, max_depth=10.0)
    batch = batcher.batch(ds[:3], model)
    assert batch["pixel_values"].shape == (3, 3, 32, 32) and batch["depth"].shape == (3, 16, 16)
    assert batch["prompt_ids"].shape[0] == 3 and "Category: " in batcher.prompts(ds[:1], [ds[0].load_image()])[0]
    full = ds[0].load_depth()
    assert float(batch["depth"][0].max()) <= float(full.max()) + 1e-6  # nearest resizing keeps measured values
    assert torch.equal(batch["valid"], ((batch["depth"] > 0) & (batch["depth"] <= 10)).float())


def test_training_lowers_the_loss_and_reports_depth_metrics(tmp_path, tiny_split):
    cfg = DepthTrainConfig(
        run_dir=str(tmp_path / "run"),
        train=SplitSpec(f"spatialworld:{tiny_split / 'train'}"),
        val=SplitSpec(f"spatialworld:{tiny_split / 'val'}"),
        model=tiny_model_config(),
        batch_size=4,
        lr=3e-3,
        max_steps=40,
    )
    result = train_depth(cfg, progress=False)
    assert {"abs_rel", "rmse", "d1"} <= set(result["eval"]) and result["eval"]["n"] == 3
    lines = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    losses = [float(line.split(",")[-1]) for line in lines if ",train,loss," in line]
    assert len(losses) == 40 and np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])
    with pytest.raises(ValueError, match="silog"):
        DepthTrainConfig(run_dir="x", train=cfg.train, loss="l2")


def test_depth_losses_by_name():
    target = torch.rand(2, 8, 8) + 1
    valid = torch.ones_like(target)
    # A global scale of 2 costs 10 * log 2 * sqrt(1 - 0.85) under SILog (lambda 0.85), whatever the depths.
    assert float(depth_loss("silog", 2 * target, target, valid)) == pytest.approx(
        10 * np.log(2) * np.sqrt(0.15), rel=1e-4
    )
    assert float(depth_loss("ssi", 2 * target + 1, target, valid)) < 1e-5
