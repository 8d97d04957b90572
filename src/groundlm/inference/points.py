"""Reading a head on the words of a given text (PixelLLM's trace evaluation): the text is teacher-forced after the
prompt, and each word's output is the mean of the head's outputs at the positions that predict its tokens."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from groundlm.inference.collate import Collator, to_device
from groundlm.inference.generate import evaluating
from groundlm.inference.images import ImageCache
from groundlm.tasks.base import Example, SpanTargets


@torch.no_grad()
def span_outputs(
    model, collator: Collator, examples: Sequence[Example], images: ImageCache, head: str, batch_size: int = 16
) -> list[np.ndarray]:
    """For each example whose ``targets[head]`` are :class:`SpanTargets`: ``[S, D]``, the head's mean output over
    the tokens of each of its ``S`` spans (NaN for a span no token overlaps)."""
    out: list[np.ndarray] = []
    with evaluating(model) as device:
        for k in range(0, len(examples), batch_size):
            chunk = list(examples[k : k + batch_size])
            batch = to_device(collator.train_batch(chunk, [images.get(e.sample) for e in chunk]), device)
            batch.pop("labels")
            batch.pop("head_targets", None)
            outputs = model(**batch).head_outputs[head].float().cpu()  # [B, T, D]
            for i, ex in enumerate(chunk):
                spans = ex.targets[head]
                if not isinstance(spans, SpanTargets):
                    raise ValueError(f"example targets {head!r} are not span targets")
                start = collator.prompt_length(ex) - 1  # the position that predicts the first target token
                owners = collator.span_tokens(ex.target, spans.spans)
                sums = torch.zeros(len(spans.spans), outputs.shape[-1])
                counts = torch.zeros(len(spans.spans), 1)
                for j, owner in enumerate(owners):
                    if owner is not None and start + j < outputs.shape[1]:
                        sums[owner] += outputs[i, start + j]
                        counts[owner] += 1
                out.append(torch.where(counts > 0, sums / counts.clamp_min(1), torch.nan).numpy())
    return out


@torch.no_grad()
def prompt_head_outputs(
    model, collator: Collator, examples: Sequence[Example], images: ImageCache, head: str, batch_size: int = 16
) -> np.ndarray:
    """``[N, D]``: the head's output at each example's last prompt position, the hidden state that writes the
    answer's first token (where :class:`~groundlm.tasks.refer.ReferTask`'s ``box_head`` is trained: PixelLLM's
    referring localisation by regression)."""
    rows = []
    with evaluating(model) as device:
        for k in range(0, len(examples), batch_size):
            chunk = list(examples[k : k + batch_size])
            batch = to_device(collator.generation_batch(chunk, [images.get(e.sample) for e in chunk]), device)
            rows.append(model(**batch).head_outputs[head][:, -1].float().cpu())  # prompts are left-padded
    return torch.cat(rows).numpy() if rows else np.zeros((0, 0), dtype=np.float32)


def regressed_boxes(outputs: np.ndarray, examples: Sequence[Example]) -> list[tuple[float, float, float, float]]:
    """Normalised ``[N, 4]`` box outputs -> pixel ``xyxy`` boxes on each example's image; the two corners are
    ordered (``x0 <= x1``, ``y0 <= y1``) whatever order the head wrote them in."""
    out = []
    for (a, b, c, d), ex in zip(np.asarray(outputs, dtype=np.float64), examples):
        w, h = ex.sample.width, ex.sample.height
        out.append((min(a, c) * w, min(b, d) * h, max(a, c) * w, max(b, d) * h))
    return out
