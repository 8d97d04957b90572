"""Depth from a depth regressor (LLM-MDE's depth model, or a baseline called the same way): maps for pictures at their
own size, and the depth metrics of those maps over samples that have ground truth (docs/architecture.md, section 3:
metres, 0 = unknown).

A depth regressor is a module called as ``model(pixel_values, prompt_ids, prompt_mask)`` -> ``[B, h, w]`` metres;
one with a ``prompt_batch`` method reads prompts. Its batches come from a :class:`DepthInputs` (LLM-MDE's
``DepthBatcher``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

from groundlm.data.sample import Sample
from groundlm.inference.generate import evaluating
from groundlm.metrics.depth import depth_metrics


class DepthInputs(Protocol):
    """What turns pictures into a depth regressor's batch: ``inputs`` -> ``pixel_values`` ``[B, 3, S, S]`` and,
    with ``tokenize``, ``prompt_ids`` and ``prompt_mask``; ``max_depth``: the largest depth scored (metres)."""

    max_depth: float

    def inputs(
        self, images: Sequence[Image.Image], categories: Sequence[str | None], tokenize: Callable | None = None
    ) -> dict[str, torch.Tensor]: ...


def depth_forward(model: nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """The model's depth ``[B, h, w]`` (metres) for a batch of :meth:`DepthInputs.inputs`."""
    return model(inputs["pixel_values"], inputs.get("prompt_ids"), inputs.get("prompt_mask"))


@torch.no_grad()
def predict_depth(
    model: nn.Module,
    batcher: DepthInputs,
    images: Sequence[Image.Image],
    categories: Sequence[str | None] | None = None,
    batch_size: int = 16,
) -> list[np.ndarray]:
    """Depth ``[H, W]`` (metres, float32) for each image at its own size: the model's map resized (bilinear)."""
    categories = list(categories) if categories is not None else [None] * len(images)
    tokenize = getattr(model, "prompt_batch", None)
    out = []
    with evaluating(model) as device:
        for k in range(0, len(images), batch_size):
            chunk = images[k : k + batch_size]
            inputs = {
                n: v.to(device) for n, v in batcher.inputs(chunk, categories[k : k + batch_size], tokenize).items()
            }
            maps = depth_forward(model, inputs)
            for im, m in zip(chunk, maps):
                full = F.interpolate(m[None, None], size=(im.height, im.width), mode="bilinear", align_corners=False)
                out.append(full[0, 0].float().cpu().numpy())
    return out


def evaluate_depth(
    model: nn.Module,
    batcher: DepthInputs,
    samples: Sequence[Sample],
    align: str = "none",
    eigen_crop: bool = False,
    batch_size: int = 16,
) -> dict[str, float]:
    """Depth metrics (:func:`~groundlm.metrics.depth.depth_metrics`) of the model's maps, resized to each ground
    truth's size, over ``samples``, after ``align`` (none | median | lstsq | lstsq_disparity)."""
    pairs = []
    for k in range(0, len(samples), batch_size):
        chunk = samples[k : k + batch_size]
        preds = predict_depth(model, batcher, [s.load_image() for s in chunk], [s.scene_type for s in chunk])
        pairs += [(p, s.load_depth()) for p, s in zip(preds, chunk)]
    return depth_metrics(pairs, max_depth=batcher.max_depth, alignment=align, eigen_crop=eigen_crop)
