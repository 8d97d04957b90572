"""Format-constrained decoding: every generated answer follows a format's syntax.

Each codec states the regular expression of a complete one-box answer (``Codec.answer_pattern``). At each step,
a token is allowed only if the text generated so far followed by the token can still become a full match (partial
matching of the ``regex`` library); once the text is a full match, only end-of-sequence is allowed. Ranges of the
syntax are enforced (e.g. 000-999); that ``x1 > x0`` is not, so a parse can still report ``degenerate``.
"""

from __future__ import annotations

import regex
import torch
from transformers import LogitsProcessor

from groundlm import formats


class FormatConstraint(LogitsProcessor):
    def __init__(
        self,
        format_name: str | None,
        tokenizer,
        top_k: int = 64,
        pattern: str | None = None,
        syntax_tokens: tuple[str, ...] = (),
    ) -> None:
        """Answers follow ``format_name``'s answer pattern, or ``pattern`` (a regular expression) if given.
        ``syntax_tokens``: special tokens that are part of the syntax (Qwen2-VL's ``<|box_start|>``): they may be
        generated, and the text the pattern reads keeps them."""
        pattern = pattern or formats.get(format_name).answer_pattern
        if not pattern:
            raise ValueError(f"format {format_name!r} has no answer pattern for constrained decoding")
        self.pattern = regex.compile(pattern)
        self.tokenizer = tokenizer
        self.eos = tokenizer.eos_token_id
        self.top_k = top_k
        special = set(tokenizer.all_special_ids) - {tokenizer.convert_tokens_to_ids(t) for t in syntax_tokens}
        self.skip_special = not syntax_tokens
        self.texts = [None if i in special else tokenizer.decode([i]) for i in range(len(tokenizer))]

    def _ok(self, text: str) -> bool:
        return self.pattern.fullmatch(text, partial=True) is not None

    def allowed(self, text: str, order: list[int]) -> list[int]:
        """Token ids (from ``order``, best first) that keep ``text`` a viable prefix; EOS if it is complete."""
        if self.pattern.fullmatch(text) is not None:
            return [self.eos]
        head = order[: self.top_k]
        ok = [t for t in head if self.texts[t] and self._ok(text + self.texts[t])]
        if not ok:
            ok = [t for t in order[self.top_k :] if self.texts[t] and self._ok(text + self.texts[t])]
        return ok or [self.eos]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        masked = torch.full_like(scores, float("-inf"))
        order = torch.argsort(scores, dim=-1, descending=True).tolist()
        for row in range(scores.shape[0]):
            text = self.tokenizer.decode(input_ids[row], skip_special_tokens=self.skip_special)
            keep = self.allowed(text, order[row])
            masked[row, keep] = scores[row, keep]
        return masked
