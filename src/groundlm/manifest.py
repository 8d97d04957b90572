"""The manifest every saved model carries: ``groundlm.json`` beside its weights.

``{"kind": ..., "tasks": {name: options}, "base": ..., "version": 1}``:

* ``kind``: what loads the directory: ``vlm`` (groundlm's :class:`~groundlm.models.vlm.GroundedVLM`), ``depth``
  (an LLM-MDE :class:`~groundlm.methods.llm_mde.modeling_depth_lm.DepthLM`) or ``hf`` (a transformers VLM, a
  groundlm LoRA run on one, or a merge of such runs);
* ``tasks``: each task the model was trained on and the options it was trained with (box ``format``,
  ``query_first``, ``reread``, ``image``, views, ...), so that inference asks as training did; empty when unknown;
* ``base``: the model it was built on: an adapters run's base directory (needed to load it), a merge's base;
  ``None`` for a model saved whole from scratch.

Written by every ``save`` (models, backends, merges); read by :func:`groundlm.inference.load_model`, the one place
that also infers the manifest of an older directory that has none. Directories written before the manifest kept
their tasks in ``tasks.json`` (a list of ``{"name", "options"}``); :func:`recorded_tasks` still reads it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST = "groundlm.json"
VERSION = 1
KINDS = ("vlm", "depth", "hf")
LEGACY_TASKS = "tasks.json"  # the task list of directories written before the manifest


@dataclass
class Manifest:
    """What a saved model is (see the module docstring)."""

    kind: str
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    base: str | None = None
    version: int = VERSION

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"model kind must be one of {', '.join(KINDS)}, got {self.kind!r}")

    @property
    def region_tokens(self) -> bool:
        """Whether the model is groundlm's own VLM, with region tokens to re-read a box and groundlm submodules
        (region encoder, heads) that a fine-tune may train beside its LoRA; a transformers VLM has neither."""
        return self.kind == "vlm"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "tasks": self.tasks, "base": self.base, "version": self.version}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        tasks = {str(k): dict(v or {}) for k, v in (data.get("tasks") or {}).items()}
        return cls(data["kind"], tasks, data.get("base"), int(data.get("version", VERSION)))


def write_manifest(directory: str | Path, manifest: Manifest) -> Path:
    """Write ``groundlm.json`` into ``directory`` (which exists); returns its path."""
    path = Path(directory) / MANIFEST
    path.write_text(json.dumps(manifest.to_dict(), indent=2) + "\n")
    return path


def read_manifest(directory: str | Path) -> Manifest | None:
    """The manifest of ``directory``; ``None`` when it has none (an older directory). A manifest that is not valid
    JSON, or names no known kind, raises ``ValueError``."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        return None
    try:
        return Manifest.from_dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a valid model manifest ({e})") from None


def recorded_tasks(directory: str | Path) -> dict[str, dict[str, Any]]:
    """Task name -> the options it was trained with, as ``directory`` records them: its manifest, else an older
    directory's ``tasks.json``; ``{}`` when neither says."""
    manifest = read_manifest(directory)
    if manifest is not None:
        return manifest.tasks
    path = Path(directory) / LEGACY_TASKS
    if not path.is_file():
        return {}
    return {task.get("name"): dict(task.get("options") or {}) for task in json.loads(path.read_text())}


def task_records(tasks: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """``tasks`` as the older ``tasks.json`` list (``[{"name", "options"}]``)."""
    return [{"name": name, "options": options} for name, options in tasks.items()]
