"""Answering queries about images: request -> example -> generation -> decoding -> a JSON-ready result
(``groundlm predict``, ``groundlm serve`` and any other front end). :func:`predict_batch` answers many queries in one
batched generation per task; :func:`predict` answers one. Bad requests raise ``ValueError``; the front end words
them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from groundlm.data.sample import Sample
from groundlm.formats.numeric import GREEDY, NumericDecoding
from groundlm.inference.collate import Collator
from groundlm.inference.generate import LocalGenerator, TextGenerator
from groundlm.inference.images import ImageCache
from groundlm.inference.points import span_outputs
from groundlm.models.vlm import GroundedVLM
from groundlm.tasks import task_class, task_names
from groundlm.tasks.base import Example, SpanTargets, Task

__all__ = ["AnswerOptions", "Query", "draw_overlay", "predict", "predict_batch", "question_tasks"]

VIEW_COLOURS = ((255, 40, 40), (40, 200, 255), (255, 200, 0), (120, 255, 120), (230, 120, 255))


def question_tasks() -> tuple[str, ...]:
    """The tasks that answer a user's question about a picture in text (:attr:`Task.takes`), in registration
    order."""
    return tuple(name for name in task_names() if task_class(name).takes)


@dataclass(frozen=True)
class Query:
    """One question about one image: a task that takes ``query`` text (``refer``, ``pose``) or a pixel ``box``
    ``(x0, y0, x1, y1)`` (``region_caption``), as its :attr:`~groundlm.tasks.base.Task.takes` says."""

    image: Image.Image = field(compare=False)
    task: str
    query: str | None = None
    box: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class AnswerOptions:
    """How to answer: the box ``format`` of refer answers, ``constrain`` decoding to the answer syntax,
    ``max_new_tokens`` (default: the task's own, e.g. 48 for pose's 33-token answers, 32 otherwise), beams,
    ``numeric`` decoding, and how the model was trained: ``reread`` (``PoseTask(reread=True)``), ``query_first``
    (``ReferTask(query_first=True)``) and ``region_image`` (False: ``RegionCaptionTask(image=False)``, the region's
    tokens without the whole image's); a task names the fields it reads (:attr:`Task.answer_options`). Hashable, so
    that a server batches queries that share options."""

    format: str = "cogvlm"
    constrain: bool = False
    max_new_tokens: int | None = None
    num_beams: int = 1
    numeric: NumericDecoding = GREEDY
    reread: bool = False
    query_first: bool = False
    region_image: bool = True


def answering_task(name: str, options: AnswerOptions) -> Task:
    """Task ``name`` asked as ``options`` say (the options it names in :attr:`Task.answer_options`)."""
    cls = task_class(name)
    return cls(**{option: getattr(options, answer) for option, answer in cls.answer_options.items()})


def query_example(q: Query, options: AnswerOptions) -> Example:
    """The model input for ``q`` (raises ``ValueError`` for a query its task cannot take)."""
    if q.task not in question_tasks():
        raise ValueError(f"predict supports the tasks {', '.join(question_tasks())}, not {q.task!r}")
    w, h = q.image.size
    image = q.image
    sample = Sample(id="query", width=w, height=h, image_loader=lambda: image)
    return answering_task(q.task, options).query_example(sample, q.query, q.box)


def predict_batch(
    model: GroundedVLM | TextGenerator,
    queries: Sequence[Query],
    options: AnswerOptions = AnswerOptions(),
    batch_size: int = 32,
) -> list[dict[str, Any]]:
    """One result per query, in order (see :func:`predict`), from one batched generation per task present. Every
    query is checked before anything runs. ``model`` is groundlm's own, or any other backend's
    :class:`~groundlm.inference.generate.TextGenerator` (a transformers VLM's)."""
    examples = [query_example(q, options) for q in queries]
    results: list[dict[str, Any]] = [{} for _ in queries]
    for task in dict.fromkeys(q.task for q in queries):
        index = [i for i, q in enumerate(queries) if q.task == task]
        answers = _answer_task(model, task, [examples[i] for i in index], options, batch_size)
        for i, result in zip(index, answers):
            results[i] = result
    return results


def _answer_task(
    model: GroundedVLM | TextGenerator,
    name: str,
    examples: list[Example],
    options: AnswerOptions,
    batch_size: int,
) -> list[dict[str, Any]]:
    """Results for ``examples`` that all belong to task ``name``."""
    task = answering_task(name, options)
    format = task.answer_format  # answers with numbers in a syntax: constrained and sampled decoding apply
    numeric = options.numeric
    sampled = numeric.sampled and format is not None
    k = numeric.samples if sampled else 1
    native = isinstance(model, GroundedVLM)
    collator = Collator.for_model(model) if native else None
    generator = LocalGenerator(model, collator, num_beams=options.num_beams, batch_size=batch_size) if native else model
    texts = generator.generate(
        examples,
        samples=k,
        temperature=numeric.temperature,
        constrain=format if options.constrain else None,
        max_new_tokens=options.max_new_tokens or task.max_new_tokens,
    )
    out = []
    for i, example in enumerate(examples):
        own = texts[i * k : (i + 1) * k]
        result: dict[str, Any] = {"task": name, "text": own[0], **task.answer_fields(own[0], example)}
        if sampled:
            combined = task.combine([task.decode(t, example) for t in own], numeric.mode)
            result.update(texts=own, numeric=numeric.mode)
            result.update(task.combined_fields(combined))
        if task.takes == "box" and collator is not None and collator.region_inputs is not None:
            result.update(collator.region_inputs.answer_fields(example, example.sample.load_image()))
        out.append(result)
    if native and task.word_head is not None and task.word_head in model.heads:
        _place_words(model, collator, task.word_head, examples, out)
    return out


def _place_words(
    model: GroundedVLM, collator: Collator, head: str, examples: list[Example], results: list[dict]
) -> None:
    """Each answer's words at the points ``head`` gives them (teacher-forced on the generated text):
    ``result["words"]`` = ``[{"word", "point": [x, y] pixels}]``."""
    spoken = []
    for example, result in zip(examples, results):
        spans = [m.span() for m in re.finditer(r"\S+", result["text"])]
        target = SpanTargets(spans, np.zeros((len(spans), 2), dtype=np.float32))
        spoken.append(replace(example, target=result["text"], targets={head: target}))
    read = span_outputs(model, collator, [e for e in spoken if e.target], ImageCache(), head)
    points = iter(read)
    for example, result in zip(spoken, results):
        if not example.target:
            result["words"] = []
            continue
        w, h = example.sample.width, example.sample.height
        result["words"] = [
            {"word": result["text"][a:b], "point": [float(x) * w, float(y) * h]}
            for (a, b), (x, y) in zip(example.targets[head].spans, next(points))
            if np.isfinite(x)
        ]


def predict(
    model: GroundedVLM | TextGenerator,
    image: Image.Image,
    task: str,
    query: str | None = None,
    box: tuple[float, float, float, float] | None = None,
    format: str = "cogvlm",
    constrain: bool = False,
    max_new_tokens: int | None = None,
    num_beams: int = 1,
    numeric: NumericDecoding = GREEDY,
    reread: bool = False,
    query_first: bool = False,
    region_image: bool = True,
) -> dict[str, Any]:
    """``refer``: ``query`` -> text and parsed pixel boxes; ``region_caption``: ``box`` -> caption; ``pose``:
    ``query`` names a person -> head box and ``(yaw, pitch, roll)`` in degrees; ``narrate``: a narration, and with a
    ``point`` head each word's point in pixels (``words``). With sampled ``numeric``
    decoding, ``texts`` holds the sampled answers and ``box`` / ``pose`` combine their numbers; a multi-view model's
    region caption comes with the ``views`` it saw (``t`` and pixel box each). The options are those of
    :class:`AnswerOptions`."""
    options = AnswerOptions(format, constrain, max_new_tokens, num_beams, numeric, reread, query_first, region_image)
    return predict_batch(model, [Query(image, task, query, box)], options)[0]


def draw_overlay(image: Image.Image, result: dict[str, Any], path: str | Path) -> None:
    """Draw ``result`` (an answer of :func:`predict` or of a model handle) on ``image`` and save it to ``path``: boxes,
    views, what the task draws of its answers (a head pose's axes), words at their points, the answer's text; a map
    answer (a depth map) in colour."""
    maps = [v for v in result.values() if isinstance(v, np.ndarray)]
    if maps:  # an answer that is a map (a depth map, metres) is drawn as the map, in colour
        from groundlm.data.show import colorize_depth

        Image.fromarray(colorize_depth(maps[0])).save(path)
        return
    canvas = image.convert("RGB").copy()
    draw = ImageDraw.Draw(canvas)
    # A multi-view model's views, widest first, each in its own colour with its t; then the region itself.
    for k, view in sorted(enumerate(result.get("views", [])), key=lambda kv: -kv[1]["t"]):
        colour = VIEW_COLOURS[k % len(VIEW_COLOURS)]
        draw.rectangle(view["box"], outline=colour, width=2)
        x0, y0, _, y1 = view["box"]
        draw.text((x0 + 2, y0 - 11 if y0 >= 11 else y1 + 1), f"t={view['t']:.1f}", fill=colour)  # above, or below
    if result.get("region") is not None:
        draw.rectangle(result["region"], outline=(255, 40, 40), width=2)
    for box in result.get("parsed", {}).get("boxes", []):
        draw.rectangle(box, outline=(255, 40, 40), width=2)
    if result.get("task") in question_tasks():  # what only its task's answers hold (a head's axes)
        task_class(result["task"]).draw_answer(draw, result)
    for word in result.get("words", []):
        x, y = word["point"]
        draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=(255, 40, 40))
        draw.text((x + 3, y - 5), word["word"], fill=(255, 255, 0))
    if not result.get("words"):
        draw.text((4, 4), result["text"][:80], fill=(255, 255, 0))
    canvas.save(path)
