"""The grounded VLM as the training engine (:mod:`groundlm.train.engine`) sees it: one optimisation step over
micro-batches on ``accelerate``, and the periodic evaluation of every task.

One optimisation step consumes ``batch_size`` examples, split into ``grad_accum`` micro-batches, each shared between
processes by rank. Each named loss (``lm`` and one per head or region decoder with targets,
:mod:`groundlm.models.vlm`) is divided by what it scores in the whole global batch (target tokens, target rows,
regions) times the process count, since data-parallel training averages gradients, so N processes compute the same
update as one; the losses are weighted by ``loss_weights`` and summed.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from torch import nn
from tqdm import tqdm

from groundlm import data
from groundlm.backends.base import Backend
from groundlm.inference.collate import to_device
from groundlm.inference.images import ImageCache
from groundlm.models.losses import target_rows, target_tokens
from groundlm.tasks.base import Task
from groundlm.train.batches import StepBatches, step_loader
from groundlm.train.config import TrainConfig
from groundlm.train.engine import Trainable
from groundlm.train.evaluate import evaluate_backend
from groundlm.train.metrics_log import MetricsLog


def loss_counts(batches: list[dict], heads: Sequence[str], region_losses: Sequence[str] = ()) -> dict[str, int]:
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


class GroundedSteps(Trainable):
    """The VLM's optimisation steps: ``batches`` makes each step's micro-batches (in ``workers`` data processes;
    with ``preload``, every step's before the first runs, so that the run times the model step alone), ``model`` is
    the module ``accelerate`` prepared (DDP under several processes), ``params`` what the optimizer updates.
    ``waited`` adds up the seconds the steps waited for their batches."""

    def __init__(
        self,
        accelerator: Accelerator,
        backend: Backend,
        model: nn.Module,
        params: list[nn.Parameter],
        batches: StepBatches,
        workers: int,
        preload: bool,
        loss_weights: dict[str, float],
        examples_per_step: int,
    ) -> None:
        self.accelerator, self.backend, self.model, self.params = accelerator, backend, model, params
        self.batches, self.workers, self.preload = batches, workers, preload
        self.feed: Iterator[list[dict]] = iter(())
        self.module = backend.module
        self.heads, self.region_losses = list(backend.heads), list(backend.region_losses)
        self.loss_weights = loss_weights
        self.examples_per_step = examples_per_step
        self.waited = 0.0
        self.evaluation: TaskEvaluation | None = None

    def parameters(self) -> list[nn.Parameter]:
        return self.params

    def start(self, step: int) -> None:
        self.feed = step_loader(self.batches, step, self.workers, pin_memory=self.accelerator.device.type == "cuda")
        if self.preload:
            self.feed = iter(list(self.feed))

    def backward(self, step: int) -> dict[str, float]:
        acc, world = self.accelerator, self.accelerator.num_processes
        on_gpu = acc.device.type == "cuda"
        t_wait = time.perf_counter()
        batches = next(self.feed)
        self.waited += time.perf_counter() - t_wait
        # What each loss scores in the whole global batch, summed over processes; divided by the process count
        # because data-parallel training averages gradients.
        counts = loss_counts(batches, self.heads, self.region_losses)
        totals = _reduce_sum(acc, list(counts.values()), torch.float64)
        normalizers = {name: total / world for name, total in zip(counts, totals)}
        parts = dict.fromkeys(normalizers, 0.0)
        for k, batch in enumerate(batches):
            batch = to_device(batch, acc.device, non_blocking=on_gpu)
            sync = k == len(batches) - 1
            ctx = acc.no_sync(self.model) if (not sync and world > 1) else contextlib.nullcontext()
            with ctx, acc.autocast():
                losses = self.model(**batch, normalizers=normalizers).losses
                loss = sum(self.loss_weights.get(name, 1.0) * value for name, value in losses.items())
                acc.backward(loss)
            for name, value in losses.items():
                parts[name] += float(value.detach()) / world
        names = sorted(parts)
        parts = dict(zip(names, _reduce_sum(acc, [parts[n] for n in names], torch.float32)))
        values = {"loss": sum(self.loss_weights.get(name, 1.0) * v for name, v in parts.items())}
        if len(parts) > 1:  # each named loss, unweighted, when there is more than the language loss
            values.update({f"loss/{name}": v for name, v in parts.items()})
        return values

    def evaluate(self, step: int) -> None:
        if self.evaluation is not None and self.accelerator.is_main_process:
            self.evaluation(step)

    def save(self, folder: Path) -> None:
        self.backend.save(folder)

    def load(self, folder: Path) -> None:
        """Nothing: the backend was built from the checkpoint's model directory (a transformers model takes its
        structure from it too)."""


class TaskEvaluation:
    """Every task with a validation split, measured through the backend
    (:func:`~groundlm.train.evaluate.evaluate_backend`) and logged as ``eval/TASK``; ``latest`` holds each task's
    last metrics."""

    def __init__(
        self,
        cfg: TrainConfig,
        backend: Backend,
        tasks: list[Task],
        splits: list[data.SampleDataset | None],
        log: MetricsLog | None,
    ) -> None:
        self.cfg, self.backend, self.tasks, self.splits, self.log = cfg, backend, tasks, splits, log
        self.images = ImageCache()  # for the evaluations; the training batches' workers keep their own
        self.latest: dict[str, dict[str, Any]] = {}

    def __call__(self, step: int) -> None:
        cfg = self.cfg
        for task, split in zip(self.tasks, self.splits):
            if split is None:
                continue
            metrics = evaluate_backend(
                self.backend, task, split, cfg.eval_items, cfg.max_new_tokens, cfg.num_beams, self.images, cfg.numeric
            )
            self.latest[task.name] = metrics
            if self.log is not None:
                self.log.log(step, f"eval/{task.name}", metrics)
            tqdm.write(
                f"step {step}: {task.name} "
                + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if isinstance(v, float))
            )
