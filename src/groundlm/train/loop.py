"""The training loop, on ``accelerate`` (one CPU, one GPU, or many processes under ``torchrun``/``accelerate``).

One optimisation step consumes ``batch_size`` examples of the :class:`ExampleStream`, ``[step * B, (step+1) * B)``,
split into ``grad_accum`` micro-batches, each shared between processes by rank. The loss is the sum of token
cross-entropies divided by the number of target tokens in the whole global batch (times the process count, since
data-parallel training averages gradients), so N processes compute the same update as one.

The model returns named losses (``lm`` and one per head with targets, :mod:`groundlm.models.vlm`); each is
normalised by its count over the global batch in the same way, weighted by ``loss_weights`` and summed.

A run directory holds ``config.yaml`` (resolved), ``metrics.csv``, ``checkpoints/step-N/`` (model, optimizer,
scheduler and RNG state, written to a temporary folder and renamed) and ``final/`` (a model directory), plus
``summary.json``. ``resume=True`` continues from the newest checkpoint: same weights, optimizer moments, learning
rate and data position, so an interrupted and resumed CPU run ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import torch
import yaml
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs
from tqdm import tqdm

from groundlm import data
from groundlm.backends import HFBackend, NativeBackend
from groundlm.errors import UserError
from groundlm.inference.collate import to_device
from groundlm.inference.images import ImageCache
from groundlm.models.losses import target_rows, target_tokens
from groundlm.models.vlm import GroundedVLM
from groundlm.pretrain.tower import ensure_tower
from groundlm.tasks import build_task, fit_model_config
from groundlm.train.batches import StepBatches, decoded_splits, default_workers, step_loader
from groundlm.train.config import SplitSpec, TrainConfig
from groundlm.train.evaluate import evaluate_backend
from groundlm.train.metrics_log import MetricsLog
from groundlm.train.schedule import cosine_schedule
from groundlm.train.stream import ExampleStream

CHECKPOINTS = "checkpoints"


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


def _loss_counts(batches: list[dict], heads: list[str], region_losses: list[str] = ()) -> dict[str, int]:
    """What each named loss scores in these micro-batches: ``lm`` target tokens, each head's target rows, and the
    regions each region decoder scores (every loss named, 0 when no example has targets for it, so that all
    processes reduce the same names)."""
    counts = {"lm": sum(target_tokens(b["labels"]) for b in batches), **dict.fromkeys([*heads, *region_losses], 0)}
    for b in batches:
        for name, target in b.get("head_targets", {}).items():
            counts[name] += target_rows(target)
        for name, count in b.get("region_inputs", {}).get("counts", {}).items():
            if name in counts:
                counts[name] += int(count)
    return counts


def _reduce_sum(accelerator: Accelerator, values: list[float], dtype: torch.dtype) -> list[float]:
    """``values`` summed over processes, in one collective call."""
    summed = accelerator.reduce(torch.tensor(values, dtype=dtype, device=accelerator.device), "sum")
    return [float(v) for v in summed]


def _latest_checkpoint(run_dir: Path) -> Path | None:
    ckpts = sorted((run_dir / CHECKPOINTS).glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
    ckpts = [c for c in ckpts if (c / "state.pt").is_file()]
    return ckpts[-1] if ckpts else None


def _save_checkpoint(run_dir: Path, step: int, backend: NativeBackend | HFBackend, optimizer, scheduler) -> Path:
    final = run_dir / CHECKPOINTS / f"step-{step}"
    tmp = run_dir / CHECKPOINTS / f".step-{step}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    backend.save(tmp)
    torch.save(
        {
            "step": step,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(),
        },
        tmp / "state.pt",
    )
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    return final


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


def train(
    cfg: TrainConfig,
    resume: bool = False,
    progress: bool = True,
    stop_after: int | None = None,
    preload: bool = False,
) -> dict[str, Any]:
    """Train as configured; returns the summary written to ``summary.json``.

    ``stop_after`` ends the run after that many steps as an interruption would (after the step's checkpoint, if one
    is due), leaving the run to be resumed. ``preload`` builds every step's batches before the clock starts, so that
    the run times the model step alone (``groundlm bench train``).
    """
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
    world, rank, is_main = accelerator.num_processes, accelerator.process_index, accelerator.is_main_process
    micro = cfg.batch_size // cfg.grad_accum
    if micro % world:
        raise UserError(f"a micro-batch of {micro} examples cannot be split evenly over {world} processes")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    run_dir = Path(cfg.run_dir)
    ckpt = _latest_checkpoint(run_dir) if resume else None
    if resume and ckpt is None:
        raise UserError(f"--resume: no checkpoint in {run_dir / CHECKPOINTS}")
    if not resume and is_main and (run_dir / CHECKPOINTS).exists() and any((run_dir / CHECKPOINTS).iterdir()):
        raise UserError(f"{run_dir} already has checkpoints; pass --resume to continue or choose another run_dir")
    if is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))

    torch.manual_seed(cfg.seed)
    loaded: dict[str, data.SampleDataset] = {}
    train_ds = _resolve_split(cfg.train, is_main, accelerator, loaded)
    val_ds = _resolve_split(cfg.val, is_main, accelerator, loaded) if cfg.val else None
    tower = cfg.model.vision.path
    if cfg.tower_preset and tower and ckpt is None and not cfg.init_from and not cfg.base_model:
        if is_main:
            ensure_tower(tower, cfg.tower_preset, progress=progress)
        accelerator.wait_for_everyone()
    cfg.model = fit_model_config(cfg.model, train_ds)  # what the model's parts derive from the training split
    backend = _backend(cfg, ckpt, "cpu" if on_cpu else None)
    model, collator, heads = backend.module, backend.collator, list(backend.heads)
    region_losses = list(backend.region_losses)
    # Each task with the backend's own answer syntax (a transformers VLM writes boxes in its family's format).
    task_options = [backend.task_options(t.name, t.options) for t in cfg.tasks]
    tasks = [build_task(t.name, **options) for t, options in zip(cfg.tasks, task_options)]
    backend.record_tasks({t.name: options for t, options in zip(cfg.tasks, task_options)})  # saved in manifests
    task_train = [_resolve_split(t.data, is_main, accelerator, loaded) if t.data else train_ds for t in cfg.tasks]
    task_val = [_resolve_split(t.val, is_main, accelerator, loaded) if t.val else val_ds for t in cfg.tasks]
    stream = ExampleStream(task_train, tasks, [t.weight for t in cfg.tasks], cfg.seed)

    unknown = set(cfg.loss_weights) - {"lm", *heads, *region_losses}
    if unknown:
        known = ", ".join(["lm", *heads, *region_losses])
        raise UserError(f"loss_weights: the model has no loss named {', '.join(sorted(unknown))}; it has {known}")
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_schedule(cfg.warmup, cfg.max_steps))
    start_step = 0
    if ckpt is not None:
        state = torch.load(ckpt / "state.pt", weights_only=False)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        start_step = state["step"]
    ddp_model, optimizer = accelerator.prepare(model, optimizer)
    images = ImageCache()  # for the evaluations; the training batches' workers keep their own
    workers = cfg.workers if cfg.workers is not None else default_workers()
    decoded = decoded_splits(stream.datasets, progress and is_main) if cfg.decoded_cache else []
    step_batches = StepBatches(stream, collator, cfg.batch_size, cfg.grad_accum, cfg.max_steps, rank, world, decoded)
    on_gpu = accelerator.device.type == "cuda"
    feed = step_loader(step_batches, start_step, workers, pin_memory=on_gpu)
    if preload:
        feed = iter(list(feed))
    log = MetricsLog(run_dir / "metrics.csv", run_dir / "tensorboard" if cfg.tensorboard else None) if is_main else None

    bar = tqdm(total=cfg.max_steps, initial=start_step, desc="train", unit="step", disable=not (progress and is_main))
    t_start, seen, waited = time.perf_counter(), 0, 0.0
    evals: dict[str, dict[str, Any]] = {}  # latest metrics per task
    for step in range(start_step, cfg.max_steps):
        t_wait = time.perf_counter()
        batches = next(feed)
        waited += time.perf_counter() - t_wait
        # What each loss scores in the whole global batch (target tokens, head target rows), summed over processes;
        # divided by the process count because data-parallel training averages gradients.
        counts = _loss_counts(batches, heads, region_losses)
        totals = _reduce_sum(accelerator, list(counts.values()), torch.float64)
        normalizers = {name: total / world for name, total in zip(counts, totals)}
        parts = dict.fromkeys(normalizers, 0.0)
        for k, batch in enumerate(batches):
            batch = to_device(batch, accelerator.device, non_blocking=on_gpu)
            sync = k == len(batches) - 1
            ctx = accelerator.no_sync(ddp_model) if (not sync and world > 1) else contextlib.nullcontext()
            with ctx, accelerator.autocast():
                losses = ddp_model(**batch, normalizers=normalizers).losses
                loss = sum(cfg.loss_weights.get(name, 1.0) * value for name, value in losses.items())
                accelerator.backward(loss)
            for name, value in losses.items():
                parts[name] += float(value.detach()) / world
        names = sorted(parts)
        parts = dict(zip(names, _reduce_sum(accelerator, [parts[n] for n in names], torch.float32)))
        loss_total = sum(cfg.loss_weights.get(name, 1.0) * v for name, v in parts.items())
        if cfg.grad_clip:
            accelerator.clip_grad_norm_(params, cfg.grad_clip)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        seen += cfg.batch_size
        elapsed = time.perf_counter() - t_start
        if is_main:
            rate = seen / max(elapsed, 1e-9)
            bar.set_postfix(loss=f"{loss_total:.3f}", samples_s=f"{rate:.1f}")
            bar.update(1)
            values = {"loss": loss_total, "lr": scheduler.get_last_lr()[0], "samples_per_s": rate}
            if len(parts) > 1:  # each named loss, unweighted, when there is more than the language loss
                values.update({f"loss/{name}": v for name, v in parts.items()})
            log.log(step + 1, "train", values)
        done = step + 1
        due = cfg.eval_every and (done % cfg.eval_every == 0 or done == cfg.max_steps)
        if due and any(v is not None for v in task_val):
            if is_main:
                for task, split in zip(tasks, task_val):
                    if split is None:
                        continue
                    metrics = evaluate_backend(
                        backend, task, split, cfg.eval_items, cfg.max_new_tokens, cfg.num_beams, images, cfg.numeric
                    )
                    evals[task.name] = metrics
                    log.log(done, f"eval/{task.name}", metrics)
                    tqdm.write(
                        f"step {done}: {task.name} "
                        + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if isinstance(v, float))
                    )
            accelerator.wait_for_everyone()
        if cfg.save_every and (done % cfg.save_every == 0 or done == cfg.max_steps):
            if is_main:
                _save_checkpoint(run_dir, done, backend, optimizer, scheduler)
            accelerator.wait_for_everyone()
        if stop_after is not None and done >= stop_after and done < cfg.max_steps:
            bar.close()
            if log is not None:
                log.close()
            accelerator.end_training()
            return {"interrupted_at": done}
    bar.close()
    summary: dict[str, Any] = {}
    if is_main:
        backend.save(run_dir / "final")
        summary = {
            "steps": cfg.max_steps,
            "examples": cfg.max_steps * cfg.batch_size,
            "processes": world,
            "train_seconds": round(time.perf_counter() - t_start, 3),
            "data_wait_seconds": round(waited, 3),  # time the steps waited for their batches
            "workers": workers,
            "eval": evals.get(tasks[0].name, {}),  # the first task's, as a run's headline
            "eval_tasks": evals,
            "final_model": str(run_dir / "final"),
        }
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        log.close()
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return summary
