"""The default tokenizer that ships with groundlm, and how it is built.

A byte-level BPE (lossless: any string round-trips) trained with the ``tokenizers`` library on SpatialWorld text
(:mod:`groundlm.tasks.tokenizer_corpus` builds the shipped file). Digits are always split into single tokens,
so coordinates are spelled digit by digit.
Special tokens: ``<pad>``, ``<s>``, ``</s>``, ``<unk>``, and the placeholders ``<image>`` and ``<region>`` that
the VLM replaces by visual features. Any Hugging Face tokenizer directory can be used instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

ASSET = Path(__file__).parent / "assets" / "tokenizer.json"
PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
IMAGE_TOKEN, REGION_TOKEN = "<image>", "<region>"
SPECIAL_TOKENS = [PAD, BOS, EOS, UNK, IMAGE_TOKEN, REGION_TOKEN]
VOCAB_SIZE = 1024


def train_tokenizer(texts: Iterable[str], vocab_size: int = VOCAB_SIZE) -> Tokenizer:
    """A byte-level BPE over ``texts`` with digits split singly and :data:`SPECIAL_TOKENS` reserved."""
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


def left_padded(rows: Sequence[Sequence[int]], pad_token_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token id rows padded on the left to the longest (so that every row ends at the same position): ids ``[B, T]``
    and the attention mask ``[B, T]`` (0 on padding)."""
    width = max(len(r) for r in rows)
    ids = torch.tensor([[pad_token_id] * (width - len(r)) + list(r) for r in rows])
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
    return ids, mask
