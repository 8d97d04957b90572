"""``groundlm train``: the grounded VLM trained on the engine (:mod:`groundlm.train.engine`), on ``accelerate``
(one CPU, one GPU, or many processes under ``torchrun``/``accelerate``).

Step ``k`` consumes examples ``[k * B, (k+1) * B)`` of the :class:`ExampleStream`; how a step is computed over
micro-batches and processes is :mod:`groundlm.train.grounded`.

A run directory holds ``config.yaml`` (resolved), ``metrics.csv``, ``checkpoints/step-N/`` (model, optimizer,
scheduler and RNG state, :mod:`groundlm.train.checkpoint`) and ``final/`` (a model directory), plus
``summary.json``. ``resume=True`` continues from the newest checkpoint: same weights, optimizer moments, learning
rate and data position, so an interrupted and resumed CPU run ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs

from groundlm import data
from groundlm.backends import HFBackend, NativeBackend
from groundlm.errors import UserError
from groundlm.models.vlm import GroundedVLM
from groundlm.pretrain.tower import ensure_tower
from groundlm.tasks import Task, build_task, fit_model_config
from groundlm.train.batches import StepBatches, decoded_splits, default_workers
from groundlm.train.checkpoint import CHECKPOINTS, checkpoint_to_resume
from groundlm.train.config import SplitSpec, TrainConfig
from groundlm.train.engine import Engine
from groundlm.train.grounded import GroundedSteps, TaskEvaluation
from groundlm.train.metrics_log import MetricsLog
from groundlm.train.schedule import build_optimizer, cosine_schedule
from groundlm.train.stream import ExampleStream

__all__ = ["CHECKPOINTS", "train"]


def _accelerator(cfg: TrainConfig) -> Accelerator:
    """The ``accelerate`` runtime for the configured device and precision (``auto``: bf16 on a GPU, fp32 on the
    CPU); a :class:`UserError` for a device or batch split that cannot work."""
    if cfg.batch_size % cfg.grad_accum:
        raise UserError(f"batch_size {cfg.batch_size} must be a multiple of grad_accum {cfg.grad_accum}")
    if cfg.device not in (None, "cpu", "cuda") and not str(cfg.device).startswith("cuda:"):
        raise UserError(f"device must be cpu or cuda, got {cfg.device!r}")
    if cfg.device and cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device {cfg.device}: no CUDA device is available here")
    on_cpu = cfg.device == "cpu" or not torch.cuda.is_available()
    precision = cfg.precision
    if precision == "auto":
        precision = "no" if on_cpu else "bf16"
    # cpu=True lets accelerate run several CPU processes (gloo) under torchrun or accelerate launch. Parameters a
    # micro-batch does not use (the region encoder without region prompts) must not stall DDP's gradient buckets.
    accelerator = Accelerator(
        cpu=on_cpu,
        mixed_precision="no" if precision in ("no", "fp32") else precision,
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
    )
    micro = cfg.batch_size // cfg.grad_accum
    if micro % accelerator.num_processes:
        raise UserError(
            f"a micro-batch of {micro} examples cannot be split evenly over {accelerator.num_processes} processes"
        )
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    return accelerator


def _resolve_split(
    spec: SplitSpec, is_main: bool, accelerator: Accelerator, loaded: dict[str, data.SampleDataset]
) -> data.SampleDataset:
    """The split, generated first by the main process if needed; loaded once per URI (``loaded`` caches)."""
    if spec.uri not in loaded:
        if spec.missing:
            if is_main:
                spec.make()
            accelerator.wait_for_everyone()
        loaded[spec.uri] = data.load(spec.uri)
    return loaded[spec.uri]


def _backend(cfg: TrainConfig, ckpt: Path | None, device: str | None) -> NativeBackend | HFBackend:
    """The model to train: a transformers VLM (``base_model``, or the run's checkpoint of it), else groundlm's own
    (from the checkpoint, ``init_from``, or fresh weights), with LoRA attached when configured."""
    if cfg.base_model:
        if cfg.init_from:
            raise UserError("base_model and init_from are exclusive: base_model names the transformers model to tune")
        backend: NativeBackend | HFBackend = HFBackend.load(ckpt or cfg.base_model, cfg.backend, device, trainable=True)
    elif ckpt is not None:
        backend = NativeBackend(GroundedVLM.from_pretrained(ckpt))
    elif cfg.init_from:
        backend = NativeBackend(GroundedVLM.from_pretrained(cfg.init_from))
    else:
        backend = NativeBackend(GroundedVLM(cfg.model))
    if cfg.lora is not None and not backend.has_lora:
        backend.attach_lora(cfg.lora)
    backend.module.train()
    return backend


@dataclass
class _Setup:
    """What a run trains on: the model, its tasks (with the options they were built with), their example stream
    and their validation splits (``None`` where a task has none)."""

    backend: NativeBackend | HFBackend
    tasks: list[Task]
    task_options: list[dict[str, Any]]
    stream: ExampleStream
    task_val: list[data.SampleDataset | None]


def _setup(cfg: TrainConfig, accelerator: Accelerator, ckpt: Path | None, progress: bool) -> _Setup:
    """The splits (generated first where missing), the tower (pretrained first where configured and missing), the
    model and the tasks, in the order a run has always drawn its random numbers."""
    is_main = accelerator.is_main_process
    loaded: dict[str, data.SampleDataset] = {}
    train_ds = _resolve_split(cfg.train, is_main, accelerator, loaded)
    val_ds = _resolve_split(cfg.val, is_main, accelerator, loaded) if cfg.val else None
    tower = cfg.model.vision.path
    if cfg.tower_preset and tower and ckpt is None and not cfg.init_from and not cfg.base_model:
        if is_main:
            ensure_tower(tower, cfg.tower_preset, progress=progress)
        accelerator.wait_for_everyone()
    cfg.model = fit_model_config(cfg.model, train_ds)  # what the model's parts derive from the training split
    backend = _backend(cfg, ckpt, "cpu" if accelerator.device.type == "cpu" else None)
    # Each task with the backend's own answer syntax (a transformers VLM writes boxes in its family's format).
    task_options = [backend.task_options(t.name, t.options) for t in cfg.tasks]
    tasks = [build_task(t.name, **options) for t, options in zip(cfg.tasks, task_options)]
    backend.record_tasks({t.name: options for t, options in zip(cfg.tasks, task_options)})  # saved in manifests
    task_train = [_resolve_split(t.data, is_main, accelerator, loaded) if t.data else train_ds for t in cfg.tasks]
    task_val = [_resolve_split(t.val, is_main, accelerator, loaded) if t.val else val_ds for t in cfg.tasks]
    stream = ExampleStream(task_train, tasks, [t.weight for t in cfg.tasks], cfg.seed)
    losses = ["lm", *backend.heads, *backend.region_losses]
    unknown = set(cfg.loss_weights) - set(losses)
    if unknown:
        raise UserError(
            f"loss_weights: the model has no loss named {', '.join(sorted(unknown))}; it has {', '.join(losses)}"
        )
    return _Setup(backend, tasks, task_options, stream, task_val)


def _steps(
    cfg: TrainConfig,
    accelerator: Accelerator,
    run: _Setup,
    model: torch.nn.Module,
    params: list[torch.nn.Parameter],
    log: MetricsLog | None,
    progress: bool,
    preload: bool,
) -> GroundedSteps:
    """The VLM as the engine trains it: each step's micro-batches of the run's stream (read from decoded pixel
    arrays with ``decoded_cache``), and every task's evaluation."""
    world, rank = accelerator.num_processes, accelerator.process_index
    workers = cfg.workers if cfg.workers is not None else default_workers()
    decoded = decoded_splits(run.stream.datasets, progress and accelerator.is_main_process) if cfg.decoded_cache else []
    collator = run.backend.collator
    batches = StepBatches(run.stream, collator, cfg.batch_size, cfg.grad_accum, cfg.max_steps, rank, world, decoded)
    steps = GroundedSteps(
        accelerator, run.backend, model, params, batches, workers, preload, cfg.loss_weights, cfg.batch_size
    )
    steps.evaluation = TaskEvaluation(cfg, run.backend, run.tasks, run.task_val, log)
    return steps


def _finish(cfg: TrainConfig, run: _Setup, steps: GroundedSteps, seconds: float) -> dict[str, Any]:
    """Write ``final/`` (the model, whose manifest names the tasks it learned with their options) and
    ``summary.json``; returns the summary."""
    run_dir = Path(cfg.run_dir)
    run.backend.save(run_dir / "final")
    evals = steps.evaluation.latest if steps.evaluation is not None else {}
    summary = {
        "steps": cfg.max_steps,
        "examples": cfg.max_steps * cfg.batch_size,
        "processes": steps.accelerator.num_processes,
        "train_seconds": round(seconds, 3),
        "data_wait_seconds": round(steps.waited, 3),  # time the steps waited for their batches
        "workers": steps.workers,
        "eval": evals.get(run.tasks[0].name, {}),  # the first task's, as a run's headline
        "eval_tasks": evals,
        "final_model": str(run_dir / "final"),
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def train(
    cfg: TrainConfig,
    resume: bool = False,
    progress: bool = True,
    stop_after: int | None = None,
    preload: bool = False,
) -> dict[str, Any]:
    """Train as configured; returns the summary written to ``summary.json``.

    ``stop_after`` ends the run after that many steps as an interruption would (after the step's checkpoint, if one
    is due), leaving the run to be resumed, and returns ``{"interrupted_at": step}``. ``preload`` builds every
    step's batches before the clock starts, so that the run times the model step alone (``groundlm bench train``).
    """
    accelerator = _accelerator(cfg)
    is_main = accelerator.is_main_process
    run_dir = Path(cfg.run_dir)
    ckpt = checkpoint_to_resume(run_dir, resume, check_fresh=is_main)
    if is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    torch.manual_seed(cfg.seed)
    run = _setup(cfg, accelerator, ckpt, progress)
    params = [p for p in run.backend.module.parameters() if p.requires_grad]
    schedule = cosine_schedule(cfg.warmup, cfg.max_steps)
    optimizer, scheduler = build_optimizer(params, cfg.lr, cfg.weight_decay, schedule)
    model, optimizer = accelerator.prepare(run.backend.module, optimizer)
    log = MetricsLog(run_dir / "metrics.csv", run_dir / "tensorboard" if cfg.tensorboard else None) if is_main else None
    steps = _steps(cfg, accelerator, run, model, params, log, progress, preload)
    engine = Engine(
        optimizer, scheduler, cfg.max_steps, cfg.grad_clip, run_dir, cfg.save_every, cfg.eval_every, log, progress,
        is_main=is_main, barrier=accelerator.wait_for_everyone, clip=accelerator.clip_grad_norm_,
    )  # fmt: skip
    outcome = engine.run(steps, resume_from=ckpt, stop_after=stop_after)
    summary: dict[str, Any] = {}
    if outcome.interrupted:
        summary = {"interrupted_at": outcome.steps}
    elif is_main:
        summary = _finish(cfg, run, steps, outcome.seconds)
    if log is not None:
        log.close()
    if not outcome.interrupted:
        accelerator.wait_for_everyone()
    accelerator.end_training()
    return summary
