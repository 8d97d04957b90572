"""A deterministic stream of training examples.

Example ``i`` of the stream depends only on ``(seed, i)``: a generator seeded with both picks the task (by weight),
a sample that has items for it, an item and a prompt phrasing. Hence a resumed run continues with exactly the
examples it would have seen, and N processes that split each global batch see together what one process sees.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from groundlm.data.dataset import SampleDataset
from groundlm.inference.images import ImageCache
from groundlm.tasks.base import Example, Task

__all__ = ["ExampleStream", "ImageCache", "evaluation_examples"]


class ExampleStream:
    """``dataset`` is one split for every task, or a sequence of splits, one per task (e.g. pose data mixed with
    the grounding data it rehearses)."""

    def __init__(
        self,
        dataset: SampleDataset | Sequence[SampleDataset],
        tasks: Sequence[Task],
        weights: Sequence[float],
        seed: int,
    ) -> None:
        if len(tasks) != len(weights) or not tasks:
            raise ValueError("need one weight per task and at least one task")
        self.datasets = list(dataset) if isinstance(dataset, (list, tuple)) else [dataset] * len(tasks)
        if len(self.datasets) != len(tasks):
            raise ValueError(f"need one dataset per task ({len(tasks)}), got {len(self.datasets)}")
        self.tasks = list(tasks)
        w = np.asarray(weights, dtype=np.float64)
        if np.any(w < 0) or w.sum() <= 0:
            raise ValueError(f"task weights must be non-negative with a positive sum, got {list(weights)}")
        self.probs = w / w.sum()
        self.seed = seed
        # Samples that have at least one item, per task (indices into the dataset).
        self.usable = [[i for i, s in enumerate(ds) if task.items(s)] for task, ds in zip(self.tasks, self.datasets)]
        for t, (task, ds) in enumerate(zip(self.tasks, self.datasets)):
            if not self.usable[t] and self.probs[t] > 0:
                raise ValueError(f"no sample of {ds.name} has anything for task {task.name!r}")

    def example(self, index: int) -> Example:
        rng = np.random.default_rng([self.seed, index])
        t = int(rng.choice(len(self.tasks), p=self.probs))
        task = self.tasks[t]
        sample = self.datasets[t][self.usable[t][int(rng.integers(len(self.usable[t])))]]
        items = task.items(sample)
        return task.example(sample, items[int(rng.integers(len(items)))], rng)

    def batch(self, start: int, size: int) -> list[Example]:
        return [self.example(i) for i in range(start, start + size)]


def evaluation_examples(dataset: SampleDataset, task: Task, limit: int) -> list[Example]:
    """The first ``limit`` items of the split in order, with the first prompt phrasing (deterministic)."""
    out = []
    for sample in dataset:
        for item in task.items(sample):
            out.append(task.example(sample, item, None))
            if len(out) >= limit:
                return out
    return out
