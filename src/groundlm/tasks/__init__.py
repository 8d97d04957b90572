"""Tasks: prompt templates, targets, decoding and metrics for each spatial skill."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from groundlm.registry import Registry
from groundlm.tasks.base import Example, Task
from groundlm.tasks.grounded_list import GroundedListTask
from groundlm.tasks.narrate import NarrateTask
from groundlm.tasks.pose import PoseTask
from groundlm.tasks.refer import ReferTask
from groundlm.tasks.region_caption import RegionCaptionTask

TASKS: Registry[type[Task]] = Registry(
    "task",
    {
        "refer": ReferTask,
        "region_caption": RegionCaptionTask,
        "grounded_list": GroundedListTask,
        "pose": PoseTask,
        "narrate": NarrateTask,
    },
)


def build_task(name: str, **options) -> Task:
    """The task ``name`` with its ``options`` (a task config's ``options``); unknown names list the known ones."""
    return TASKS.get_known(name)(**options)


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
    "NarrateTask",
    "PoseTask",
    "ReferTask",
    "RegionCaptionTask",
    "Task",
    "build_task",
    "save_task_list",
    "trained_options",
    "trained_tasks",
]
