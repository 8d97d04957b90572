"""The depth task's batches for :class:`~groundlm.models.depth_lm.DepthLM`: each sample's picture (resized to the
tower's input and normalised), its prompt (:mod:`groundlm.tasks.depth_prompt`, the scene type as the category),
and its ground-truth depth resized (nearest) to the model's output map, with a mask of the pixels known to lie in
``(0, max_depth]`` metres."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from groundlm.data.sample import Sample
from groundlm.geometry.cells import resized_labels
from groundlm.models.backbones import pixel_values
from groundlm.tasks.depth_prompt import depth_prompt


@dataclass
class DepthBatcher:
    """``image_size``: the tower's input side; ``out_size``: the model's depth map side; ``dataset``: the sentence
    that describes the data in the prompt; ``prompt``: adaptive | fixed | none."""

    image_size: int
    out_size: int
    mean: Sequence[float] = (0.5, 0.5, 0.5)
    std: Sequence[float] = (0.5, 0.5, 0.5)
    max_depth: float = 10.0
    dataset: str = "SpatialWorld, rendered indoor and outdoor scenes."
    prompt: str = "adaptive"

    def prompts(self, samples: Sequence[Sample], images: Sequence[Image.Image]) -> list[str]:
        return [
            depth_prompt(np.asarray(im.convert("RGB")), self.dataset, s.scene_type, self.prompt)
            for s, im in zip(samples, images)
        ]

    def batch(self, samples: Sequence[Sample], model) -> dict[str, torch.Tensor]:
        """``pixel_values`` ``[B, 3, S, S]``, ``prompt_ids`` / ``prompt_mask`` ``[B, P]`` (``model.prompt_batch``),
        ``depth`` ``[B, o, o]`` metres (0 = unknown) and ``valid`` ``[B, o, o]`` in {0, 1}."""
        images = [s.load_image() for s in samples]
        pixels = torch.stack([pixel_values(im, self.image_size, self.mean, self.std) for im in images])
        ids, mask = model.prompt_batch(self.prompts(samples, images))
        depth = torch.stack([torch.from_numpy(self.target(s)) for s in samples])
        return {
            "pixel_values": pixels,
            "prompt_ids": ids,
            "prompt_mask": mask,
            "depth": depth,
            "valid": ((depth > 0) & (depth <= self.max_depth)).float(),
        }

    def target(self, sample: Sample) -> np.ndarray:
        """The sample's depth ``[o, o]`` in metres, nearest-resized (0 where unknown or absent)."""
        depth = sample.load_depth()
        if depth is None:
            raise ValueError(f"sample {sample.id!r} has no depth")
        return np.array(resized_labels(np.asarray(depth, dtype=np.float32), self.out_size), dtype=np.float32)
