"""The few SpatialWorld pictures the web page offers before anyone uploads one, rendered in memory at start-up,
each with referring expressions (and names of its people) to try."""

from __future__ import annotations

import io
from dataclasses import dataclass

from groundlm.data.synth.generate import generate

# (domain, index) pairs of the validation stream (seed 1): busy portrait scenes for refer, a headshot for pose.
BUILT_IN = (("portrait", 0), ("portrait", 3), ("headshot", 0), ("classic", 2))
SAMPLE_SEED = 1


@dataclass(frozen=True)
class BuiltInSample:
    """A rendered picture (PNG bytes) and what to ask about it: ``queries`` name objects, ``people`` name persons."""

    name: str
    domain: str
    width: int
    height: int
    png: bytes
    queries: tuple[str, ...]
    people: tuple[str, ...]

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "domain": self.domain,
            "width": self.width,
            "height": self.height,
            "url": f"/api/samples/{self.name}",
            "queries": list(self.queries),
            "people": list(self.people),
        }


def built_in_samples(size: int = 256) -> dict[str, BuiltInSample]:
    """The built-in samples by name, rendered at ``size`` x ``size`` pixels."""
    out = {}
    for domain, index in BUILT_IN:
        made = generate(SAMPLE_SEED, index, domain, size)
        sample = made.sample
        buffer = io.BytesIO()
        sample.image_loader().save(buffer, format="PNG")
        queries = tuple(dict.fromkeys(r.text for r in sample.referring))[:6]
        people = tuple(
            dict.fromkeys(r.text for r in sample.referring if sample.regions[r.region].category == "person")
        )[:4]
        name = f"{domain}-{index}"
        out[name] = BuiltInSample(name, domain, sample.width, sample.height, buffer.getvalue(), queries, people)
    return out
