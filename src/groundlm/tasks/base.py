"""The task interface: what to ask about a sample, what answer to train on, and how to score answers.

A task enumerates *items* of a sample (e.g. each referring expression), turns one into an :class:`Example`
(prompt with one ``<image>`` marker and one ``<region>`` marker per region box, target text), decodes generated
text into a prediction, and scores predictions with :mod:`groundlm.metrics`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from groundlm.data.sample import Sample
from groundlm.registry import Registry

Box = tuple[float, float, float, float]


@dataclass
class SpanTargets:
    """Head targets on character spans of an example's target text: ``spans`` ``[(start, end)]`` (end exclusive)
    with one row of ``values`` ``[S, D]`` each. The collator gives every target token whose characters overlap a
    span that span's row (PixelLLM's point per word, whatever the tokenizer splits a word into), NaN to the rest."""

    spans: list[tuple[int, int]]
    values: np.ndarray

    def __post_init__(self) -> None:
        if len(self.spans) != len(self.values):
            raise ValueError(f"{len(self.spans)} spans for {len(self.values)} target rows")


@dataclass
class Example:
    prompt: str
    target: str
    sample: Sample
    region_boxes: list[Box] = field(default_factory=list)  # pixel xyxy on the original image
    answer: Any = None  # what the metric compares against (a box, reference captions, ...)
    # Re-reading: the answer starts with one box (CogVLM syntax); the target then holds a <region> marker for that
    # box (whose pixel box ends region_boxes), and generation inserts the region of the box the model wrote
    # before it writes the rest, whose syntax this regular expression states.
    reread: str | None = None
    # Text the answer already starts with (generation continues after it), tokenized as targets are.
    answer_prefix: str = ""
    # Head targets by head name: ``[L, D]`` rows aligned with the target's first L tokens (row j: the j-th token's),
    # NaN rows for tokens without one (docs/architecture.md, section 5.3); or SpanTargets on the target's characters.
    targets: dict[str, Any] = field(default_factory=dict)
    # Head targets on the image: ``[N, D]`` rows, one per patch token of the prompt's image (row-major grid), read at
    # the ``<image>`` placeholders' positions (with the question first, those tokens have read it).
    image_targets: dict[str, Any] = field(default_factory=dict)
    # Fields a method's parts read, by name (docs/architecture.md, section 5): the method's batch hook turns them into
    # the batch's ``region_inputs`` (the multi-view encoder's ``view_orders``, ``region_tags`` and ``region_texts``,
    # :mod:`groundlm.methods.dynrefer.inference_views`). Generic code passes them through untouched.
    extras: dict[str, Any] = field(default_factory=dict)


class Task(ABC):
    """A task; registered under its ``name`` by :func:`register_task`. ``aliases`` are other names a user may ask
    for it by (``describe`` for ``region_caption``); ``max_new_tokens`` is the budget of one answered query
    (``predict``, ``serve``) and ``eval_max_new_tokens`` that of a scored one (``eval --checkpoint``)."""

    name: str
    aliases: tuple[str, ...] = ()
    max_new_tokens: int = 32
    eval_max_new_tokens: int = 24
    # Answering a user's question about a picture (groundlm.inference.predict): what the question gives besides the
    # picture ("query": text, "box": pixels x0 y0 x1 y1, "image": nothing more; None: the task answers no
    # questions); what a question without it lacks (``"a query (the referring expression)"``), and how a command
    # line's ``--query`` is described (``TEXT``).
    takes: str | None = None
    needs: str = ""
    query_hint: str = "TEXT"
    # The task's options that a model's manifest records and inference asks with, each by the field of
    # groundlm.inference.predict.AnswerOptions that carries it (``{"query_first": "query_first"}``).
    answer_options: ClassVar[dict[str, str]] = {}
    # A head whose outputs on an answer's words come with the answer (each word's point, PixelLLM's point head).
    word_head: str | None = None
    # What a question gives and its answer holds, in one line (the server's task list, ``/api/tasks``, and its page).
    summary: str = ""
    # The task's options that only groundlm's own model follows, each with what asking for it needs, as a sentence
    # goes on after "<task> with" (``{"reread": "reread needs groundlm's region tokens"}``): a transformers
    # backend refuses them (it has no region tokens, no heads).
    native_options: ClassVar[dict[str, str]] = {}

    @classmethod
    def numeric_answers(cls) -> bool:
        """Whether its answers hold numbers that sampled numeric decoding combines (those of a task that overrides
        :meth:`combine`)."""
        return cls.combine is not Task.combine

    @property
    def answer_format(self) -> str | None:
        """The format (``groundlm.formats``) answers are written in, when there is one: constrained decoding and
        sampled numeric decoding follow its syntax."""
        codec = getattr(self, "codec", None)
        return codec.name if codec is not None else None

    @abstractmethod
    def items(self, sample: Sample) -> list[Any]:
        """The questions this task can ask about ``sample`` (may be empty)."""

    @abstractmethod
    def example(self, sample: Sample, item: Any, rng: np.random.Generator | None) -> Example:
        """One example; ``rng=None`` means evaluation (first prompt phrasing, no sampling)."""

    @abstractmethod
    def decode(self, text: str, example: Example) -> Any:
        """Prediction from generated text (never raises)."""

    def combine(self, predictions: Sequence[Any], mode: str) -> Any:
        """One prediction from several decoded answers to one example (sampled numeric decoding,
        :mod:`groundlm.formats.numeric`). Tasks whose answers hold numbers combine them by ``mode`` (mean or
        median); the default keeps the first answer."""
        return predictions[0]

    def query_example(self, sample: Sample, query: str | None, box: Box | None) -> Example:
        """The example a user's question about ``sample`` (a picture without labels) asks: ``query`` text or a pixel
        ``box``, as :attr:`takes` says. ``ValueError`` when the question lacks what the task needs."""
        raise ValueError(f"{self.name} answers no questions about a picture")

    def check_query(self, query: str | None, box: Box | None) -> None:
        """``ValueError`` (``"<task> needs ..."``) when a question lacks what the task takes."""
        missing = (self.takes == "query" and not query) or (self.takes == "box" and box is None)
        if missing:
            raise ValueError(f"{self.name} needs {self.needs}")

    def answer_fields(self, text: str, example: Example) -> dict[str, Any]:
        """What an answer ``text`` to :meth:`query_example`'s ``example`` says, JSON-ready, beside the text itself
        (pixel boxes, angles in degrees, the region asked about); the default: nothing more."""
        return {}

    def combined_fields(self, prediction: Any) -> dict[str, Any]:
        """The fields of :meth:`answer_fields` that a prediction combined from sampled answers (:meth:`combine`)
        replaces; the default: none."""
        return {}

    @classmethod
    def draw_answer(cls, draw: Any, result: dict[str, Any]) -> None:
        """Draw on ``draw`` (a ``PIL.ImageDraw``, pixels) what :meth:`answer_fields` gave ``result`` beyond its boxes
        (which every overlay draws); the default: nothing."""
        return None

    @abstractmethod
    def score(self, predictions: Sequence[Any], examples: Sequence[Example]) -> dict[str, float]:
        """Metrics of predictions against their examples."""


TASKS: Registry[type[Task]] = Registry("task")


def register_task(cls: type[Task]) -> type[Task]:
    """A class decorator: ``cls`` becomes the task named ``cls.name`` (and its ``aliases``)."""
    TASKS.register(cls.name)(cls)
    return cls


# region encoder name -> hook(model config, training samples) -> the config to build: options a method derives from
# the training data (DynRefer's ``views.tags: auto``), applied by :func:`groundlm.tasks.fit_model_config`.
ModelConfigHook = Callable[[Any, Iterable[Sample]], Any]
MODEL_CONFIG_HOOKS: Registry[ModelConfigHook] = Registry("model config hook")
register_model_config_hook = MODEL_CONFIG_HOOKS.register


def pick(options: Sequence[str], rng: np.random.Generator | None) -> str:
    return options[0] if rng is None else options[int(rng.integers(len(options)))]
