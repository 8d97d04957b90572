"""Caption metrics exactly as ``pycocoevalcap`` computes them (the COCO caption evaluation code).

Captions are tokenised by its PTB tokenizer (Stanford CoreNLP, Java), then scored with BLEU-1..4, METEOR 1.5,
ROUGE-L and CIDEr-D (pycocoevalcap's ``Cider`` is the CIDEr-D variant: clipped n-gram counts and a Gaussian length
penalty). Keys are pycocoevalcap's names. CIDEr-D's document frequencies come from the evaluated corpus, so a
one-image corpus scores 0.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import Hashable, Iterator, Mapping, Sequence

CAPTION_KEYS: tuple[str, ...] = ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr")


def clean(text: str) -> str:
    """One line of text: METEOR's stdio protocol breaks on newlines and on its ``|||`` separator."""
    return re.sub(r"\s+", " ", str(text).replace("|||", " ")).strip()


class MeteorScorer:
    """One METEOR 1.5 process (pycocoevalcap's jar), reused across calls; use as a context manager."""

    def __init__(self) -> None:
        from pycocoevalcap.meteor.meteor import Meteor  # imported where used: most commands never score captions

        self._meteor = Meteor()

    def compute(
        self, refs: Mapping[Hashable, Sequence[str]], hyps: Mapping[Hashable, str]
    ) -> tuple[float, list[float]]:
        """Corpus METEOR and per-item scores for ``hyps[k]`` against ``refs[k]`` (each with >= 1 reference)."""
        if self._meteor is None:
            raise RuntimeError("this METEOR scorer is closed")
        keys = list(hyps)
        if not keys:
            return 0.0, []
        if any(not refs[k] for k in keys):
            raise ValueError("every hypothesis needs at least one reference for METEOR")
        gts = {i: [clean(r) for r in refs[k]] for i, k in enumerate(keys)}
        res = {i: [clean(hyps[k])] for i, k in enumerate(keys)}
        score, scores = self._meteor.compute_score(gts, res)
        return float(score), [float(s) for s in scores]

    def close(self) -> None:
        self._meteor = None  # pycocoevalcap's Meteor ends its process when collected

    def __enter__(self) -> MeteorScorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """pycocoevalcap prints progress to stdout, and its Java tokenizer to file descriptor 2; hide both."""
    with contextlib.redirect_stdout(io.StringIO()):
        saved = os.dup(2)
        try:
            with open(os.devnull, "w") as devnull:
                os.dup2(devnull.fileno(), 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def tokenize(captions: Mapping[Hashable, Sequence[str]]) -> dict[Hashable, list[str]]:
    """PTB-tokenise (lower-cased, punctuation removed) lists of captions keyed by id."""
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    with _quiet():
        return PTBTokenizer().tokenize({k: [{"caption": clean(c)} for c in v] for k, v in captions.items()})


def caption_metrics(
    refs: Mapping[Hashable, Sequence[str]], preds: Mapping[Hashable, str], meteor: MeteorScorer | None = None
) -> dict[str, float]:
    """Corpus metrics of one prediction per id against that id's references (ids must match)."""
    if set(refs) != set(preds):
        raise ValueError("references and predictions must have the same ids")
    if not refs:
        raise ValueError("no captions to evaluate")
    if any(not r for r in refs.values()):
        raise ValueError("every id needs at least one reference caption")
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    gts = tokenize(refs)
    res = tokenize({k: [v] for k, v in preds.items()})
    out: dict[str, float] = {}
    with _quiet():
        bleu, _ = Bleu(4).compute_score(gts, res)
        out.update({f"Bleu_{i + 1}": float(b) for i, b in enumerate(bleu)})
        scorer = meteor or MeteorScorer()
        try:
            out["METEOR"], _ = scorer.compute(gts, {k: v[0] for k, v in res.items()})
        finally:
            if meteor is None:
                scorer.close()
        out["ROUGE_L"] = float(Rouge().compute_score(gts, res)[0])
        out["CIDEr"] = float(Cider().compute_score(gts, res)[0])
    return out
