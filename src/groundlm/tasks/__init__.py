"""Tasks: prompt templates, targets, decoding and metrics for each spatial skill."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from groundlm.data.sample import Sample
from groundlm.manifest import LEGACY_TASKS, read_manifest, write_manifest
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
    for cls in TASKS.values():
        if name in cls.aliases:
            return cls
    return TASKS.get_known(name)


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
    """The task ``name`` with its ``options`` (a task config's ``options``); unknown names list the known ones."""
    return task_class(name)(**options)


def save_task_list(directory: str | Path, tasks: list[dict[str, Any]]) -> None:
    """Record ``[{"name", "options"}, ...]`` as the tasks of a saved model (its manifest), so that inference asks
    as training did. A directory without a manifest (written before it) gets the older ``tasks.json``."""
    manifest = read_manifest(directory)
    if manifest is None:
        (Path(directory) / LEGACY_TASKS).write_text(json.dumps(tasks, indent=2) + "\n")
        return
    manifest.tasks = {task["name"]: dict(task.get("options") or {}) for task in tasks}
    write_manifest(directory, manifest)


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
]
