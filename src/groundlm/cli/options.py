"""The options and values the ``groundlm`` commands share: JSON output, the device, the option types read from
command signatures (:mod:`groundlm.cli.arguments`) and the tasks a question can name."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from groundlm import formats
from groundlm.cli.arguments import Arg
from groundlm.errors import UserError


def jsonable(value: Any) -> Any:
    """NaN and infinities become null: JSON has no spelling for them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def write_json(path: str | None, result: dict) -> None:
    """Write a benchmark's result to ``path`` (its folder created) when one is given."""
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(result, indent=2, default=str) + "\n")


def run_device(name: str | None) -> str | None:
    """The ``--device`` a command runs on: as given, else CUDA when there is one (``None``: where the model is)."""
    import torch

    if name is None:
        return "cuda" if torch.cuda.is_available() else None
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {name}: no CUDA device is available here")
    return name


Device = Annotated[str | None, Arg(convert=run_device)]
"""A ``--device`` option: cpu or cuda, default CUDA where there is one (:func:`run_device`)."""
JsonFile = Annotated[str | None, Arg(flag="--json", metavar="FILE")]
"""A ``--json FILE`` option: where to write a result as JSON."""
AsJson = Annotated[bool, Arg(flag="--json")]
"""A ``--json`` flag: print JSON instead of a table."""
Overrides = Annotated[Sequence[str], Arg(flag="--set", repeat=True, metavar="KEY=VALUE")]
"""``--set key.sub=value``, repeatable: config values replaced (parsed as YAML)."""
FormatName = Annotated[str | None, Arg(flag="--format", choices=formats.names)]
Numeric = Literal["greedy", "mean", "median"]


def answerable_tasks() -> tuple[str, ...]:
    """Every task some kind of model answers (imported when asked: it loads the methods' parts)."""
    from groundlm.inference import model

    return model.answerable_tasks()


def predict_tasks() -> list[str]:
    """The tasks ``predict`` asks: every task some kind of model answers, each followed by its aliases."""
    return [name for task in answerable_tasks() for name in (task, *task_aliases(task))]


def task_aliases(task: str) -> tuple[str, ...]:
    from groundlm.tasks import task_class, task_names

    return task_class(task).aliases if task in task_names() else ()


def question_task(task: str):
    """The registered task (:class:`~groundlm.tasks.base.Task` class) ``task`` or an alias names; None for a task that
    a kind of model answers without one (a depth map)."""
    from groundlm.tasks import task_class, task_names

    named = {name for t in task_names() for name in (t, *task_class(t).aliases)}
    return task_class(task) if task in named else None
