"""Evaluating a model on a task: generate answers for a split's items, decode them, score them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from tqdm import tqdm

from groundlm.data.dataset import SampleDataset
from groundlm.models.constrained import FormatConstraint
from groundlm.models.vlm import GroundedVLM
from groundlm.tasks.base import Example, Task
from groundlm.train.collate import IGNORE, Collator, to_device
from groundlm.train.loss import token_loss_sum
from groundlm.train.stream import ImageCache, evaluation_examples


@contextlib.contextmanager
def _evaluating(model: GroundedVLM) -> Iterator[torch.device]:
    """The model in eval mode within the block (yields its device), then back in the mode it was in."""
    was_training = model.training
    model.eval()
    try:
        yield next(model.parameters()).device
    finally:
        model.train(was_training)


@torch.no_grad()
def generate_texts(
    model: GroundedVLM,
    collator: Collator,
    examples: list[Example],
    images: ImageCache,
    max_new_tokens: int = 24,
    num_beams: int = 1,
    constrain: str | None = None,
    batch_size: int = 32,
    progress: bool = False,
) -> list[str]:
    """Generated answers for ``examples``; ``constrain`` names a format whose syntax decoding must follow."""
    out: list[str] = []
    with _evaluating(model) as device:
        for k in tqdm(range(0, len(examples), batch_size), desc="generate", disable=not progress, leave=False):
            chunk = examples[k : k + batch_size]
            batch = to_device(collator.generation_batch(chunk, [images.get(e.sample) for e in chunk]), device)
            processors = [FormatConstraint(constrain, model.tokenizer)] if constrain else None
            ids = model.generate(
                batch["input_ids"],
                batch["attention_mask"],
                batch["pixel_values"],
                batch["region_boxes"],
                max_new_tokens=max_new_tokens,
                num_beams=num_beams,
                logits_processor=processors,
            )
            out += model.tokenizer.batch_decode(ids, skip_special_tokens=True)
    return out


@torch.no_grad()
def image_dependence(
    model: GroundedVLM, collator: Collator, examples: list[Example], images: ImageCache, batch_size: int = 32
) -> dict[str, float]:
    """How much the answers depend on the image: the teacher-forced loss on the targets (nats per target token)
    with each example's own image, and with the images of the batch rotated by one, so that every prompt sees
    another sample's image. ``image_gain`` is the difference; near zero means the model answers from the text
    alone. Needs at least two examples."""
    if len(examples) < 2:
        return {}
    sums = {"own": 0.0, "other": 0.0}
    tokens = 0
    with _evaluating(model) as device:
        for k in range(0, len(examples), batch_size):
            chunk = examples[k : k + batch_size]
            if len(chunk) < 2:
                break
            inputs = to_device(collator.train_batch(chunk, [images.get(e.sample) for e in chunk]), device)
            labels = inputs.pop("labels")
            tokens += int((labels[:, 1:] != IGNORE).sum())
            for name, order in (("own", None), ("other", torch.roll(torch.arange(len(chunk)), 1))):
                if order is not None:
                    inputs["pixel_values"] = inputs["pixel_values"][order.to(device)]
                logits = model(**inputs).logits
                sums[name] += float(token_loss_sum(logits, labels))
    own, other = sums["own"] / max(tokens, 1), sums["other"] / max(tokens, 1)
    return {"loss": own, "loss_other_image": other, "image_gain": other - own}


def predict_examples(
    model: GroundedVLM,
    collator: Collator,
    task: Task,
    examples: list[Example],
    images: ImageCache,
    max_new_tokens: int = 24,
    num_beams: int = 1,
    constrain: str | None = None,
    progress: bool = False,
) -> list[Any]:
    """The task's decoded prediction for each example (generation, then ``task.decode``)."""
    texts = generate_texts(model, collator, examples, images, max_new_tokens, num_beams, constrain, progress=progress)
    return [task.decode(t, e) for t, e in zip(texts, examples)]


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
) -> dict[str, Any]:
    """Metrics of ``task`` on the first ``limit`` items of ``dataset``; with ``with_image_dependence``, also
    :func:`image_dependence` on the same items."""
    examples = evaluation_examples(dataset, task, limit)
    if not examples:
        return {}
    images = images or ImageCache()
    preds = predict_examples(model, collator, task, examples, images, max_new_tokens, num_beams, constrain)
    metrics = task.score(preds, examples)
    if with_image_dependence:
        metrics.update(image_dependence(model, collator, examples, images))
    return metrics
