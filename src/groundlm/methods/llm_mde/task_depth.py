"""The depth task's batches for :class:`~groundlm.methods.llm_mde.modeling_depth_lm.DepthLM` (and the depth
baselines): each picture resized to the tower's input and normalised, its prompt
(:mod:`groundlm.methods.llm_mde.task_depth_prompt`, the scene type as the category), and for training its
ground-truth depth resized (nearest) to the model's output map, with a mask of the pixels known to lie in
``(0, max_depth]`` metres."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from groundlm.data.sample import Sample
from groundlm.geometry.cells import resized_labels
from groundlm.methods.llm_mde.task_depth_prompt import depth_prompt
from groundlm.models.backbones import pixel_values

# Prompt strings -> token ids [B, P] and mask [B, P] (DepthLM.prompt_batch).
Tokenize = Callable[[list[str]], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class DepthBatcher:
    """``image_size``: the tower's input side; ``out_size``: the side of the map the loss compares; ``dataset``: the
    sentence that describes the data in the prompt; ``prompt``: adaptive | fixed | none."""

    image_size: int
    out_size: int
    mean: Sequence[float] = (0.5, 0.5, 0.5)
    std: Sequence[float] = (0.5, 0.5, 0.5)
    max_depth: float = 10.0
    dataset: str = "SpatialWorld, rendered indoor and outdoor scenes."
    prompt: str = "adaptive"

    @classmethod
    def for_model(cls, model) -> DepthBatcher:
        """The batches a :class:`~groundlm.methods.llm_mde.modeling_depth_lm.DepthLM` was trained on (sizes,
        normalisation, prompt)."""
        c = model.config
        return cls(
            model.vision.image_size,
            model.out_size,
            c.vision.image_mean,
            c.vision.image_std,
            c.max_depth,
            c.dataset,
            c.prompt,
        )

    def prompts(self, images: Sequence[Image.Image], categories: Sequence[str | None]) -> list[str]:
        return [
            depth_prompt(np.asarray(im.convert("RGB")), self.dataset, c, self.prompt)
            for im, c in zip(images, categories)
        ]

    def inputs(
        self, images: Sequence[Image.Image], categories: Sequence[str | None], tokenize: Tokenize | None
    ) -> dict[str, torch.Tensor]:
        """``pixel_values`` ``[B, 3, S, S]`` and, with ``tokenize``, ``prompt_ids`` / ``prompt_mask`` ``[B, P]``."""
        out = {"pixel_values": torch.stack([pixel_values(im, self.image_size, self.mean, self.std) for im in images])}
        if tokenize is not None:
            out["prompt_ids"], out["prompt_mask"] = tokenize(self.prompts(images, categories))
        return out

    def batch(self, samples: Sequence[Sample], tokenize: Tokenize | None = None) -> dict[str, torch.Tensor]:
        """:meth:`inputs` of the samples' pictures (their scene types as categories), with ``depth`` ``[B, o, o]``
        metres (0 = unknown) and ``valid`` ``[B, o, o]`` in {0, 1}."""
        out = self.inputs([s.load_image() for s in samples], [s.scene_type for s in samples], tokenize)
        depth = torch.stack([torch.from_numpy(self.target(s)) for s in samples])
        out["depth"] = depth
        out["valid"] = ((depth > 0) & (depth <= self.max_depth)).float()
        return out

    def target(self, sample: Sample) -> np.ndarray:
        """The sample's depth ``[o, o]`` in metres, nearest-resized (0 where unknown or absent)."""
        depth = sample.load_depth()
        if depth is None:
            raise ValueError(f"sample {sample.id!r} has no depth map")
        return np.array(resized_labels(np.asarray(depth, dtype=np.float32), self.out_size), dtype=np.float32)
