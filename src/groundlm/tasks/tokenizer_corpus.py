"""The text the shipped tokenizer (``models/assets/tokenizer.json``) is trained on, and its rebuild.

SpatialWorld language (referring expressions, captions), the task prompts and the box strings of every format in
:mod:`groundlm.formats`. Rebuild: ``python -m groundlm.tasks.tokenizer_corpus`` (deterministic).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from groundlm import formats
from groundlm.data.synth.generate import generate
from groundlm.data.synth.world import DOMAINS
from groundlm.models.tokenizer import ASSET, train_tokenizer
from groundlm.tasks.prompts import ALL_PROMPTS


def corpus(n_samples: int = 300, seed: int = 12345) -> Iterator[str]:
    """Training text: SpatialWorld language, task prompts and box strings of every format."""
    rng = np.random.default_rng(seed)
    domains = list(DOMAINS)
    for i in range(n_samples):
        s = generate(seed, i, domains[i % len(domains)], 64).sample
        yield from (r.text for r in s.referring)
        yield from s.captions
        for region in s.regions:
            yield from region.captions
        w, h = s.width, s.height
        for name in formats.names():
            codec = formats.get(name)
            x0, y0 = rng.uniform(0, 0.5, 2) * (w, h)
            box = (x0, y0, x0 + rng.uniform(0.1, 0.5) * w, y0 + rng.uniform(0.1, 0.5) * h)
            if name == "pose":
                yield formats.render_pose(box, *rng.uniform(-90, 90, 3), w, h)
            else:
                yield codec.render_boxes([box], w, h, label="object")
    yield from ALL_PROMPTS


def build_default_tokenizer(out: Path = ASSET, n_samples: int = 300) -> Path:
    """Rebuild the shipped tokenizer file (deterministic for fixed arguments)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    train_tokenizer(corpus(n_samples)).save(str(out))
    return out


if __name__ == "__main__":
    print(build_default_tokenizer())
