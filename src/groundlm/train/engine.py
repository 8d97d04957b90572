"""The training engine every trainer runs on: the grounded VLM (:mod:`groundlm.train.loop`), the trainers that
methods register from their folders (:mod:`groundlm.train.trainers`, LLM-MDE's), tower pretraining
(:mod:`groundlm.pretrain.tower`) and the CNN head-pose baseline (:mod:`groundlm.baselines.crop_pose`).

A trainer is a thin description, a :class:`Trainable`: its trainable parameters, the forward and backward pass of
optimisation step ``k`` (its batches are a function of ``k`` and its own random state), an optional evaluation, and
how its weights are saved into a checkpoint. The :class:`Engine` owns the rest, the same for all: gradient clipping,
the optimizer and scheduler steps (:func:`groundlm.train.schedule.build_optimizer`), one progress bar, the metrics
log (:class:`~groundlm.train.metrics_log.MetricsLog`), periodic evaluation, checkpoints in one format
(:mod:`groundlm.train.checkpoint`) and exact resumption: a run interrupted after a checkpoint and resumed from it
ends with the same weights as one that ran through, since the weights, the optimizer moments, the learning rate, the
step and every random state (torch's and the trainer's own) come back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from groundlm.train.checkpoint import load_weights, restore_checkpoint, save_checkpoint, save_weights
from groundlm.train.metrics_log import MetricsLog


class Trainable:
    """What the engine trains. Subclasses set ``module`` (the model whose weights a checkpoint holds) and implement
    :meth:`backward`; the other methods have defaults for a trainer that evaluates nothing during training and keeps
    no random state of its own."""

    module: nn.Module
    examples_per_step: int = 0  # for the samples/s rate in the log and the progress bar (0: not shown)

    def parameters(self) -> list[nn.Parameter]:
        """The parameters the optimizer updates (and gradient clipping measures)."""
        return [p for p in self.module.parameters() if p.requires_grad]

    def backward(self, step: int) -> dict[str, float]:
        """Forward and backward pass of optimisation step ``step`` (0-based), gradients left in the parameters;
        returns the numbers logged for the step (``loss`` first)."""
        raise NotImplementedError

    def shown(self, values: dict[str, float]) -> dict[str, str]:
        """What the progress bar shows after a step, from the step's logged ``values``."""
        return {"loss": f"{values['loss']:.3f}"}

    def evaluate(self, step: int) -> None:
        """Measure the model after ``step`` steps (called every ``eval_every`` steps and after the last)."""

    def save(self, folder: Path) -> None:
        """Write the weights into a checkpoint folder (default: ``weights.safetensors`` of ``module``)."""
        save_weights(self.module, folder)

    def load(self, folder: Path) -> None:
        """Read back the weights :meth:`save` wrote."""
        load_weights(self.module, folder)

    def start(self, step: int) -> None:
        """Get ready to produce the batches of steps ``step``, ``step + 1``, ... (called once per run, after a
        checkpoint's random state came back)."""

    def random_state(self) -> dict[str, Any]:
        """The trainer's own random state (generators it draws batches with), saved in each checkpoint."""
        return {}

    def load_random_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`random_state` returned."""


@dataclass
class Outcome:
    """How a run of the engine ended: ``steps`` done in all, ``interrupted`` by ``stop_after`` before the last,
    ``seconds`` spent in this call's steps."""

    steps: int
    interrupted: bool
    seconds: float


def _clip_grad_norm(params: list[nn.Parameter], max_norm: float) -> Any:
    return torch.nn.utils.clip_grad_norm_(params, max_norm)


@dataclass
class Engine:
    """Runs a :class:`Trainable` from a start step to ``max_steps``.

    One step: the trainable's forward and backward pass, gradients clipped at ``grad_clip`` (a norm; ``None`` or 0:
    not clipped), one optimizer and scheduler step, gradients cleared; the step's numbers and the learning rate go to
    ``log`` as ``train`` rows. After step ``n``: an evaluation when ``eval_every`` divides ``n`` (and after the last
    step), a checkpoint into ``run_dir`` when ``save_every`` does (and after the last step). Under several processes,
    only the main one (``is_main``) logs, shows progress and writes; ``barrier`` waits for the others after each
    evaluation and checkpoint, and ``clip`` is the clipping that knows about them.
    """

    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    max_steps: int
    grad_clip: float | None = None
    run_dir: Path | None = None
    save_every: int = 0
    eval_every: int = 0
    log: MetricsLog | None = None
    progress: bool = True
    desc: str = "train"
    leave: bool = True  # keep the finished progress bar on screen
    is_main: bool = True
    barrier: Callable[[], None] = field(default=lambda: None)
    clip: Callable[[list[nn.Parameter], float], Any] = field(default=_clip_grad_norm)

    def run(self, trainable: Trainable, resume_from: Path | None = None, stop_after: int | None = None) -> Outcome:
        """Steps from the start (or from checkpoint ``resume_from``: its weights, optimizer, scheduler and random
        states come back first) to ``max_steps``; ``stop_after`` ends the run after that many steps in all, as an
        interruption would (after the step's checkpoint, if one is due), leaving it to be resumed."""
        start_step = 0
        if resume_from is not None:
            start_step, state = restore_checkpoint(resume_from, self.optimizer, self.scheduler)
            trainable.load(resume_from)
            trainable.load_random_state(state)
        trainable.start(start_step)
        params = trainable.parameters()
        bar = tqdm(
            total=self.max_steps,
            initial=start_step,
            desc=self.desc,
            unit="step",
            leave=self.leave,
            disable=not (self.progress and self.is_main),
        )
        self.optimizer.zero_grad(set_to_none=True)
        t_start, seen, done = time.perf_counter(), 0, start_step
        for step in range(start_step, self.max_steps):
            values = trainable.backward(step)
            if self.grad_clip:
                self.clip(params, self.grad_clip)
            self.optimizer.step()
            self.scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
            done = step + 1
            seen += trainable.examples_per_step
            self._record(trainable, bar, done, values, seen / max(time.perf_counter() - t_start, 1e-9))
            if self.eval_every and (done % self.eval_every == 0 or done == self.max_steps):
                trainable.evaluate(done)
                self.barrier()
            if self.run_dir is not None and self.save_every and (done % self.save_every == 0 or done == self.max_steps):
                if self.is_main:
                    save_checkpoint(
                        self.run_dir, done, trainable.save, self.optimizer, self.scheduler, trainable.random_state()
                    )
                self.barrier()
            if stop_after is not None and stop_after <= done < self.max_steps:
                bar.close()
                return Outcome(done, True, time.perf_counter() - t_start)
        bar.close()
        return Outcome(done, False, time.perf_counter() - t_start)

    def _record(self, trainable: Trainable, bar: tqdm, done: int, values: dict[str, float], rate: float) -> None:
        """The step's numbers into the log (``loss``, ``lr``, ``samples_per_s`` when counted, then the rest) and the
        progress bar."""
        if not self.is_main:
            return
        shown = trainable.shown(values)
        if trainable.examples_per_step:
            shown["samples_s"] = f"{rate:.1f}"
        bar.set_postfix(shown)
        bar.update(1)
        if self.log is not None:
            row = {"loss": values["loss"], "lr": self.scheduler.get_last_lr()[0]}
            if trainable.examples_per_step:
                row["samples_per_s"] = rate
            self.log.log(done, "train", {**row, **values})
