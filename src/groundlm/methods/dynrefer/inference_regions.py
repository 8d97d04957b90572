"""Reading a model's region outputs besides generated text: the tag decoder's probabilities (DynRefer), and the
likelihood of a caption, the confidence dense captioning ranks regions by."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import torch

from groundlm.inference.collate import Collator, to_device
from groundlm.inference.generate import evaluating
from groundlm.inference.images import ImageCache
from groundlm.models.losses import mean_token_log_prob
from groundlm.tasks.base import Example


@torch.no_grad()
def region_tag_scores(
    model, collator: Collator, examples: Sequence[Example], images: ImageCache, batch_size: int = 32
) -> np.ndarray:
    """``[R, V]`` tag probabilities (``sigmoid`` of the tag decoder's logits) of every region box of ``examples``,
    in order; ``V`` = ``len(model.region_encoder.decoders.tags)``."""
    decoders = getattr(model.region_encoder, "decoders", None)
    if decoders is None or decoders.tagger is None:
        raise ValueError("this model has no tag decoder (views.tags is empty or the region encoder is not dynrefer)")
    rows = []
    with evaluating(model) as device:
        for k in range(0, len(examples), batch_size):
            chunk = list(examples[k : k + batch_size])
            batch = to_device(collator.generation_batch(chunk, [images.get(e.sample) for e in chunk]), device)
            _, tokens = model.embed(
                batch["input_ids"], batch["pixel_values"], batch["region_boxes"], batch.get("region_inputs")
            )
            if tokens is not None:
                rows.append(torch.sigmoid(decoders.tagger(tokens)).float().cpu())
    return torch.cat(rows).numpy() if rows else np.zeros((0, len(decoders.tags)), dtype=np.float32)


@torch.no_grad()
def caption_likelihood(
    model,
    collator: Collator,
    examples: Sequence[Example],
    captions: Sequence[str],
    images: ImageCache,
    batch_size: int = 32,
) -> np.ndarray:
    """``[N]``: ``exp`` of the mean log-probability per token (end token included) of each caption after its
    example's prompt, teacher-forced; a confidence in ``(0, 1]``."""
    out: list[float] = []
    with evaluating(model) as device:
        for k in range(0, len(examples), batch_size):
            chunk = [replace(e, target=c) for e, c in zip(examples[k : k + batch_size], captions[k : k + batch_size])]
            batch = to_device(collator.train_batch(chunk, [images.get(e.sample) for e in chunk]), device)
            labels = batch.pop("labels")
            for key in ("targets", "counts"):  # the likelihood only: no region losses
                batch.get("region_inputs", {}).pop(key, None)
            out += mean_token_log_prob(model(**batch).logits, labels).exp().cpu().tolist()
    return np.asarray(out)
