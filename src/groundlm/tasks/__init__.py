"""Tasks: prompt templates, targets, decoding and metrics for each spatial skill."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from groundlm.manifest import LEGACY_TASKS, read_manifest, write_manifest
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
    "NarrateTask",
    "PoseTask",
    "ReferTask",
    "RegionCaptionTask",
    "Task",
    "build_task",
    "save_task_list",
]
