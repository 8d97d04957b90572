"""LLM-MDE's inference (docs/architecture.md, section 6.2): depth maps from a depth regressor, their metrics, and a
saved depth model as a model handle.

A depth regressor (LLM-MDE's depth model, or a baseline called the same way) is a module called as
``model(pixel_values, prompt_ids, prompt_mask)`` -> ``[B, h, w]`` metres; one with a ``prompt_batch`` method reads
prompts. Its batches come from a :class:`DepthInputs` (:class:`~.task_depth.DepthBatcher`). :func:`predict_depth`
gives maps for pictures at their own size and :func:`evaluate_depth` the depth metrics of those maps over samples that
have ground truth (docs/architecture.md, section 3: metres, 0 = unknown).

:class:`DepthModel` is registered as the model kind ``depth`` (:data:`groundlm.inference.model.MODEL_KINDS`), so that
``predict``, ``eval --checkpoint`` and ``serve`` hold a saved depth model as they hold a grounded VLM. Its one task,
``depth``, answers a picture with its depth map (metres)."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

from groundlm.data.readers.spatialworld import depth_millimetres
from groundlm.data.sample import Sample
from groundlm.inference.generate import evaluating
from groundlm.inference.loader import is_model_dir
from groundlm.inference.model import Model, register_model_kind
from groundlm.inference.predict import AnswerOptions, Query, draw_overlay
from groundlm.manifest import Manifest
from groundlm.methods.llm_mde.modeling_depth_lm import DepthLM, is_depth_model_dir
from groundlm.methods.llm_mde.task_depth import DepthBatcher
from groundlm.metrics.depth import depth_metrics

TASK = "depth"


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


def load_depth_model(directory: str | Path, device: str | torch.device | None = None) -> DepthLM:
    """The LLM-MDE model of ``directory`` (written by :meth:`DepthLM.save_pretrained`) in eval mode."""
    if not is_depth_model_dir(directory):
        kind = "a grounded VLM, not a depth model" if is_model_dir(directory) else "not a model directory"
        raise FileNotFoundError(f"{directory}: {kind} (a depth model comes from `groundlm train` with method: depth)")
    model = DepthLM.from_pretrained(directory)
    if device is not None:
        model.to(device)
    return model.eval()


def depth_range(depth: np.ndarray) -> dict[str, float]:
    """The smallest, median and largest depth of a map (metres, rounded to millimetres)."""
    return {k: round(float(f(depth)), 3) for k, f in (("min", np.min), ("median", np.median), ("max", np.max))}


@register_model_kind
class DepthModel(Model):
    """An LLM-MDE depth model: ``depth`` answers a picture with its depth map (metres)."""

    descriptions: ClassVar[dict[str, str]] = {"depth": "depth model (LLM-MDE)"}
    answerable = (TASK,)

    def __init__(self, manifest: Manifest, directory: Path | None, module: DepthLM, name: str | None = None) -> None:
        super().__init__(manifest, directory, name)
        self.module = module
        self.batcher = DepthBatcher.for_model(module)

    @classmethod
    def recognise(cls, directory: Path) -> Manifest | None:
        return Manifest("depth", {TASK: {}}) if is_depth_model_dir(directory) else None

    @classmethod
    def describe_task(cls, task: str) -> dict[str, Any]:
        return {
            "takes": "image",
            "summary": "the picture's depth map: a 16-bit PNG in millimetres (base64)",
            "numeric": False,
        }

    def json_answer(self, result: dict[str, Any]) -> dict[str, Any]:
        """The depth map (an array, metres) as ``depth_png_mm``: a 16-bit PNG in millimetres, base64."""
        buffer = io.BytesIO()
        Image.fromarray(depth_millimetres(result["depth"])).save(buffer, format="PNG")
        rest = {k: v for k, v in result.items() if k != "depth"}
        return {**rest, "depth_png_mm": base64.b64encode(buffer.getvalue()).decode("ascii")}

    @classmethod
    def load(
        cls, manifest: Manifest, directory: Path, device: str | torch.device | None = None, base: Path | None = None
    ) -> DepthModel:
        return cls(manifest, directory, load_depth_model(directory, device=device))

    def save_pretrained(self, directory: str | Path) -> Path:
        return self.module.save_pretrained(directory)

    @property
    def device(self) -> torch.device:
        return next(self.module.parameters()).device

    def options(self, task: str, **given: Any) -> AnswerOptions:
        self.check_task(task)
        return AnswerOptions()  # a depth map has nothing to choose

    def save_answer(
        self, picture: Image.Image, result: dict[str, Any], image: Path, out: str | None = None
    ) -> dict[str, Any]:
        """The depth map as a 16-bit PNG in millimetres at ``out`` (default: beside the image, ``NAME-depth.png``)
        and a coloured picture beside it (``...-color.png``): their paths and the depth range."""
        path = Path(out) if out else image.with_name(image.stem + "-depth.png")
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(depth_millimetres(result["depth"])).save(path)
        color = path.with_name(path.stem + "-color.png")
        draw_overlay(picture, result, color)
        return {"task": TASK, "depth_png_mm": str(path), "color": str(color), "metres": result["metres"]}

    def answer_batch(
        self, queries: Sequence[Query], options: AnswerOptions | None = None, batch_size: int = 16
    ) -> list[dict[str, Any]]:
        """``{"task": "depth", "depth": [H, W] float32 metres at the picture's size (an array: a front end writes
        it as an image, :func:`~groundlm.inference.predict.draw_overlay` colours it), "metres": {min, median,
        max}}``."""
        for q in queries:
            self.check_task(q.task)
        maps = self.predict_depth([q.image for q in queries], batch_size)
        return [{"task": TASK, "depth": m, "metres": depth_range(m)} for m in maps]

    def predict_depth(self, images: Sequence[Image.Image], batch_size: int = 16) -> list[np.ndarray]:
        """Depth ``[H, W]`` (metres, float32) for each picture at its own size."""
        return predict_depth(self.module, self.batcher, images, batch_size=batch_size)

    def evaluate_depth(self, samples: Sequence[Sample], align: str = "none", eigen_crop: bool = False) -> dict:
        """Depth metrics over ``samples`` (which have depth), after ``align`` (docs/architecture.md, section 3)."""
        return evaluate_depth(self.module, self.batcher, samples, align, eigen_crop)

    def evaluate(
        self,
        task: str,
        samples: Sequence[Sample],
        where: str,
        limit: int,
        align: str = "none",
        eigen_crop: bool = False,
    ) -> dict:
        """Depth metrics over the first ``limit`` samples that have a picture and a depth map (``ValueError`` when
        none of ``where``'s has)."""
        self.check_task(task)
        usable = [s for s in samples if s.depth_loader is not None and (s.image_path or s.image_loader)]
        if not usable:
            raise ValueError(f"{where}: no sample has both a picture and a depth map")
        return self.evaluate_depth(usable[:limit], align, eigen_crop)
