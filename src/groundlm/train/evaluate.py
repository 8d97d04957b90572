"""Evaluating a model on a task: generate answers for a split's items, decode them, score them."""

from __future__ import annotations

from typing import Any

import torch
from tqdm import tqdm

from groundlm.data.dataset import SampleDataset
from groundlm.models.constrained import FormatConstraint
from groundlm.models.vlm import GroundedVLM
from groundlm.tasks.base import Example, Task
from groundlm.train.collate import Collator
from groundlm.train.stream import ImageCache, evaluation_examples


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
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out: list[str] = []
    for k in tqdm(range(0, len(examples), batch_size), desc="generate", disable=not progress, leave=False):
        chunk = examples[k : k + batch_size]
        batch = collator.generation_batch(chunk, [images.get(e.sample) for e in chunk])
        processors = [FormatConstraint(constrain, model.tokenizer)] if constrain else None
        ids = model.generate(
            batch["input_ids"].to(device),
            batch["attention_mask"].to(device),
            batch["pixel_values"].to(device),
            [b.to(device) for b in batch["region_boxes"]],
            max_new_tokens=max_new_tokens,
            num_beams=num_beams,
            logits_processor=processors,
        )
        out += model.tokenizer.batch_decode(ids, skip_special_tokens=True)
    model.train(was_training)
    return out


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
) -> dict[str, Any]:
    """Metrics of ``task`` on the first ``limit`` items of ``dataset``."""
    examples = evaluation_examples(dataset, task, limit)
    if not examples:
        return {}
    texts = generate_texts(model, collator, examples, images or ImageCache(), max_new_tokens, num_beams, constrain)
    return task.score([task.decode(t, e) for t, e in zip(texts, examples)], examples)
