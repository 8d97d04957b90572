"""Named registries: formats, tasks, dataset readers, merge methods, heads and region encoders are each one
:class:`Registry`, so every one is extended, listed and searched the same way.

* an entry is added with ``@REGISTRY.register("name")`` where it is defined, or given with the registry when a package
  gathers its entries in one place (``Registry("task", {"refer": ReferTask, ...})``);
* ``REGISTRY.get_known(name)`` finds one, and an unknown name is an error that lists the known ones (as
  segment-anything's model registry does);
* ``list(REGISTRY)`` names them, in the order they were added.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(dict[str, T], Generic[T]):
    """``kind`` names what is registered ("format", "head kind") in error messages; ``error`` is the exception an
    unknown name raises (a ``ValueError`` for the library's callers; :class:`~groundlm.errors.UserError` where the
    name comes straight from the user, as a dataset URI's scheme does)."""

    def __init__(self, kind: str, entries: Mapping[str, T] | None = None, error: type[Exception] = ValueError) -> None:
        super().__init__(entries or {})
        self.kind = kind
        self.error = error

    def register(self, name: str) -> Callable[[T], T]:
        """A decorator that registers its target under ``name`` and returns it unchanged."""

        def add(item: T) -> T:
            self[name] = item
            return item

        return add

    def get_known(self, name: str) -> T:
        """The entry named ``name``; an error naming the known entries otherwise."""
        if name not in self:
            raise self.error(
                f"unknown {self.kind} {name!r}, not one of the known {self.kind}s (known: {', '.join(self)})"
            )
        return self[name]
