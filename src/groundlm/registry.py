"""A named registry of builders: ``@REGISTRY.register("name")`` adds one, ``REGISTRY.get(name)`` finds it, and an
unknown name is a ``ValueError`` that lists the known ones (as segment-anything's model registry does)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(dict[str, T], Generic[T]):
    """``kind`` names what is registered ("head kind", "region encoder") in error messages."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def register(self, name: str) -> Callable[[T], T]:
        """A decorator that registers its target under ``name`` and returns it unchanged."""

        def add(item: T) -> T:
            self[name] = item
            return item

        return add

    def get_known(self, name: str) -> T:
        """The entry named ``name``; a ``ValueError`` naming the known entries otherwise."""
        if name not in self:
            raise ValueError(f"unknown {self.kind} {name!r}; known: {', '.join(sorted(self))}")
        return self[name]
