"""Answering one query about one image: request -> example -> generation -> decoding -> a JSON-ready result
(``groundlm predict`` and any other front end). Bad requests raise ``ValueError``; the front end words them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from groundlm import formats
from groundlm.data.sample import Head, Sample
from groundlm.formats.numeric import GREEDY, NumericDecoding
from groundlm.inference.collate import Collator
from groundlm.inference.generate import generate_texts
from groundlm.inference.images import ImageCache
from groundlm.inference.loader import load_model
from groundlm.models.vlm import GroundedVLM
from groundlm.tasks import PoseTask, ReferTask
from groundlm.tasks.base import Example
from groundlm.tasks.pose import PoseItem
from groundlm.tasks.prompts import REGION_CAPTION_PROMPTS

__all__ = ["PREDICT_TASKS", "draw_overlay", "load_model", "predict"]

PREDICT_TASKS = ("refer", "region_caption", "pose")

# Inference has no true head: the pose example's answer and teacher-forcing region are placeholders.
_NO_HEAD = Head((0.0, 0.0, 1.0, 1.0), 0.0, 0.0, 0.0)


def predict(
    model: GroundedVLM,
    image: Image.Image,
    task: str,
    query: str | None = None,
    box: tuple[float, float, float, float] | None = None,
    format: str = "cogvlm",
    constrain: bool = False,
    max_new_tokens: int | None = None,  # default: 48 for pose (33-token answers), 32 otherwise
    num_beams: int = 1,
    numeric: NumericDecoding = GREEDY,
    reread: bool = False,
    query_first: bool = False,
) -> dict[str, Any]:
    """``refer``: ``query`` -> text and parsed pixel boxes; ``region_caption``: ``box`` -> caption; ``pose``:
    ``query`` names a person -> head box and ``(yaw, pitch, roll)`` in degrees. With sampled ``numeric``
    decoding, ``texts`` holds the sampled answers and ``box`` / ``pose`` combine their numbers. ``reread``: the
    model was trained to re-read its head box before the angles (``PoseTask(reread=True)``); ``query_first``: the
    refer model was trained with the question before the image (``ReferTask(query_first=True)``)."""
    w, h = image.size
    sample = Sample(id="query", width=w, height=h, image_loader=lambda: image)
    if task == "refer":
        if not query:
            raise ValueError("refer needs a query (the referring expression)")
        example = Example(ReferTask(format, query_first=query_first).prompt(query), "", sample)
    elif task == "region_caption":
        if box is None:
            raise ValueError("region_caption needs a box (pixel x0 y0 x1 y1)")
        example = Example(
            "<image>" + REGION_CAPTION_PROMPTS[0].format(region="<region>"), "", sample, region_boxes=[box]
        )
    elif task == "pose":
        if not query:
            raise ValueError('pose needs a query naming the person, e.g. "the person in the red shirt"')
        example = PoseTask(reread=reread).example(sample, PoseItem(_NO_HEAD, (query,)), None)
        format = "pose"
    else:
        raise ValueError(f"predict supports the tasks {', '.join(PREDICT_TASKS)}, not {task!r}")
    if max_new_tokens is None:
        max_new_tokens = 48 if task == "pose" else 32
    collator = Collator.for_model(model)
    sampled = numeric.sampled and task in ("refer", "pose")
    texts = generate_texts(
        model,
        collator,
        [example],
        ImageCache(),
        max_new_tokens,
        num_beams,
        constrain=format if (constrain and task in ("refer", "pose")) else None,
        samples=numeric.samples if sampled else 1,
        temperature=numeric.temperature,
    )
    out: dict[str, Any] = {"task": task, "text": texts[0]}
    if task in ("refer", "pose"):
        parsed = formats.get(format).parse(texts[0], w, h)
        out.update(parsed=parsed.to_dict(), box=formats.select_box(parsed)[0])
    if task == "pose":
        out["pose"] = dict(zip(("yaw", "pitch", "roll"), parsed.pose)) if parsed.pose else None
    if sampled:
        decoder = PoseTask(reread=reread) if task == "pose" else ReferTask(format)
        combined = decoder.combine([decoder.decode(t, example) for t in texts], numeric.mode)
        out.update(texts=texts, numeric=numeric.mode, box=combined.box if task == "pose" else combined)
        if task == "pose":
            out["pose"] = dict(zip(("yaw", "pitch", "roll"), combined.pose)) if combined.pose else None
    return out


def draw_overlay(image: Image.Image, result: dict[str, Any], path: str | Path) -> None:
    canvas = image.convert("RGB").copy()
    draw = ImageDraw.Draw(canvas)
    for box in result.get("parsed", {}).get("boxes", []):
        draw.rectangle(box, outline=(255, 40, 40), width=2)
    pose = result.get("pose")
    if pose and result.get("box") is not None:
        from groundlm.data.show import draw_pose_axes

        x0, y0, x1, y1 = result["box"]
        draw_pose_axes(draw, ((x0 + x1) / 2, (y0 + y1) / 2), pose["yaw"], pose["pitch"], pose["roll"], (x1 - x0))
    draw.text((4, 4), result["text"][:80], fill=(255, 255, 0))
    canvas.save(path)
