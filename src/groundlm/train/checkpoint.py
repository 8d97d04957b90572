"""The one checkpoint format of every trainer, and the run directory's rules about it.

A checkpoint is the folder ``RUN/checkpoints/step-N/``: the weights as the trainer writes them (the grounded VLM:
its model directory; the others: ``weights.safetensors`` of their module, :func:`save_weights`) and ``state.pt``
with the step, the optimizer's and the scheduler's state, the torch random state (CPU, and CUDA where present) and
the trainer's own random state (its generators). It is written to a temporary folder and renamed, so a folder named
``step-N`` is always complete.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from groundlm.errors import UserError
from groundlm.models.state import tied_once

CHECKPOINTS = "checkpoints"
STATE = "state.pt"
WEIGHTS = "weights.safetensors"


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest complete checkpoint of the run, or ``None``."""
    ckpts = sorted((Path(run_dir) / CHECKPOINTS).glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
    ckpts = [c for c in ckpts if (c / STATE).is_file()]
    return ckpts[-1] if ckpts else None


def checkpoint_to_resume(run_dir: str | Path, resume: bool, check_fresh: bool = True) -> Path | None:
    """The checkpoint a run continues from: the newest one with ``resume`` (a :class:`UserError` if there is none),
    else ``None`` — and a :class:`UserError` if the run already has checkpoints that starting afresh would mix with
    its own (``check_fresh``; only the main process checks)."""
    folder = Path(run_dir) / CHECKPOINTS
    if resume:
        ckpt = latest_checkpoint(run_dir)
        if ckpt is None:
            raise UserError(f"--resume: no checkpoint in {folder}")
        return ckpt
    if check_fresh and folder.exists() and any(folder.iterdir()):
        raise UserError(f"{run_dir} already has checkpoints; pass --resume to continue or choose another run_dir")
    return None


def save_checkpoint(
    run_dir: str | Path,
    step: int,
    save: Callable[[Path], Any],
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    trainer_state: dict[str, Any] | None = None,
) -> Path:
    """Write checkpoint ``step``: ``save(folder)`` writes the weights, then ``state.pt``; returns its folder."""
    final = Path(run_dir) / CHECKPOINTS / f"step-{step}"
    tmp = Path(run_dir) / CHECKPOINTS / f".step-{step}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save(tmp)
    state = {
        "step": step,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "torch_rng": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda_rng"] = torch.cuda.get_rng_state_all()
    if trainer_state:
        state["trainer"] = trainer_state
    torch.save(state, tmp / STATE)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    return final


def restore_checkpoint(
    ckpt: Path, optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LRScheduler
) -> tuple[int, dict[str, Any]]:
    """Load the optimizer's and the scheduler's state and the torch random state of ``ckpt``; returns its step and
    the trainer's own state (``{}`` when it saved none). The weights are the trainer's to load."""
    state = torch.load(ckpt / STATE, weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    if "cuda_rng" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    return state["step"], state.get("trainer", {})


def save_weights(module: nn.Module, folder: Path) -> None:
    """``module``'s state (parameters and buffers; tied tensors once) into ``folder/weights.safetensors``."""
    state = tied_once(module.state_dict())
    save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, str(folder / WEIGHTS))


def load_weights(module: nn.Module, folder: Path) -> None:
    """The state :func:`save_weights` wrote, copied into ``module`` (the same architecture: every tensor is loaded,
    a tied one through the name it was saved under)."""
    saved = load_file(str(folder / WEIGHTS))
    own = module.state_dict()
    missing, unexpected = module.load_state_dict(saved, strict=False)
    loaded = {own[k].data_ptr() for k in saved if k in own}
    lost = [k for k in missing if own[k].data_ptr() not in loaded]
    if lost or unexpected:
        raise ValueError(f"{folder}: the checkpoint does not fit the model (missing {lost}, unexpected {unexpected})")
