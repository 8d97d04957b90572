"""Training and measuring depth regressors: :class:`~groundlm.methods.llm_mde.modeling_depth_lm.DepthLM` and the
baselines of :mod:`groundlm.baselines.depth_cnn`, on the shared machinery (the cosine schedule, the metrics log, the
depth metrics). A depth regressor is a module called as ``model(pixel_values, prompt_ids, prompt_mask)`` ->
``[B, h, w]`` metres; one with a ``prompt_batch`` method reads prompts. Batch ``k`` is a pure function of ``(seed, k)``.

``groundlm train CONFIG`` runs :func:`train_depth` for a config with ``method: depth``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from groundlm.data.sample import Sample
from groundlm.device import resolve_device
from groundlm.errors import UserError
from groundlm.inference.depth import depth_forward, evaluate_depth
from groundlm.methods.llm_mde.modeling_depth_lm import DepthLM, DepthLMConfig
from groundlm.methods.llm_mde.task_depth import DepthBatcher
from groundlm.metrics.depth import ALIGNMENTS
from groundlm.models.depth_losses import silog_loss, ssi_loss
from groundlm.pretrain.tower import ensure_tower
from groundlm.train.config import SplitSpec, load_typed
from groundlm.train.metrics_log import MetricsLog
from groundlm.train.schedule import cosine_schedule

DEPTH_LOSSES = ("silog", "ssi")


@dataclass
class DepthTrainConfig:
    """``train``: one split or several (mixed); ``align``: how held-out predictions are aligned before scoring
    (:data:`~groundlm.metrics.depth.ALIGNMENTS`; ``none`` for metric depth)."""

    run_dir: str
    train: SplitSpec | list[SplitSpec]
    val: SplitSpec | None = None
    model: DepthLMConfig = field(default_factory=DepthLMConfig)
    method: str = "depth"
    loss: str = "silog"
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: float = 0.05
    max_steps: int = 500
    eval_items: int = 100
    align: str = "none"
    seed: int = 0
    device: str | None = None  # None: CUDA when present
    tower_preset: str | None = None  # builds model.vision.path with this preset when the folder is missing

    def __post_init__(self) -> None:
        if self.loss not in DEPTH_LOSSES:
            raise ValueError(f"depth loss must be one of {', '.join(DEPTH_LOSSES)}, got {self.loss!r}")
        if self.align not in ALIGNMENTS:
            raise ValueError(f"align must be one of {', '.join(ALIGNMENTS)}, got {self.align!r}")

    @property
    def splits(self) -> list[SplitSpec]:
        return self.train if isinstance(self.train, list) else [self.train]


def load_depth_config(path: str | Path, overrides: Sequence[str] = ()) -> DepthTrainConfig:
    """A depth training config (YAML, ``method: depth``) with ``key.sub=value`` overrides."""
    return load_typed(DepthTrainConfig, path, overrides, required=("run_dir", "train"))


def depth_loss(name: str, pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """``silog`` on log depths, or ``ssi`` on depths (metres), over ``valid`` pixels; shapes ``[B, o, o]``."""
    if name == "silog":
        return silog_loss(pred.clamp_min(1e-3).log(), target.clamp_min(1e-3).log(), valid)
    return ssi_loss(pred, target, valid)


def with_depth(samples: Sequence[Sample], where: str) -> list[Sample]:
    """The samples that have a picture and a depth map; a :class:`UserError` if none has."""
    usable = [s for s in samples if s.depth_loader is not None and (s.image_path or s.image_loader)]
    if not usable:
        raise UserError(f"{where}: no sample has both a picture and a depth map")
    return usable


def fit_depth(
    model: nn.Module,
    batcher: DepthBatcher,
    samples: Sequence[Sample],
    steps: int,
    batch_size: int = 16,
    lr: float = 1e-3,
    loss: str = "silog",
    seed: int = 0,
    weight_decay: float = 0.01,
    warmup: float = 0.05,
    log: MetricsLog | None = None,
    device: str | None = None,
    progress: bool = True,
    desc: str = "depth",
) -> float:
    """Train ``model`` for ``steps`` steps of ``batch_size`` samples drawn with replacement (AdamW on what
    requires grad, cosine schedule, gradients clipped at norm 1); a prediction of another size than the target
    map is resized (bilinear) to it. Returns the training seconds."""
    dev = resolve_device(device)
    model.to(dev).train()
    tokenize = getattr(model, "prompt_batch", None)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_schedule(warmup, steps))
    start = time.perf_counter()
    for step in tqdm(range(steps), desc=desc, unit="step", disable=not progress, leave=False):
        rng = np.random.default_rng([seed, step])
        batch = batcher.batch([samples[i] for i in rng.integers(len(samples), size=batch_size)], tokenize)
        batch = {k: v.to(dev) for k, v in batch.items()}
        pred = depth_forward(model, batch)
        if pred.shape[-2:] != batch["depth"].shape[-2:]:
            pred = F.interpolate(pred[:, None], size=batch["depth"].shape[-2:], mode="bilinear", align_corners=False)[
                :, 0
            ]
        value = depth_loss(loss, pred, batch["depth"], batch["valid"])
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        if log is not None:
            log.log(step + 1, "train", {"loss": value.item(), "lr": scheduler.get_last_lr()[0]})
    return time.perf_counter() - start


def train_depth(cfg: DepthTrainConfig, progress: bool = True) -> dict[str, Any]:
    """Train as configured: the metrics log in ``run_dir/metrics.csv``, the model in ``run_dir/final``, the summary
    (``steps``, ``train_seconds``, ``eval``) in ``run_dir/summary.json`` and returned."""
    if cfg.tower_preset and cfg.model.vision.path and not Path(cfg.model.vision.path).exists():
        ensure_tower(cfg.model.vision.path, cfg.tower_preset, progress=progress)
    torch.manual_seed(cfg.seed)
    samples = with_depth([s for split in cfg.splits for s in split.load(progress)], "depth training data")
    val = with_depth(cfg.val.load(progress), "depth validation data")[: cfg.eval_items] if cfg.val else []
    model = DepthLM(cfg.model)
    batcher = DepthBatcher.for_model(model)
    run = Path(cfg.run_dir)
    run.mkdir(parents=True, exist_ok=True)
    log = MetricsLog(run / "metrics.csv", None)
    seconds = fit_depth(
        model, batcher, samples, cfg.max_steps, cfg.batch_size, cfg.lr, cfg.loss, cfg.seed, cfg.weight_decay,
        cfg.warmup, log, cfg.device, progress,
    )  # fmt: skip
    model.save_pretrained(run / "final")
    metrics = evaluate_depth(model, batcher, val, cfg.align) if val else {}
    if metrics:
        log.log(cfg.max_steps, "eval/depth", metrics)
    log.close()
    summary = {
        "steps": cfg.max_steps,
        "train_seconds": round(seconds, 1),
        "eval": metrics,
        "final_model": str(run / "final"),
    }
    (run / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (run / "config.json").write_text(json.dumps(asdict(cfg), indent=2, default=str) + "\n")
    return summary
