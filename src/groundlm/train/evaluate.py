"""Evaluating a model on a task: generate answers for a split's items, decode them, score them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import torch
from tqdm import tqdm
from transformers import LogitsProcessor, LogitsProcessorList

from groundlm import formats
from groundlm.data.dataset import SampleDataset
from groundlm.formats.numeric import GREEDY, NumericDecoding
from groundlm.models.constrained import FormatConstraint
from groundlm.models.tokenizer import REGION_TOKEN
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
    samples: int = 1,
    temperature: float = 1.0,
    processors: Sequence[LogitsProcessor] = (),
) -> list[str]:
    """Generated answers for ``examples``; ``constrain`` names a format whose syntax decoding must follow. With
    ``samples > 1``, that many sampled answers per example, consecutive (``len(examples) * samples`` texts).
    ``processors`` are applied to the next-token scores before the format constraint.

    Re-reading examples (``Example.reread``) are answered in two passes: the box (constrained to CogVLM's
    one-box syntax), then, with the region of that box inserted, the rest (constrained to ``reread`` when
    ``constrain`` is set or answers are sampled)."""
    common = dict(
        max_new_tokens=max_new_tokens,
        num_beams=num_beams,
        batch_size=batch_size,
        progress=progress,
        temperature=temperature,
        processors=processors,
        sample=samples > 1,
    )
    if not examples or examples[0].reread is None:
        pattern = formats.get(constrain).answer_pattern if constrain else None
        return _generate(model, collator, examples, images, pattern, samples, **common)
    cogvlm = formats.get("cogvlm")
    first = [replace(e, region_boxes=e.region_boxes[: e.prompt.count(REGION_TOKEN)]) for e in examples]
    boxes = _generate(model, collator, first, images, cogvlm.answer_pattern, samples, **common)
    second = []
    for i, text in enumerate(boxes):
        e = first[i // samples]
        parsed = cogvlm.parse(text, e.sample.width, e.sample.height).boxes
        box = parsed[0] if parsed else (0.0, 0.0, float(e.sample.width), float(e.sample.height))
        second.append(replace(e, answer_prefix=text + REGION_TOKEN, region_boxes=[*e.region_boxes, box]))
    rest_pattern = examples[0].reread if (constrain or samples > 1) else None
    rest = _generate(model, collator, second, images, rest_pattern, 1, **common)
    return [a + b for a, b in zip(boxes, rest)]


def _generate(
    model: GroundedVLM,
    collator: Collator,
    examples: list[Example],
    images: ImageCache,
    pattern: str | None,
    samples: int,
    *,
    max_new_tokens: int,
    num_beams: int,
    batch_size: int,
    progress: bool,
    temperature: float,
    processors: Sequence[LogitsProcessor],
    sample: bool,
) -> list[str]:
    """One generation pass: ``samples`` answers per example (drawn at ``temperature`` when ``sample``, else
    greedy), following the regular expression ``pattern`` when given."""
    out: list[str] = []
    batch_size = max(1, batch_size // samples)
    with _evaluating(model) as device:
        for k in tqdm(range(0, len(examples), batch_size), desc="generate", disable=not progress, leave=False):
            chunk = examples[k : k + batch_size]
            batch = to_device(collator.generation_batch(chunk, [images.get(e.sample) for e in chunk]), device)
            chain = [*processors, *([FormatConstraint(None, model.tokenizer, pattern=pattern)] if pattern else [])]
            ids = model.generate(
                batch["input_ids"],
                batch["attention_mask"],
                batch["pixel_values"],
                batch["region_boxes"],
                max_new_tokens=max_new_tokens,
                num_beams=num_beams,
                logits_processor=LogitsProcessorList(chain) if chain else None,
                samples=samples,
                temperature=temperature,
                sample=sample,
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
    numeric: NumericDecoding = GREEDY,
    processors: Sequence[LogitsProcessor] = (),
) -> list[Any]:
    """The task's decoded prediction for each example (generation, then ``task.decode``). With sampled
    ``numeric`` decoding, ``numeric.samples`` answers per example, decoded, then combined by ``task.combine``."""
    k = numeric.samples if numeric.sampled else 1
    if numeric.sampled and constrain is None:
        constrain = task.answer_format  # sampling from the whole vocabulary strays from the syntax
    texts = generate_texts(
        model,
        collator,
        examples,
        images,
        max_new_tokens,
        num_beams,
        constrain,
        progress=progress,
        samples=k,
        temperature=numeric.temperature,
        processors=processors,
    )
    if k == 1:
        return [task.decode(t, e) for t, e in zip(texts, examples)]
    return [
        task.combine([task.decode(t, e) for t in texts[i * k : (i + 1) * k]], numeric.mode)
        for i, e in enumerate(examples)
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
