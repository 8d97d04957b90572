"""The model behind the server: which tasks it answers, what each task needs from a request, and the batch runner
that :class:`~groundlm.serve.batcher.MicroBatcher` calls (one batched generation per task and option set)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from groundlm.inference.loader import load_model
from groundlm.inference.predict import PREDICT_TASKS, AnswerOptions, Query, predict_batch, query_example
from groundlm.models.vlm import GroundedVLM
from groundlm.serve.uploads import BadRequestError
from groundlm.tasks import trained_tasks


@dataclass(frozen=True)
class TaskSpec:
    """What a task takes and gives, for the API's ``/api/tasks`` and the web page."""

    name: str
    needs: str  # "query" (text), "box" (pixels x0 y0 x1 y1) or "image" (the picture alone)
    summary: str
    numeric: bool  # whether its answers hold numbers that numeric decoding can combine


TASK_SPECS = {
    "refer": TaskSpec("refer", "query", "a referring expression in, the box of what it names out (pixels)", True),
    "pose": TaskSpec(
        "pose", "query", "a person named in, their head box (pixels) and yaw, pitch, roll (degrees) out", True
    ),
    "region_caption": TaskSpec("region_caption", "box", "a box in (pixels), a caption of that region out", False),
    "narrate": TaskSpec("narrate", "image", "a narration of the picture, each word at its point (pixels)", False),
}
assert set(TASK_SPECS) == set(PREDICT_TASKS), "every task that predict answers has a spec"


class ModelService:
    """One model in memory and how its tasks were trained (``tasks.json``). ``run`` answers batches."""

    def __init__(self, model: GroundedVLM, name: str, trained: dict[str, dict[str, Any]] | None = None) -> None:
        self.model = model.eval()
        self.name = name
        self.trained = trained or {}
        # A model that says which tasks it learned offers those; one that does not offers every task.
        learned = [t for t in PREDICT_TASKS if t in self.trained]
        self.tasks = {t: TASK_SPECS[t] for t in (learned or PREDICT_TASKS)}

    @classmethod
    def from_checkpoint(cls, directory: str | Path, device: str | None = None) -> ModelService:
        """The model in ``directory`` (``FileNotFoundError`` when it is not a model directory) on ``device``."""
        model = load_model(directory, device=device)
        trained = trained_tasks(directory) or {}
        path = Path(directory).resolve()
        # A run's model directories are named final/ or step-N/: the run's name says which model it is.
        name = f"{path.parent.name}/{path.name}" if path.name == "final" or path.name.startswith("step-") else path.name
        return cls(model, name, {t: o for t, o in trained.items() if t in PREDICT_TASKS})

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def options(self, task: str, constrain: bool, numeric: Any) -> AnswerOptions:
        """Answer options for ``task`` as its model was trained (box format, query order, pose re-reading)."""
        trained = self.trained.get(task, {})
        return AnswerOptions(
            format=trained.get("format", "cogvlm") if task == "refer" else "cogvlm",
            constrain=constrain,
            numeric=numeric,
            reread=bool(trained.get("reread", False)) if task == "pose" else False,
            query_first=bool(trained.get("query_first", False)) if task == "refer" else False,
            region_image=bool(trained.get("image", True)) if task == "region_caption" else True,
        )

    def spec(self, task: str) -> TaskSpec:
        """What ``task`` takes; ``BadRequestError`` (404) for a task this model does not answer."""
        if task not in self.tasks:
            raise BadRequestError(f"unknown task {task!r}; this model answers {', '.join(self.tasks)}", 404)
        return self.tasks[task]

    def check(self, query: Query, options: AnswerOptions) -> None:
        """Refuses (``BadRequestError``) a query this model cannot answer, before it joins a batch."""
        self.spec(query.task)
        try:
            query_example(query, options)
        except ValueError as err:
            raise BadRequestError(str(err), 422) from None

    def run(self, key: Hashable, queries: Sequence[Query]) -> list[Any]:
        """The batch runner: results for ``queries`` that share the options ``key``."""
        assert isinstance(key, AnswerOptions)
        try:
            return predict_batch(self.model, list(queries), key)
        except ValueError:
            # One query the checks missed must not fail the others: answer them one by one.
            out: list[Any] = []
            for q in queries:
                try:
                    out += predict_batch(self.model, [q], key)
                except ValueError as err:
                    out.append(BadRequestError(str(err), 422))
            return out
