"""Tasks: prompt templates, targets, decoding and metrics for each spatial skill."""

from __future__ import annotations

from groundlm.tasks.base import Example, Task
from groundlm.tasks.grounded_list import GroundedListTask
from groundlm.tasks.pose import PoseTask
from groundlm.tasks.refer import ReferTask
from groundlm.tasks.region_caption import RegionCaptionTask

TASKS: dict[str, type[Task]] = {
    "refer": ReferTask,
    "region_caption": RegionCaptionTask,
    "grounded_list": GroundedListTask,
    "pose": PoseTask,
}


def build_task(name: str, **options) -> Task:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}")
    return TASKS[name](**options)


__all__ = ["TASKS", "Example", "GroundedListTask", "PoseTask", "ReferTask", "RegionCaptionTask", "Task", "build_task"]
