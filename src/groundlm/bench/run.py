"""What every training bench does first: its preset, its SpatialWorld splits, a run directory whose ``models/``
starts empty, a progress log, the pretrained vision tower (built when missing), and the quick language model the CPU
presets share."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from groundlm.errors import UserError
from groundlm.inference.loader import load_vlm
from groundlm.models.backbones import resolve_vision
from groundlm.models.config import LanguageConfig, VisionConfig, VLMConfig
from groundlm.models.vlm import GroundedVLM
from groundlm.pretrain.tower import ensure_tower
from groundlm.train.config import SplitSpec, TaskSpec, TrainConfig
from groundlm.train.loop import train

Config = TypeVar("Config")


def apply_preset(default: Config, presets: dict[str, dict[str, Any]], name: str, overrides: dict[str, Any]) -> Config:
    """``default`` with the preset ``name``'s fields, then the ``overrides`` that are not None."""
    if name not in presets:
        raise UserError(f"unknown preset {name!r}; known: {', '.join(presets)}")
    return replace(default, **{**presets[name], **{k: v for k, v in overrides.items() if v is not None}})


def spatialworld_split(data_dir: str | Path, domain: str, name: str, n: int, size: int, seed: int) -> SplitSpec:
    """A SpatialWorld split of ``n`` ``domain`` images at ``size`` pixels in ``data_dir`` (generated when missing),
    named ``<domain>-<name>-<n>-<size>``."""
    path = Path(data_dir) / f"{domain}-{name}-{n}-{size}"
    return SplitSpec(f"spatialworld:{path}", {"n": n, "seed": seed, "size": size, "domain": domain})


def quick_language(max_positions: int = 256) -> LanguageConfig:
    """The CPU presets' Llama: 192 wide, 3 layers, 4 heads, MLP 384."""
    return LanguageConfig(
        kind="llama", hidden_size=192, num_layers=3, num_heads=4, intermediate_size=384, max_positions=max_positions
    )


def fresh_run(run_dir: str | Path, *clear: str) -> Path:
    """``run_dir`` with ``models/`` (and each folder in ``clear``) removed and ``models/`` made anew."""
    run = Path(run_dir)
    for name in ("models", *clear):
        shutil.rmtree(run / name, ignore_errors=True)
    (run / "models").mkdir(parents=True, exist_ok=True)
    return run


def progress_log(progress: bool) -> Callable[[str], None]:
    """A line printer (flushed) when ``progress``, else a no-op."""
    return (lambda msg: print(msg, flush=True)) if progress else (lambda msg: None)


def tower_vision(
    tower: str | None, preset: str, fallback: VisionConfig, freeze: bool = True, progress: bool = True
) -> VisionConfig:
    """The vision config of the pretrained ``tower`` directory (pretrained with ``preset`` first when missing), or
    ``fallback`` when ``tower`` is None."""
    if not tower:
        return fallback
    ensure_tower(tower, preset, progress=progress)
    return resolve_vision(VisionConfig(path=tower, freeze=freeze))


def train_models(
    run: Path,
    train_spec: SplitSpec,
    variants: dict[str, tuple[VLMConfig, list[TaskSpec], dict[str, float], int]],
    *,
    seed: int,
    batch_size: int,
    lr: float,
    device: str,
    progress: bool,
) -> tuple[dict[str, GroundedVLM], dict[str, float]]:
    """Train each variant (its model config, tasks, loss weights and steps) on ``train_spec`` into
    ``run/models/<name>``, without evaluations or checkpoints; the trained models (loaded on ``device``, in eval mode)
    and their training seconds, by name."""
    log = progress_log(progress)
    models: dict[str, GroundedVLM] = {}
    seconds: dict[str, float] = {}
    for name, (model_cfg, tasks, weights, steps) in variants.items():
        log(f"training {name} ({steps} steps)")
        summary = train(
            TrainConfig(
                run_dir=str(run / "models" / name),
                train=train_spec,
                tasks=tasks,
                model=model_cfg,
                seed=seed,
                batch_size=batch_size,
                lr=lr,
                max_steps=steps,
                eval_every=0,
                save_every=0,
                loss_weights=weights,
                device=device,
            ),
            progress=progress,
        )
        models[name] = load_vlm(summary["final_model"], device=device)
        seconds[name] = summary["train_seconds"]
    return models, seconds
