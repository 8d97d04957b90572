"""Reading JSON Lines files (predictions, ground truth, annotations), with errors that name the file and line."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from groundlm.errors import UserError


class Line:
    """One parsed JSON object with its origin, and typed accessors that fail with ``file:line`` messages."""

    def __init__(self, data: dict[str, Any], path: Path, lineno: int) -> None:
        self.data, self.path, self.lineno = data, path, lineno

    def where(self) -> str:
        return f"{self.path}:{self.lineno}"

    def fail(self, message: str) -> UserError:
        return UserError(f"{self.where()}: {message}")

    def has(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def get(self, key: str, kind: Callable[[Any], Any] | None = None) -> Any:
        if key not in self.data:
            raise self.fail(f"missing field {key!r}")
        value = self.data[key]
        return value if kind is None else kind(self, key, value)

    @property
    def id(self) -> str:
        value = self.get("id")
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise self.fail(f"'id' must be a string or an integer, got {value!r}")
        return str(value)


def number(line: Line, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise line.fail(f"{key!r} must be a finite number, got {value!r}")
    return float(value)


def positive(line: Line, key: str, value: Any) -> float:
    v = number(line, key, value)
    if v <= 0:
        raise line.fail(f"{key!r} must be positive, got {value!r}")
    return v


def box(line: Line, key: str, value: Any) -> tuple[float, float, float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 4:
        raise line.fail(f"{key!r} must be a list [x0, y0, x1, y1] in pixels, got {value!r}")
    return tuple(number(line, key, v) for v in value)  # type: ignore[return-value]


def text(line: Line, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise line.fail(f"{key!r} must be a string, got {value!r}")
    return value


def strings(line: Line, key: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise line.fail(f"{key!r} must be a list of strings, got {value!r}")
    return value


def read_jsonl(path: str | Path) -> list[Line]:
    """Every non-blank line of ``path`` as a :class:`Line`; a clear error for a missing file or bad JSON."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    lines = []
    with path.open(encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                data = json.loads(raw)
            except json.JSONDecodeError as e:
                raise UserError(f"{path}:{lineno}: not valid JSON ({e.msg} at column {e.colno})") from None
            if not isinstance(data, dict):
                raise UserError(f"{path}:{lineno}: expected a JSON object, got {type(data).__name__}")
            lines.append(Line(data, path, lineno))
    if not lines:
        raise UserError(f"{path}: the file has no records")
    return lines


def index_by_id(lines: list[Line]) -> dict[str, Line]:
    """Lines keyed by ``id``; a repeated id is an error (it would silently shadow another record)."""
    out: dict[str, Line] = {}
    for line in lines:
        key = line.id
        if key in out:
            raise line.fail(f"id {key!r} repeats the record at line {out[key].lineno}")
        out[key] = line
    return out
