"""Which views a multi-view region encoder sees (DynRefer, docs/architecture.md, section 6.4), and the region labels its
decoders train on, as batch tensors: the collator's batch hook of the region encoder ``dynrefer``
(:data:`groundlm.inference.collate.REGION_INPUTS`).

Every region gets ``n`` coefficients, ``t = 0`` (the region alone) first and the ``n - 1`` context views after it in
increasing order:

* **training**: the first ``n - 1`` of the random order the task drew (``Example.extras["view_orders"]``): distinct
  coefficients sampled uniformly from :data:`~groundlm.geometry.views.CANDIDATE_TS`;
* **inference** (``policy``): ``selected`` by pHash (:func:`~groundlm.geometry.views.select_views` on the
  original image), ``fixed`` (the config's task prior), or ``random`` (a draw seeded by the sample and the box, so
  that a run repeats).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from PIL import Image

from groundlm.geometry.views import CANDIDATE_TS, random_views, select_views, view_boxes
from groundlm.inference.collate import register_region_inputs
from groundlm.methods.dynrefer.modeling_decoders import TAG, region_loss_counts
from groundlm.models.backbones import pixel_values
from groundlm.models.config import VIEW_POLICIES, VLMConfig
from groundlm.tasks.base import Example


@dataclass(frozen=True)
class ViewPolicy:
    """``n`` views per region; ``policy`` at inference (one of :data:`~groundlm.models.config.VIEW_POLICIES`);
    ``fixed`` the ``n - 1`` context coefficients of the ``fixed`` policy; ``source_size`` the square size (pixels)
    of the image views are cut from (None: the model's input, no extra tensor); ``tags`` the tag decoder's
    vocabulary; ``contrastive``: batches carry each region's caption."""

    n: int
    policy: str = "selected"
    fixed: tuple[float, ...] = ()
    source_size: int | None = None
    tags: tuple[str, ...] = ()
    contrastive: bool = False

    def __post_init__(self) -> None:
        if self.policy not in VIEW_POLICIES:
            raise ValueError(f"unknown view policy {self.policy!r}; known: {', '.join(VIEW_POLICIES)}")

    @classmethod
    def for_config(cls, config: VLMConfig) -> ViewPolicy:
        """The policy of a :class:`~groundlm.models.config.VLMConfig` whose region encoder is ``dynrefer``."""
        v = config.views
        return cls(v.n, v.inference, v.fixed_views(), v.source_size, tuple(v.tags), v.contrastive)

    def with_policy(self, policy: str) -> ViewPolicy:
        return replace(self, policy=policy)

    def coefficients(self, example: Example, index: int, image: Image.Image, training: bool) -> tuple[float, ...]:
        """The ``n`` view coefficients of region ``index`` of ``example`` (``image``: the original picture)."""
        if self.n == 1:
            return (0.0,)
        orders = example.extras.get("view_orders", ())
        if training and index < len(orders):
            context = orders[index][: self.n - 1]
        elif self.policy == "selected":
            context = select_views(image, example.region_boxes[index], self.n).ts[1:]
        elif self.policy == "fixed":
            context = self.fixed
        else:
            seed = zlib.crc32(f"{example.sample.id}:{tuple(example.region_boxes[index])}".encode())
            context = random_views(self.n, np.random.default_rng(seed), CANDIDATE_TS)[1:]
        return (0.0, *sorted(float(t) for t in context))

    def inputs(
        self,
        examples: Sequence[Example],
        images: Sequence[Image.Image],
        mean: Sequence[float],
        std: Sequence[float],
        training: bool,
    ) -> dict[str, torch.Tensor]:
        """``region_views`` ``[sum R, n]`` (regions in batch order) and, with ``source_size``, ``view_pixels``
        ``[B, 3, source_size, source_size]`` (normalised as the model's input)."""
        ts = [
            self.coefficients(ex, j, im, training)
            for ex, im in zip(examples, images)
            for j in range(len(ex.region_boxes))
        ]
        out = {"region_views": torch.tensor(ts, dtype=torch.float32).reshape(-1, self.n)}
        if self.source_size:
            out["view_pixels"] = torch.stack([pixel_values(im, self.source_size, mean, std) for im in images])
        return out

    def targets(self, examples: Sequence[Example], tokenizer) -> dict[str, dict[str, torch.Tensor]]:
        """``region_targets`` for the decoders (:class:`~.modeling_decoders.RegionDecoders`): ``tag`` ``[sum R, V]``
        0/1 (NaN rows for regions without tags), and ``text_ids`` / ``text_mask`` ``[sum R, L]`` (the caption's
        tokens; an all-zero mask where none)."""
        out: dict[str, torch.Tensor] = {}
        regions = [(ex, j) for ex in examples for j in range(len(ex.region_boxes))]
        if self.tags:
            index = {t: k for k, t in enumerate(self.tags)}
            rows = torch.full((len(regions), len(self.tags)), float("nan"))
            for r, (ex, j) in enumerate(regions):
                tags = ex.extras.get("region_tags", [])
                if j < len(tags):
                    rows[r] = 0.0
                    known = [index[t] for t in tags[j] if t in index]
                    rows[r, known] = 1.0
            out[TAG] = rows
        if self.contrastive:
            captions = [ex.extras.get("region_texts", []) for ex, _ in regions]
            texts = [c[j] if j < len(c) else "" for c, (_, j) in zip(captions, regions)]
            ids = [tokenizer(t, add_special_tokens=False).input_ids if t else [] for t in texts]
            width = max([len(i) for i in ids] + [1])
            out["text_ids"] = torch.tensor([i + [tokenizer.pad_token_id] * (width - len(i)) for i in ids])
            out["text_mask"] = torch.tensor([[1] * len(i) + [0] * (width - len(i)) for i in ids], dtype=torch.bool)
        return {"region_targets": out} if out else {}

    def batch(
        self,
        examples: Sequence[Example],
        images: Sequence[Image.Image],
        mean: Sequence[float],
        std: Sequence[float],
        tokenizer: Any,
        training: bool,
    ) -> dict[str, Any]:
        """The batch's ``region_inputs`` (:mod:`groundlm.models.region`): ``views`` (:meth:`inputs`' coefficients),
        ``pixels`` (the views' source image, with ``source_size``) and, in training, the decoders' ``targets``
        (:meth:`targets`) with the regions each loss scores (``counts``)."""
        inputs = self.inputs(examples, images, mean, std, training)
        out: dict[str, Any] = {"views": inputs["region_views"]}
        if "view_pixels" in inputs:
            out["pixels"] = inputs["view_pixels"]
        if training:
            targets = self.targets(examples, tokenizer).get("region_targets")
            if targets:
                out["targets"] = targets
                out["counts"] = {k: torch.tensor(v) for k, v in region_loss_counts(targets).items()}
        return out

    def answer_fields(self, example: Example, image: Image.Image) -> dict[str, Any]:
        """``views``: the views the model saw the example's region in, ``[{"t", "box"}]`` with pixel ``xyxy``
        boxes (``image``: the original picture)."""
        ts = self.coefficients(example, 0, image, training=False)
        boxes = view_boxes(example.region_boxes[0], example.sample.width, example.sample.height, ts)
        return {"views": [{"t": t, "box": [float(v) for v in b]} for t, b in zip(ts, boxes)]}


register_region_inputs("dynrefer")(ViewPolicy.for_config)
