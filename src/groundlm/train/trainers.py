"""Trainers by method (docs/architecture.md, section 2): what ``groundlm train CONFIG`` runs for a config.

A config's ``method:`` key names a trainer that a method's folder registers (:func:`register_trainer`, from its
``train_*`` part): its typed config loader and its train function. A config without ``method:`` trains the grounded
VLM (:func:`groundlm.train.loop.train`). The command line names no method: it reads the key and asks
:func:`trainer_for`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from groundlm.errors import UserError
from groundlm.methods import load_parts
from groundlm.registry import Registry
from groundlm.train.config import load_config, read_yaml
from groundlm.train.loop import train


@dataclass(frozen=True)
class Trainer:
    """``load_config(path, overrides)``: the config as its typed dataclass (a :class:`~groundlm.errors.UserError`
    for a wrong one); ``train(config, resume=...)``: the run, ``resume`` continuing exactly from the run directory's
    newest checkpoint; it returns the run's summary (JSON-ready; nothing when there is none to print)."""

    load_config: Callable[[str | Path, Sequence[str]], Any]
    train: Callable[..., dict[str, Any] | None]


GROUNDED = Trainer(load_config, train)  # a config without ``method:``
# The name comes straight from the user's config, so an unknown one is a one-line UserError.
TRAINERS: Registry[Trainer] = Registry("training method", error=UserError)


def register_trainer(
    name: str, load: Callable[[str | Path, Sequence[str]], Any], train: Callable[..., dict[str, Any] | None]
) -> Trainer:
    """Register the trainer a config with ``method: <name>`` runs."""
    return TRAINERS.register(name)(Trainer(load, train))


def trainer_for(method: str | None) -> Trainer:
    """The trainer of ``method`` (a config's ``method:``; ``None``: the grounded VLM's), once the methods' training
    parts have registered theirs; a :class:`~groundlm.errors.UserError` naming the known methods."""
    if method is None:
        return GROUNDED
    load_parts("train")
    return TRAINERS.get_known(method)


def train_from_config(path: str | Path, overrides: Sequence[str] = (), resume: bool = False) -> dict[str, Any] | None:
    """Train as the config at ``path`` says (with ``key.sub=value`` overrides), by the trainer its ``method:`` names;
    the run's summary."""
    trainer = trainer_for(read_yaml(path, list(overrides)).get("method"))
    return trainer.train(trainer.load_config(path, list(overrides)), resume=resume)
