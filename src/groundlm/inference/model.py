"""The model handle: any saved model directory -> one object that answers every task it knows.

``load_model(directory)`` reads the directory's manifest (``groundlm.json``, :mod:`groundlm.manifest`) and builds the
handle its kind is registered with (:data:`MODEL_KINDS`): groundlm's grounded VLM and a transformers VLM (a model, a
LoRA run on one, or a merge) answer every task that takes questions in text (:func:`~groundlm.inference.predict.
question_tasks`) through their backend; a method registers its own kinds from its folder (LLM-MDE's depth model,
loaded with the methods' inference parts, :func:`groundlm.methods.load_parts`). Each task is asked the way the model
was trained on it (the manifest's options that the task names, :attr:`~groundlm.tasks.base.Task.answer_options`),
unless the caller says otherwise. ``predict``, ``eval --checkpoint``, ``serve``, ``merge`` and
the benches hold a model only through this handle, so a task works the same through each of them.

A directory written before the manifest is read once here (:func:`model_manifest`, asking each kind's
:meth:`Model.recognise`): this is the one place that looks at a directory's files to tell what it holds. Errors are
plain exceptions (``FileNotFoundError`` for a path that is not a model, ``ValueError`` for a question the model cannot
answer) for a front end to word.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from PIL import Image

from groundlm.adapters.lora import ADAPTER_FILE
from groundlm.backends import hf, native  # modules: importing groundlm.backends first also loads this package
from groundlm.backends.architectures import is_adapter_run, is_hf_dir
from groundlm.backends.base import BACKEND_FILE, Backend
from groundlm.data.sample import Sample
from groundlm.inference.generate import TextGenerator
from groundlm.inference.images import ImageCache
from groundlm.inference.loader import load_vlm
from groundlm.inference.predict import (
    AnswerOptions,
    Query,
    draw_overlay,
    predict_batch,
    query_example,
    question_tasks,
)
from groundlm.manifest import MANIFEST, Manifest, read_manifest, recorded_tasks
from groundlm.methods import load_parts
from groundlm.models.vlm import CONFIG, GroundedVLM
from groundlm.registry import Registry
from groundlm.tasks import build_task, task_class
from groundlm.tasks.base import Task

__all__ = [
    "MODEL_KINDS",
    "GroundedModel",
    "Model",
    "answerable_tasks",
    "load_model",
    "model_kinds",
    "model_manifest",
    "register_model_kind",
]


def model_manifest(directory: str | Path) -> Manifest:
    """The manifest of a saved model: its ``groundlm.json``, or, for a directory written before it, what its files
    say (``config.json``, ``backend.json``, adapters, ``tasks.json``). ``FileNotFoundError`` for a path that holds
    no model."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such model directory (not a groundlm model directory)")
    manifest = read_manifest(directory)
    if manifest is not None:
        return manifest
    # The kinds registered last (the methods') are asked first: the grounded VLM's takes any config.json.
    for cls in reversed(model_kinds()):
        manifest = cls.recognise(directory)
        if manifest is not None:
            return manifest
    raise FileNotFoundError(f"{directory}: not a model directory (no {CONFIG}, no {MANIFEST})")


