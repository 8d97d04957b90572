"""The model behind the server: which tasks it answers, what each task needs from a request, and the batch runner
that :class:`~groundlm.serve.batcher.MicroBatcher` calls (one batched generation per task and option set)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from groundlm.inference.model import Model, load_model
from groundlm.inference.predict import AnswerOptions, Query
from groundlm.serve.uploads import BadRequestError


@dataclass(frozen=True)
class TaskSpec:
    """What a task takes and gives, for the API's ``/api/tasks`` and the web page."""

    name: str
    needs: str  # "query" (text), "box" (pixels x0 y0 x1 y1) or "image" (the picture alone)
    summary: str
    numeric: bool  # whether its answers hold numbers that numeric decoding can combine

    @classmethod
    def of(cls, model: Model, task: str) -> TaskSpec:
        """What ``task`` takes and gives, as ``model``'s kind describes it (for a question task: the task itself)."""
        about = model.describe_task(task)
        return cls(task, about["takes"], about["summary"], about["numeric"])


class ModelService:
    """One model handle (:func:`groundlm.inference.load_model`) in memory, and the tasks it offers: those it was
    trained on (its manifest), else every task it can answer. ``run`` answers batches."""

    def __init__(self, model: Model, name: str | None = None) -> None:
        self.model = model
        self.name = name or model.name
        self.tasks = {t: TaskSpec.of(model, t) for t in model.offered}

    @classmethod
    def from_checkpoint(cls, directory: str | Path, device: str | None = None) -> ModelService:
        """The model in ``directory`` (``FileNotFoundError`` when it is not a model directory) on ``device``."""
        return cls(load_model(directory, device=device))

    @property
    def device(self) -> torch.device:
        return self.model.device

    def options(self, task: str, constrain: bool, numeric: Any) -> AnswerOptions:
        """Answer options for ``task`` as its model was trained (box format, query order, re-reading)."""
        return self.model.options(task, constrain=constrain, numeric=numeric)

    def spec(self, task: str) -> TaskSpec:
        """What ``task`` takes; ``BadRequestError`` (404) for a task this model does not answer."""
        if task not in self.tasks:
            raise BadRequestError(f"unknown task {task!r}; this model answers {', '.join(self.tasks)}", 404)
        return self.tasks[task]

    def check(self, query: Query, options: AnswerOptions) -> None:
        """Refuses (``BadRequestError``) a query this model cannot answer, before it joins a batch."""
        self.spec(query.task)
        try:
            self.model.check(query, options)
        except ValueError as err:
            raise BadRequestError(str(err), 422) from None

    def run(self, key: Hashable, queries: Sequence[Query]) -> list[Any]:
        """The batch runner: results for ``queries`` that share the options ``key``."""
        assert isinstance(key, AnswerOptions)
        try:
            return [self.model.json_answer(r) for r in self.model.answer_batch(list(queries), key)]
        except ValueError:
            # One query the checks missed must not fail the others: answer them one by one.
            out: list[Any] = []
            for q in queries:
                try:
                    out += [self.model.json_answer(r) for r in self.model.answer_batch([q], key)]
                except ValueError as err:
                    out.append(BadRequestError(str(err), 422))
            return out
