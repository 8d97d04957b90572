"""Plain-text tables of metric dictionaries, one row per prediction file."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any


def format_value(value: Any) -> str:
    """Integers as they are, floats with 3 decimals (4 significant digits under 0.01), missing as '-'."""
    if value is None:
        return "-"
    if isinstance(value, (bool, int)):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.3f}" if abs(value) >= 0.01 or value == 0 else f"{value:.4g}"
    return str(value)


def format_table(title: str, rows: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """A title line and an aligned table: the first column names the row, the others are the metric keys."""
    keys: list[str] = []
    for _, metrics in rows:
        keys += [k for k in metrics if k not in keys and not isinstance(metrics[k], (dict, list))]
    header = ["", *keys]
    body = [[label, *(format_value(m.get(k)) for k in keys)] for label, m in rows]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        return "  ".join([first, *(c.rjust(w) for c, w in zip(cells[1:], widths[1:]))]).rstrip()

    rule = "-" * len(line(header))
    return "\n".join([title, rule, line(header), rule, *(line(r) for r in body), rule])
