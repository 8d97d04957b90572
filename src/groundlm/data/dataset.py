"""An indexable dataset of :class:`~groundlm.data.sample.Sample` records, and URI parsing for ``load``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

from groundlm.data.sample import Sample
from groundlm.errors import UserError


class SampleDataset(Sequence[Sample]):
    """Samples of one dataset split; ``name`` is the URI it was loaded from."""

    def __init__(self, samples: list[Sample], name: str = "") -> None:
        self.samples = samples
        self.name = name

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return SampleDataset(self.samples[index], self.name)
        return self.samples[index]

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)

    def __repr__(self) -> str:
        return f"SampleDataset({self.name!r}, {len(self)} samples)"


@dataclass(frozen=True)
class Uri:
    """``scheme:path?key=value&...``"""

    scheme: str
    path: Path
    query: dict[str, str]

    @classmethod
    def parse(cls, uri: str) -> Uri:
        if ":" not in uri or uri.index(":") < 2:  # "C:\..." style paths are not schemes
            raise UserError(f"{uri!r} is not a dataset URI; expected SCHEME:PATH, e.g. spatialworld:data/train")
        scheme, rest = uri.split(":", 1)
        path, _, query = rest.partition("?")
        try:
            params = dict(parse_qsl(query, strict_parsing=bool(query)))
        except ValueError:
            raise UserError(f"{uri!r}: malformed query {query!r}; expected key=value&key=value") from None
        return cls(scheme.lower(), Path(path), params)

    def require_file(self) -> Path:
        if not self.path.is_file():
            raise UserError(f"{self.scheme}: no such file {str(self.path)!r}")
        return self.path

    def require_dir(self) -> Path:
        if not self.path.is_dir():
            raise UserError(f"{self.scheme}: no such directory {str(self.path)!r}")
        return self.path

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.query.get(key)
        if value is None:
            return default
        if value.lower() in ("1", "true", "yes"):
            return True
        if value.lower() in ("0", "false", "no"):
            return False
        raise UserError(f"{self.scheme}: {key}={value!r} must be true or false")
