"""Lazy re-exports for a package's ``__init__`` (PEP 562): ``from groundlm.models import GroundedVLM`` works, while
``import groundlm.models.config`` does not pay for importing the whole package (the VLM pulls in ``transformers``).

A package lists its public names by the module that defines them, and repeats the imports under ``if
TYPE_CHECKING:`` so that type checkers and the layer check (``tests/test_layers.py``) see the same edges::

    __getattr__, __dir__ = lazy_exports(__name__, {"groundlm.models.vlm": ("GroundedVLM",)})
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, Sequence[str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, given ``{module: (name, ...)}`` of what it re-exports.

    A name is imported from its module on first access and then kept in the package's namespace. An exported name
    must not also be a submodule's name: once the submodule is imported, the package attribute is the module.
    """
    where = {name: module for module, names in exports.items() for name in names}

    def attribute(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(where[name]), name)
        setattr(sys.modules[package], name, value)
        return value

    def names() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return attribute, names
