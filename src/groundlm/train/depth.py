"""Training :class:`~groundlm.models.depth_lm.DepthLM` on a depth split, on the shared machinery (the cosine
schedule, the metrics log): AdamW on what is not frozen, SILog or the scale-and-shift-invariant loss, and the depth
metrics of :mod:`groundlm.metrics.depth` on held-out images. Batch ``k`` is a pure function of ``(seed, k)``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from groundlm.inference.generate import evaluating
from groundlm.metrics.depth import depth_metrics
from groundlm.models.depth_lm import DepthLM, DepthLMConfig
from groundlm.models.depth_losses import silog_loss, ssi_loss
from groundlm.tasks.depth import DepthBatcher
from groundlm.train.config import SplitSpec
from groundlm.train.metrics_log import MetricsLog
from groundlm.train.schedule import cosine_schedule

DEPTH_LOSSES = ("silog", "ssi")


@dataclass
class DepthTrainConfig:
    run_dir: str
    train: SplitSpec
    val: SplitSpec | None = None
    model: DepthLMConfig = field(default_factory=DepthLMConfig)
    loss: str = "silog"
    prompt: str = "adaptive"
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: float = 0.05
    max_steps: int = 500
    eval_items: int = 100
    seed: int = 0

    def __post_init__(self) -> None:
        if self.loss not in DEPTH_LOSSES:
            raise ValueError(f"depth loss must be one of {', '.join(DEPTH_LOSSES)}, got {self.loss!r}")


def depth_loss(name: str, pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """``silog`` on log depths, or ``ssi`` on depths (metres), over ``valid`` pixels; shapes ``[B, o, o]``."""
    if name == "silog":
        return silog_loss(pred.clamp_min(1e-3).log(), target.clamp_min(1e-3).log(), valid)
    return ssi_loss(pred, target, valid)


@torch.no_grad()
def evaluate_depth(model: DepthLM, batcher: DepthBatcher, samples, batch_size: int = 16) -> dict[str, float]:
    """Depth metrics (:func:`~groundlm.metrics.depth.depth_metrics`, no alignment) of the model's maps against the
    nearest-resized ground truth, over ``samples``."""
    pairs = []
    with evaluating(model):
        for k in range(0, len(samples), batch_size):
            batch = batcher.batch(samples[k : k + batch_size], model)
            pred = model(batch["pixel_values"], batch["prompt_ids"], batch["prompt_mask"])
            pairs += [(p.numpy(), g.numpy()) for p, g in zip(pred, batch["depth"])]
    return depth_metrics(pairs, max_depth=batcher.max_depth)


def train_depth(cfg: DepthTrainConfig, progress: bool = True) -> dict[str, Any]:
    """Train as configured; returns ``{"steps", "train_seconds", "eval"}`` and logs to ``run_dir/metrics.csv``."""
    torch.manual_seed(cfg.seed)
    train_ds = cfg.train.load(progress)
    val_ds = cfg.val.load(progress) if cfg.val else None
    usable = [s for s in train_ds if s.image_path is not None or s.image_loader is not None]
    model = DepthLM(cfg.model)
    grid = model.tower.grid
    batcher = DepthBatcher(
        model.tower.image_size,
        grid * 2**cfg.model.head_blocks,
        cfg.model.vision.image_mean,
        cfg.model.vision.image_std,
        cfg.model.max_depth,
        prompt=cfg.prompt,
    )
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_schedule(cfg.warmup, cfg.max_steps))
    run = Path(cfg.run_dir)
    run.mkdir(parents=True, exist_ok=True)
    log = MetricsLog(run / "metrics.csv", None)
    model.train()
    start = time.perf_counter()
    for step in tqdm(range(cfg.max_steps), desc="depth", unit="step", disable=not progress):
        rng = np.random.default_rng([cfg.seed, step])
        batch = batcher.batch([usable[i] for i in rng.integers(len(usable), size=cfg.batch_size)], model)
        pred = model(batch["pixel_values"], batch["prompt_ids"], batch["prompt_mask"])
        loss = depth_loss(cfg.loss, pred, batch["depth"], batch["valid"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        log.log(step + 1, "train", {"loss": loss.item(), "lr": scheduler.get_last_lr()[0]})
    seconds = time.perf_counter() - start
    metrics = evaluate_depth(model, batcher, val_ds[: cfg.eval_items]) if val_ds is not None else {}
    if metrics:
        log.log(cfg.max_steps, "eval/depth", metrics)
    log.close()
    return {"steps": cfg.max_steps, "train_seconds": round(seconds, 1), "eval": metrics, "model": model}
