"""The methods, one folder each (as transformers keeps one folder per model): each method's parts sit together in
``groundlm/methods/<method>/`` and register into the shared machinery, which never names a method.

A method's ``__init__.py`` says what the method is and lists its parts by the layer they sit in
(docs/architecture.md, section 2): ``PARTS = {"models": (...), "tasks": (...), "inference": (...), "train": (...)}``,
module names inside the folder. A file's prefix says its layer: ``metrics_*`` (its own metrics), ``modeling_*``
(region encoders, heads, decoders), ``task_*`` (tasks and their batching), ``inference_*`` (view policies, batch
hooks, reading outputs, a method's own model kind), ``train_*`` (a method's own trainer, for a config's
``method:``), ``recipe*`` (a method's pipeline, at the benches' layer; the folder's ``RECIPES`` names it for
``groundlm recipe``). A registry that looks a name up first loads the parts of its own layer (:func:`load_parts`), so
that a fifth method adds a folder and its registrations, and nothing else.

The folders' ``__init__`` modules import nothing, so that reading ``PARTS`` never pulls in a higher layer.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

LAYERS = ("models", "tasks", "inference", "train")  # the layers a method registers parts at, lowest first


def method_names() -> list[str]:
    """The methods, by folder name, sorted."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.ispkg)


@cache
def load_parts(layer: str) -> None:
    """Import every method's parts of ``layer`` (one of :data:`LAYERS`), which registers them; once per layer."""
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; methods register parts at {', '.join(LAYERS)}")
    for name in method_names():
        package = importlib.import_module(f"{__name__}.{name}")
        for module in getattr(package, "PARTS", {}).get(layer, ()):
            importlib.import_module(f"{package.__name__}.{module}")


def recipe_module(name: str):
    """The module of the recipe a method declares as ``name`` in its folder's ``RECIPES`` (command name -> module
    in the folder, e.g. ``{"hpe": "recipe"}``), imported; a ``ValueError`` naming the known recipes."""
    known: dict[str, str] = {}
    for method in method_names():
        package = importlib.import_module(f"{__name__}.{method}")
        for command, module in getattr(package, "RECIPES", {}).items():
            known[command] = f"{package.__name__}.{module}"
    if name not in known:
        raise ValueError(f"unknown recipe {name!r} (known: {', '.join(sorted(known)) or 'none'})")
    return importlib.import_module(known[name])
