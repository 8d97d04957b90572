"""Generation: answers for examples from a local :class:`~groundlm.models.vlm.GroundedVLM`, and decoding them into
task predictions through the small :class:`TextGenerator` protocol that other backends implement too.

A backend only has to turn examples into answer texts (:meth:`TextGenerator.generate`); :func:`answer` decodes
them with the task and combines sampled answers (numeric decoding, :mod:`groundlm.formats.numeric`).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import torch
from tqdm import tqdm
from transformers import LogitsProcessor, LogitsProcessorList

from groundlm import formats
from groundlm.formats.numeric import GREEDY, NumericDecoding
from groundlm.inference.collate import Collator, to_device
from groundlm.inference.images import ImageCache
from groundlm.models.constrained import FormatConstraint
from groundlm.models.tokenizer import REGION_TOKEN
from groundlm.models.vlm import GroundedVLM
from groundlm.tasks.base import Example, Task


class TextGenerator(Protocol):
    """Anything that answers examples with text: the local model (:class:`LocalGenerator`), a server's client, a
    ``transformers`` backend."""

    def generate(
        self,
        examples: Sequence[Example],
        samples: int = 1,
        temperature: float = 1.0,
        constrain: str | None = None,
        max_new_tokens: int | None = None,
    ) -> list[str]:
        """``samples`` answers per example (consecutive; drawn at ``temperature`` when ``samples > 1``, else the
        most likely), following the syntax of the format named by ``constrain`` when given; ``max_new_tokens``
        overrides the generator's own limit."""
        ...


@dataclass
class LocalGenerator:
    """A :class:`TextGenerator` over a :class:`GroundedVLM` in this process."""

    model: GroundedVLM
    collator: Collator | None = None  # default: the model's own
    images: ImageCache = field(default_factory=ImageCache)
    max_new_tokens: int = 24
    num_beams: int = 1
    batch_size: int = 32
    progress: bool = False
    processors: Sequence[LogitsProcessor] = ()

    def generate(
        self,
        examples: Sequence[Example],
        samples: int = 1,
        temperature: float = 1.0,
        constrain: str | None = None,
        max_new_tokens: int | None = None,
    ) -> list[str]:
        return generate_texts(
            self.model,
            self.collator or Collator.for_model(self.model),
            list(examples),
            self.images,
            max_new_tokens or self.max_new_tokens,
            self.num_beams,
            constrain,
            batch_size=self.batch_size,
            progress=self.progress,
            samples=samples,
            temperature=temperature,
            processors=self.processors,
        )


def answer(
    generator: TextGenerator,
    task: Task,
    examples: Sequence[Example],
    numeric: NumericDecoding = GREEDY,
    constrain: str | None = None,
) -> list[Any]:
    """The task's decoded prediction for each example. With sampled ``numeric`` decoding, ``numeric.samples``
    answers per example (constrained to the task's answer syntax unless ``constrain`` names another), each decoded,
    then combined by ``task.combine``."""
    k = numeric.samples if numeric.sampled else 1
    if numeric.sampled and constrain is None:
        constrain = task.answer_format  # sampling from the whole vocabulary strays from the syntax
    texts = generator.generate(examples, samples=k, temperature=numeric.temperature, constrain=constrain)
    if k == 1:
        return [task.decode(t, e) for t, e in zip(texts, examples)]
    return [
        task.combine([task.decode(t, e) for t in texts[i * k : (i + 1) * k]], numeric.mode)
        for i, e in enumerate(examples)
    ]


@contextlib.contextmanager
def evaluating(model: GroundedVLM) -> Iterator[torch.device]:
    """The model in eval mode within the block (yields its device), then back in the mode it was in."""
    was_training = model.training
    model.eval()
    try:
        yield next(itertools.chain(model.parameters(), model.buffers())).device
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
    with evaluating(model) as device:
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
                region_inputs=batch.get("region_inputs"),
            )
            out += model.tokenizer.batch_decode(ids, skip_special_tokens=True)
    return out


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
    """:func:`answer` with the local model: the task's decoded prediction for each example."""
    generator = LocalGenerator(
        model, collator, images, max_new_tokens, num_beams, progress=progress, processors=processors
    )
    return answer(generator, task, examples, numeric, constrain)
