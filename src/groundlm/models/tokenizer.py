"""The default tokenizer that ships with groundlm, and how it is built.

A byte-level BPE (lossless: any string round-trips) trained with the ``tokenizers`` library on SpatialWorld text:
referring expressions, captions, narratives, task prompts and the box strings of every format in
:mod:`groundlm.formats`. Digits are always split into single tokens, so coordinates are spelled digit by digit.
Special tokens: ``<pad>``, ``<s>``, ``</s>``, ``<unk>``, and the placeholders ``<image>`` and ``<region>`` that
the VLM replaces by visual features. Any Hugging Face tokenizer directory can be used instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from groundlm import formats

ASSET = Path(__file__).parent / "assets" / "tokenizer.json"
PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
IMAGE_TOKEN, REGION_TOKEN = "<image>", "<region>"
SPECIAL_TOKENS = [PAD, BOS, EOS, UNK, IMAGE_TOKEN, REGION_TOKEN]
VOCAB_SIZE = 1024


def corpus(n_samples: int = 300, seed: int = 12345) -> Iterator[str]:
    """Training text: SpatialWorld language, task prompts and box strings of every format."""
    from groundlm.data.synth.generate import generate
    from groundlm.data.synth.world import DOMAINS
    from groundlm.tasks.prompts import ALL_PROMPTS

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


def train_tokenizer(texts: Iterator[str], vocab_size: int = VOCAB_SIZE) -> Tokenizer:
    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    return tok


def build_default_tokenizer(out: Path = ASSET, n_samples: int = 300) -> Path:
    """Rebuild the shipped tokenizer file (deterministic for fixed arguments)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    train_tokenizer(corpus(n_samples)).save(str(out))
    return out


def load_tokenizer(path: str | Path | None = None) -> PreTrainedTokenizerFast:
    """The default tokenizer (``path=None``), a ``tokenizer.json`` file, or any HF tokenizer directory.

    The placeholders ``<image>`` and ``<region>`` are added as special tokens if the tokenizer lacks them.
    """
    if path is None or Path(path).is_file():
        tok = PreTrainedTokenizerFast(
            tokenizer_file=str(path or ASSET), pad_token=PAD, bos_token=BOS, eos_token=EOS, unk_token=UNK
        )
    else:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    missing = [t for t in (IMAGE_TOKEN, REGION_TOKEN) if t not in tok.get_vocab()]
    if missing:
        tok.add_special_tokens({"additional_special_tokens": missing})
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


if __name__ == "__main__":
    print(build_default_tokenizer())
