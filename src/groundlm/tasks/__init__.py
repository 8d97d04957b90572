"""Tasks: prompt templates, targets, decoding and metrics for each spatial skill."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from groundlm.data.sample import Sample
from groundlm.methods import load_parts
from groundlm.tasks.base import MODEL_CONFIG_HOOKS, TASKS, Example, Task, register_task
from groundlm.tasks.grounded_list import GroundedListTask
from groundlm.tasks.refer import ReferTask
from groundlm.tasks.region_caption import RegionCaptionTask


def task_names() -> list[str]:
    """Every registered task's name (the methods' tasks too), in registration order."""
    load_parts("tasks")
    return list(TASKS)


def task_class(name: str) -> type[Task]:
    """The task registered as ``name`` or under one of its aliases; a ``ValueError`` naming the known ones."""
    load_parts("tasks")
    if name in TASKS:
        return TASKS[name]
    for cls in TASKS.values():
        if name in cls.aliases:
            return cls
    raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}")


def task_name(name: str) -> str:
    """The task ``name`` (or an alias of it) stands for."""
    return task_class(name).name


def fit_model_config(config, samples: Iterable[Sample]):
    """The model config (a :class:`~groundlm.models.config.VLMConfig`) to build for training on ``samples``: its
    region encoder's hook (:data:`~groundlm.tasks.base.MODEL_CONFIG_HOOKS`) fills in what it derives from the
    training data; unchanged when it has none."""
    load_parts("tasks")
    hook = MODEL_CONFIG_HOOKS.get(config.region_encoder)
    return hook(config, samples) if hook is not None else config


def build_task(name: str, **options) -> Task:
    return task_class(name)(**options)


TASKS_FILE = "tasks.json"  # beside a trained model's weights: the tasks (and options) it was trained on


def save_task_list(directory: str | Path, tasks: list[dict[str, Any]]) -> None:
    """Record ``[{"name", "options"}, ...]`` in a model directory, so that inference asks as training did."""
    (Path(directory) / TASKS_FILE).write_text(json.dumps(tasks, indent=2) + "\n")


def trained_tasks(directory: str | Path) -> dict[str, dict[str, Any]] | None:
    """Task name -> the options it was trained with, from the model directory's ``tasks.json`` (``None`` when the
    directory has none)."""
    path = Path(directory) / TASKS_FILE
    if not path.is_file():
        return None
    return {task.get("name"): dict(task.get("options") or {}) for task in json.loads(path.read_text())}


def trained_options(directory: str | Path, name: str) -> dict[str, Any]:
    """The options task ``name`` was trained with, from the model directory's ``tasks.json`` ({} if unknown)."""
    return (trained_tasks(directory) or {}).get(name, {})


__all__ = [
    "TASKS",
    "Example",
    "GroundedListTask",
    "ReferTask",
    "RegionCaptionTask",
    "Task",
    "build_task",
    "fit_model_config",
    "register_task",
    "save_task_list",
    "task_class",
    "task_name",
    "task_names",
    "trained_options",
    "trained_tasks",
]
