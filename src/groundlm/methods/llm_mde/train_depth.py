"""LLM-MDE's training (docs/architecture.md, section 6.2): depth regressors (:class:`~.modeling_depth_lm.DepthLM` and
the baselines of :mod:`groundlm.baselines.depth_cnn`) trained on the shared machinery (the training engine
:mod:`groundlm.train.engine`, the depth metrics). A depth regressor is a module called as
``model(pixel_values, prompt_ids, prompt_mask)`` -> ``[B, h, w]`` metres; one with a ``prompt_batch`` method reads
prompts. Batch ``k`` is a pure function of ``(seed, k)``.

Registered as the trainer ``depth`` (:data:`groundlm.train.trainers.TRAINERS`): ``groundlm train CONFIG`` runs
:func:`train_depth` for a config with ``method: depth``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from groundlm.data.sample import Sample
from groundlm.device import resolve_device
from groundlm.errors import UserError
from groundlm.methods.llm_mde.inference_depth import depth_forward, evaluate_depth
from groundlm.methods.llm_mde.modeling_depth_lm import DepthLM, DepthLMConfig
from groundlm.methods.llm_mde.task_depth import DepthBatcher
from groundlm.metrics.depth import ALIGNMENTS
from groundlm.models.depth_losses import silog_loss, ssi_loss
from groundlm.pretrain.tower import ensure_tower
from groundlm.train.checkpoint import checkpoint_to_resume
from groundlm.train.config import SplitSpec, load_typed
from groundlm.train.engine import Engine, Outcome, Trainable
from groundlm.train.metrics_log import MetricsLog
from groundlm.train.schedule import build_optimizer, cosine_schedule
from groundlm.train.trainers import register_trainer

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
    save_every: int = 0  # a checkpoint every this many steps and after the last (0: none), to resume from
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


class DepthSteps(Trainable):
    """A depth regressor's optimisation steps: step ``k`` draws ``batch_size`` samples with replacement by
    ``numpy.random.default_rng([seed, k])`` (so a step's batch needs no state to come back), predicts their depth,
    resized (bilinear) to the target map where its size differs, and scores it by the named loss."""

    def __init__(
        self,
        model: nn.Module,
        batcher: DepthBatcher,
        samples: Sequence[Sample],
        batch_size: int,
        loss: str,
        seed: int,
        device: torch.device,
    ) -> None:
        self.module, self.batcher, self.samples = model, batcher, samples
        self.batch_size, self.loss, self.seed, self.device = batch_size, loss, seed, device
        self.tokenize = getattr(model, "prompt_batch", None)

    def backward(self, step: int) -> dict[str, float]:
        rng = np.random.default_rng([self.seed, step])
        picked = [self.samples[i] for i in rng.integers(len(self.samples), size=self.batch_size)]
        batch = {k: v.to(self.device) for k, v in self.batcher.batch(picked, self.tokenize).items()}
        pred = depth_forward(self.module, batch)
        size = batch["depth"].shape[-2:]
        if pred.shape[-2:] != size:
            pred = F.interpolate(pred[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
        value = depth_loss(self.loss, pred, batch["depth"], batch["valid"])
        value.backward()
        return {"loss": value.item()}


def _fit(
    model: nn.Module,
    batcher: DepthBatcher,
    samples: Sequence[Sample],
    steps: int,
    batch_size: int,
    lr: float,
    loss: str,
    seed: int,
    weight_decay: float,
    warmup: float,
    log: MetricsLog | None,
    device: str | None,
    progress: bool,
    desc: str,
    run_dir: Path | None = None,
    save_every: int = 0,
    resume_from: Path | None = None,
    stop_after: int | None = None,
) -> Outcome:
    """:func:`fit_depth` on the engine, with checkpoints every ``save_every`` steps into ``run_dir``."""
    dev = resolve_device(device)
    model.to(dev).train()
    trainable = DepthSteps(model, batcher, samples, batch_size, loss, seed, dev)
    optimizer, scheduler = build_optimizer(trainable.parameters(), lr, weight_decay, cosine_schedule(warmup, steps))
    engine = Engine(
        optimizer, scheduler, steps, grad_clip=1.0, run_dir=run_dir, save_every=save_every, log=log,
        progress=progress, desc=desc, leave=False,
    )  # fmt: skip
    return engine.run(trainable, resume_from, stop_after)


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
    """Train ``model`` for ``steps`` steps of ``batch_size`` samples drawn with replacement (:class:`DepthSteps`;
    AdamW on what requires grad, cosine schedule, gradients clipped at norm 1). Returns the training seconds."""
    return _fit(
        model, batcher, samples, steps, batch_size, lr, loss, seed, weight_decay, warmup, log, device, progress, desc
    ).seconds


def train_depth(
    cfg: DepthTrainConfig, progress: bool = True, resume: bool = False, stop_after: int | None = None
) -> dict[str, Any]:
    """Train as configured: the metrics log in ``run_dir/metrics.csv``, checkpoints every ``save_every`` steps in
    ``run_dir/checkpoints``, the model in ``run_dir/final``, the summary (``steps``, ``train_seconds``, ``eval``) in
    ``run_dir/summary.json`` and returned. ``resume`` continues from the newest checkpoint, exactly; ``stop_after``
    ends the run after that many steps as an interruption would, returning ``{"interrupted_at": step}``."""
    run = Path(cfg.run_dir)
    ckpt = checkpoint_to_resume(run, resume)
    if cfg.tower_preset and cfg.model.vision.path and not Path(cfg.model.vision.path).exists():
        ensure_tower(cfg.model.vision.path, cfg.tower_preset, progress=progress)
    torch.manual_seed(cfg.seed)
    samples = with_depth([s for split in cfg.splits for s in split.load(progress)], "depth training data")
    val = with_depth(cfg.val.load(progress), "depth validation data")[: cfg.eval_items] if cfg.val else []
    model = DepthLM(cfg.model)
    batcher = DepthBatcher.for_model(model)
    run.mkdir(parents=True, exist_ok=True)
    log = MetricsLog(run / "metrics.csv", None)
    outcome = _fit(
        model, batcher, samples, cfg.max_steps, cfg.batch_size, cfg.lr, cfg.loss, cfg.seed, cfg.weight_decay,
        cfg.warmup, log, cfg.device, progress, "depth", run, cfg.save_every, ckpt, stop_after,
    )  # fmt: skip
    if outcome.interrupted:
        log.close()
        return {"interrupted_at": outcome.steps}
    model.save_pretrained(run / "final")
    metrics = evaluate_depth(model, batcher, val, cfg.align) if val else {}
    if metrics:
        log.log(cfg.max_steps, "eval/depth", metrics)
    log.close()
    summary = {
        "steps": cfg.max_steps,
        "train_seconds": round(outcome.seconds, 1),
        "eval": metrics,
        "final_model": str(run / "final"),
    }
    (run / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (run / "config.json").write_text(json.dumps(asdict(cfg), indent=2, default=str) + "\n")
    return summary


register_trainer("depth", load_depth_config, train_depth)
