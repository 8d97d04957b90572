"""Evaluating a model on a task: generate answers for a split's items, decode them (:mod:`groundlm.inference`),
score them; and how much the answers depend on the image."""

from __future__ import annotations

from typing import Any

from groundlm.backends.base import Backend
from groundlm.data.dataset import SampleDataset
from groundlm.formats.numeric import GREEDY, NumericDecoding
from groundlm.inference.collate import Collator
from groundlm.inference.generate import TextGenerator, answer, generate_texts, predict_examples
from groundlm.inference.image_dependence import image_dependence
from groundlm.inference.images import ImageCache
from groundlm.models.vlm import GroundedVLM
from groundlm.tasks.base import Task
from groundlm.train.stream import evaluation_examples

__all__ = [
    "evaluate_answers",
    "evaluate_backend",
    "evaluate_task",
    "generate_texts",
    "image_dependence",
    "predict_examples",
]


def evaluate_task(
    model: GroundedVLM,
    collator: Collator,
    task: Task,
    dataset: SampleDataset,
    limit: int,
    max_new_tokens: int = 24,
    num_beams: int = 1,
    images: ImageCache | None = None,
    constrain: str | None = None,
    with_image_dependence: bool = False,
    numeric: NumericDecoding = GREEDY,
) -> dict[str, Any]:
    """Metrics of ``task`` on the first ``limit`` items of ``dataset``; with ``with_image_dependence``, also
    :func:`image_dependence` on the same items."""
    examples = evaluation_examples(dataset, task, limit)
    if not examples:
        return {}
    images = images or ImageCache()
    preds = predict_examples(
        model, collator, task, examples, images, max_new_tokens, num_beams, constrain, numeric=numeric
    )
    metrics = task.score(preds, examples)
    if with_image_dependence:
        metrics.update(image_dependence(model, collator, examples, images))
    return metrics


def evaluate_answers(
    generator: TextGenerator,
    task: Task,
    dataset: SampleDataset,
    limit: int,
    constrain: str | None = None,
    numeric: NumericDecoding = GREEDY,
) -> dict[str, Any]:
    """Metrics of ``task`` on the first ``limit`` items of ``dataset``, answered by any
    :class:`~groundlm.inference.generate.TextGenerator` (a transformers backend's, or a server's client)."""
    examples = evaluation_examples(dataset, task, limit)
    if not examples:
        return {}
    return task.score(answer(generator, task, examples, numeric, constrain), examples)


def evaluate_backend(
    backend: Backend,
    task: Task,
    dataset: SampleDataset,
    limit: int,
    max_new_tokens: int = 24,
    num_beams: int = 1,
    images: ImageCache | None = None,
    numeric: NumericDecoding = GREEDY,
) -> dict[str, Any]:
    """A training run's evaluation of ``task``: its metrics on the first ``limit`` items of ``dataset``, answered
    through the backend's generator, and how much the answers depend on the image where the backend can tell
    (:meth:`~groundlm.backends.base.Backend.image_dependence`)."""
    examples = evaluation_examples(dataset, task, limit)
    if not examples:
        return {}
    images = images or ImageCache()
    generator = backend.generator(max_new_tokens, num_beams, images=images)
    metrics = task.score(answer(generator, task, examples, numeric), examples)
    metrics.update(backend.image_dependence(examples, images))
    return metrics
