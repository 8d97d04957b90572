"""Numbers in answers decoded from the model's distribution, not digit by digit.

Greedy decoding writes the most likely digit at each step: for a model that is unsure of a number, that is the mode
of each digit in turn, which can be far from every good point estimate (e.g. digits ``4`` and ``9`` equally likely
for the tens of an angle give 40-49 or 90-99, never the mean 70). Instead the model writes ``K`` answers by
sampling (at a temperature), each answer is parsed, and every numeric field is combined over the answers that
parsed: ``mean`` estimates the expectation of the model's distribution of the number, ``median`` its median
(robust to a few wild samples). The combined answer is then scored like any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

NUMERIC_MODES = ("greedy", "mean", "median")


@dataclass(frozen=True)
class NumericDecoding:
    """``mode``: ``greedy`` (one answer, its digits as written), or ``mean`` / ``median`` of each number over
    ``samples`` answers sampled at ``temperature``."""

    mode: str = "greedy"
    samples: int = 16
    temperature: float = 1.0

    def __post_init__(self) -> None:
        if self.mode not in NUMERIC_MODES:
            raise ValueError(f"numeric decoding must be one of {', '.join(NUMERIC_MODES)}, got {self.mode!r}")
        if self.samples < 1 or not self.temperature > 0:
            raise ValueError("numeric decoding needs samples >= 1 and a positive temperature")

    @property
    def sampled(self) -> bool:
        return self.mode != "greedy"


def combine(values: Sequence[Sequence[float] | None], mode: str) -> tuple[float, ...] | None:
    """The element-wise ``mean`` or ``median`` of equal-length vectors (a box, three angles); ``None`` entries
    (answers that did not parse) are left out; ``None`` when nothing is left. ``greedy`` takes the first."""
    kept = [tuple(float(x) for x in v) for v in values if v is not None]
    if not kept:
        return None
    if mode == "greedy":
        return kept[0]
    if mode not in ("mean", "median"):
        raise ValueError(f"cannot combine numbers by {mode!r}; use mean or median")
    array = np.asarray(kept, dtype=np.float64)
    out = array.mean(0) if mode == "mean" else np.median(array, 0)
    return tuple(float(x) for x in out)


GREEDY = NumericDecoding()