class Model:
    """A saved model in memory: its ``kind`` (``vlm``, ``hf``, or a kind a method registers), its ``tasks`` (name ->
    the options it was trained with; every task it can answer, with none, when its directory does not say) and
    :meth:`answer`. Built by :func:`load_model` (or :meth:`GroundedModel.of` for a model in memory).

    A subclass serves the manifest kinds it names in ``descriptions`` (kind -> what to call such a model) once
    registered (:func:`register_model_kind`); it says which directories written before the manifest hold its kind
    (:meth:`recognise`) and loads them (:meth:`load`)."""

    kind: str
    tasks: dict[str, dict[str, Any]]
    descriptions: ClassVar[dict[str, str]] = {}
    answerable: tuple[str, ...] = ()  # every task it can be asked, trained on or not

    @classmethod
    def recognise(cls, directory: Path) -> Manifest | None:
        """The manifest of a directory written before manifests were, when it holds a model of this class's kinds."""
        return None

    @classmethod
    def load(
        cls, manifest: Manifest, directory: Path, device: str | torch.device | None = None, base: Path | None = None
    ) -> Model:
        """The model of kind ``manifest.kind`` saved in ``directory``, in eval mode on ``device``."""
        raise NotImplementedError

    @classmethod
    def kind_tasks(cls) -> tuple[str, ...]:
        """The tasks a model of this class answers."""
        return tuple(cls.answerable)

    @classmethod
    def describe_task(cls, task: str) -> dict[str, Any]:
        """What ``task``, one of :meth:`kind_tasks`, takes and gives, for a front end's list of tasks: ``takes``
        (``query`` text, a pixel ``box``, or the ``image`` alone), ``summary`` (one line) and ``numeric`` (whether
        its answers hold numbers that sampled numeric decoding combines)."""
        raise NotImplementedError

    def json_answer(self, result: dict[str, Any]) -> dict[str, Any]:
        """An answer of :meth:`answer_batch` as an API sends it (JSON); by default as it is."""
        return result

    def __init__(self, manifest: Manifest, directory: Path | None = None, name: str | None = None) -> None:
        self.kind = manifest.kind
        self.manifest = manifest
        self.directory = directory
        self._name = name
        # A directory that does not say which tasks it learned answers each task it can, with default options.
        self.tasks = dict(manifest.tasks) or {task: {} for task in self.answerable}

    @property
    def name(self) -> str:
        """What to call the model: as given, else its directory's name (a run's model directories are named final/
        or step-N/, so the run's name too)."""
        if self._name is not None or self.directory is None:
            return self._name or "model"
        path = self.directory.resolve()
        return f"{path.parent.name}/{path.name}" if path.name == "final" or path.name.startswith("step-") else path.name

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write the model, with its manifest, into ``directory``: it loads again with :func:`load_model`."""
        raise NotImplementedError

    @property
    def offered(self) -> tuple[str, ...]:
        """The tasks to offer a user: those it was trained on that it can answer, else every one it can."""
        return tuple(t for t in self.answerable if t in self.manifest.tasks) or self.answerable

    @property
    def device(self) -> torch.device:
        raise NotImplementedError

    @property
    def description(self) -> str:
        """What to call a model of its kind (``grounded VLM``)."""
        return self.descriptions.get(self.kind, f"{self.kind} model")

    def check_task(self, task: str) -> None:
        """Raises ``ValueError`` for a task this model cannot answer."""
        if task not in self.answerable:
            raise ValueError(
                f"{self.name} holds a {self.description}: it answers {', '.join(self.answerable)}, not {task!r}"
            )

    def answer(self, image: Image.Image, task: str, query: str | None = None, **options: Any) -> dict[str, Any]:
        """The answer to one question about ``image``, the dict ``groundlm predict`` prints (see
        :func:`~groundlm.inference.predict.predict`). ``region_caption`` takes ``box=(x0, y0, x1, y1)`` pixels;
        other ``options`` override how the model was trained (``format``, ``constrain``, ``numeric``, ``reread``,
        ``query_first``, ``region_image``, ``max_new_tokens``, ``num_beams``)."""
        box = options.pop("box", None)
        query_ = Query(image, task, query, tuple(box) if box is not None else None)
        return self.answer_batch([query_], self.options(task, **options))[0]

    def options(self, task: str, **given: Any) -> AnswerOptions:
        """How to ask ``task``: as given, else as the model was trained."""
        raise NotImplementedError

    def save_answer(
        self, picture: Image.Image, result: dict[str, Any], image: Path, out: str | None = None
    ) -> dict[str, Any]:
        """What ``groundlm predict`` prints for ``result``, an answer about ``picture`` (read from ``image``), after
        writing the files it shows: by default, with ``out``, an overlay PNG there (and its path as ``overlay``)."""
        if out:
            draw_overlay(picture, result, out)
            result["overlay"] = out
        return result

    def check(self, query: Query, options: AnswerOptions) -> None:
        """Raises ``ValueError`` for a query this model cannot answer (before it joins a batch)."""
        self.check_task(query.task)

    def task(self, name: str, format: str | None = None) -> Task:
        """Task ``name`` as the model was trained on it, for scoring its answers on a dataset."""
        self.check_task(name)
        raise ValueError(f"{self.name} holds a {self.description}, which does not answer {name!r} in text")

    def generator(
        self, max_new_tokens: int = 24, images: ImageCache | None = None, progress: bool = False
    ) -> TextGenerator:
        """A text generator over the model (for evaluation on a dataset)."""
        raise ValueError(f"{self.name} holds a {self.description}, which does not answer in text")

    def answer_batch(
        self, queries: Sequence[Query], options: AnswerOptions, batch_size: int = 32
    ) -> list[dict[str, Any]]:
        """One result per query, in order, answered in batches (queries that share ``options``)."""
        raise NotImplementedError

    def evaluate(self, task: str, samples: Sequence[Sample], where: str, limit: int, **options: Any) -> dict:
        """The metrics of answers to ``task``, a task this kind answers without text (a map), over the first
        ``limit`` of ``samples`` (from ``where``) that hold what they are scored against; ``options`` say how to
        score (e.g. a depth map's ``align``). Answers in text are scored against a task instead
        (:meth:`task`, :meth:`generator`)."""
        self.check_task(task)
        raise ValueError(f"{self.name} holds a {self.description}, whose {task!r} answers are scored as text")


MODEL_KINDS: Registry[type[Model]] = Registry("model kind")
"""Manifest kind -> the :class:`Model` class that loads and answers it."""


def register_model_kind(cls: type[Model]) -> type[Model]:
    """A class decorator: ``cls`` becomes the model class of each kind in its ``descriptions``."""
    for kind in cls.descriptions:
        MODEL_KINDS.register(kind)(cls)
    return cls


def model_kinds() -> list[type[Model]]:
    """Every model class, in registration order, once the methods' inference parts (which register their kinds)
    are loaded."""
    load_parts("inference")
    return list(dict.fromkeys(MODEL_KINDS.values()))


def answerable_tasks() -> tuple[str, ...]:
    """Every task some kind of model answers, each once: the grounded VLMs' first, then the methods' kinds'."""
    return tuple(dict.fromkeys(task for cls in model_kinds() for task in cls.kind_tasks()))


@register_model_kind
class GroundedModel(Model):
    """A VLM that answers in text (groundlm's own, or a transformers family's), through its backend
    (:mod:`groundlm.backends`)."""

    descriptions: ClassVar[dict[str, str]] = {"vlm": "grounded VLM", "hf": "transformers VLM"}

    @classmethod
    def kind_tasks(cls) -> tuple[str, ...]:
        return question_tasks()

    @classmethod
    def describe_task(cls, task: str) -> dict[str, Any]:
        """As the task says (:attr:`~groundlm.tasks.base.Task.takes`, ``summary``, ``numeric_answers``)."""
        task_cls = task_class(task)
        return {"takes": task_cls.takes, "summary": task_cls.summary, "numeric": task_cls.numeric_answers()}

    @property
    def answerable(self) -> tuple[str, ...]:  # type: ignore[override]
        return question_tasks()

    @classmethod
    def recognise(cls, directory: Path) -> Manifest | None:
        tasks = recorded_tasks(directory)
        if is_adapter_run(directory):
            return Manifest("hf", tasks, json.loads((directory / BACKEND_FILE).read_text()).get("base"))
        if is_hf_dir(directory):
            return Manifest("hf", tasks)
        if (directory / CONFIG).is_file() or (directory / ADAPTER_FILE).is_file():
            return Manifest("vlm", tasks)  # adapters alone load on the base the caller names
        return None

    @classmethod
    def load(
        cls, manifest: Manifest, directory: Path, device: str | torch.device | None = None, base: Path | None = None
    ) -> GroundedModel:
        if manifest.kind == "hf":
            return cls(manifest, directory, hf.HFBackend.load(directory, device=device))
        vlm = load_vlm(directory, base=base or manifest.base, device=device)
        return cls(manifest, directory, native.NativeBackend(vlm))

    def __init__(self, manifest: Manifest, directory: Path | None, backend: Backend, name: str | None = None) -> None:
        super().__init__(manifest, directory, name)
        self.backend = backend
        backend.record_tasks(manifest.tasks)

    @classmethod
    def of(
        cls, vlm: GroundedVLM, tasks: dict[str, dict[str, Any]] | None = None, name: str | None = None
    ) -> GroundedModel:
        """A handle on a groundlm VLM in memory (built or trained in this process), trained on ``tasks``."""
        return cls(Manifest("vlm", dict(tasks or {})), None, native.NativeBackend(vlm.eval()), name)

    def save_pretrained(self, directory: str | Path) -> Path:
        return Path(self.backend.save(directory))

    @property
    def device(self) -> torch.device:
        return next(self.backend.module.parameters()).device

    def trained(self, task: str) -> dict[str, Any]:
        """The options ``task`` was trained with ({} if the model does not say)."""
        return self.manifest.tasks.get(task, {})

    @property
    def box_format(self) -> str:
        """The box format refer answers are read in: as its refer task was trained, else the backend's own."""
        return self.trained("refer").get("format") or self.backend.box_format

    def options(self, task: str, **given: Any) -> AnswerOptions:
        self.check_task(task)
        unknown = set(given) - set(AnswerOptions.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown answer options {', '.join(sorted(unknown))}")
        given = {k: v for k, v in given.items() if v is not None}
        trained: dict[str, Any] = {}
        for name in self.answerable:  # each task's trained options, under the fields that carry them
            recorded = self.trained(name)
            for option, field in task_class(name).answer_options.items():
                if option in recorded:
                    trained[field] = recorded[option]
        trained.update(format=self.box_format, max_new_tokens=self.backend.answer_tokens)
        return AnswerOptions(**{**trained, **given})

    def check(self, query: Query, options: AnswerOptions) -> None:
        self.check_task(query.task)
        query_example(query, options)

    def answer_batch(
        self, queries: Sequence[Query], options: AnswerOptions, batch_size: int = 32
    ) -> list[dict[str, Any]]:
        for q in queries:
            self.check_task(q.task)
        return predict_batch(self.backend.answerer(), list(queries), options, batch_size)

    def task(self, name: str, format: str | None = None) -> Task:
        """Task ``name`` as the model was trained on it (its box format as given, else as trained), for scoring
        answers to a dataset (:func:`~groundlm.train.evaluate.evaluate_answers`)."""
        cls = task_class(name)
        recorded = self.trained(name)
        options = {o: recorded[o] for o in cls.answer_options if o in recorded and o != "format"}
        if "format" in cls.answer_options:  # the model's box format, whatever the task recorded
            options["format"] = format or self.box_format
        return build_task(name, **self.backend.task_options(name, options))

    def generator(
        self, max_new_tokens: int = 24, images: ImageCache | None = None, progress: bool = False
    ) -> TextGenerator:
        """A text generator over the model; ``max_new_tokens`` unless its answer syntax needs its own length."""
        return self.backend.generator(self.backend.answer_tokens or max_new_tokens, images=images, progress=progress)


def load_model(
    directory: str | Path, device: str | torch.device | None = None, base: str | Path | None = None
) -> Model:
    """The model saved in ``directory``, in eval mode on ``device`` (default: where it was built), whatever its
    kind. ``base``: the model directory that a directory of groundlm LoRA adapters alone applies to."""
    directory = Path(directory)
    manifest = model_manifest(directory)
    load_parts("inference")
    return MODEL_KINDS.get_known(manifest.kind).load(manifest, directory, device, Path(base) if base else None)
