"""Score prediction files against ground-truth files, one function per task.

Line schemas (JSON Lines, one object per line; boxes are pixel ``xyxy``; angles degrees):

* refer    gt ``{"id", "width", "height", "box"}``;
           pred ``{"id", "text"}`` (parsed with a format), ``{"id", "texts": [...]}`` or ``{"id", "box"}``
* pose     gt ``{"id", "width", "height", "yaw", "pitch", "roll", "box"?}``;
           pred ``{"id", "text"}``, ``{"id", "texts": [...]}`` or ``{"id", "yaw", "pitch", "roll", "box"?}``

``texts`` holds several sampled answers to one query: each is parsed, and the numbers of those that parse are
combined by ``Options.numeric`` (mean or median, :mod:`groundlm.formats.numeric`); the parse errors of the others
are counted only when no answer parses.
* caption  gt ``{"id", "refs": [...]}``; pred ``{"id", "caption"}``
* depth    gt/pred ``{"id", "depth": PATH}``: a 16-bit PNG in millimetres or a ``.npy`` in metres, relative to the file
* densecap gt ``{"id", "regions": [{"box", "captions": [...]}]}``;
           pred ``{"id", "regions": [{"box", "caption", "score"}]}``

Predictions are paired with ground truth by ``id``. A ground-truth id without a prediction counts as invalid (for
captions: an empty caption; for dense captioning: no regions); a prediction whose id is not in the ground truth is
ignored with a warning.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from groundlm import formats
from groundlm.errors import UserError
from groundlm.formats.numeric import combine
from groundlm.jsonl import Line, box, index_by_id, number, positive, read_jsonl, strings, text
from groundlm.metrics import (
    DenseImage,
    DensePrediction,
    caption_metrics,
    densecap_map,
    grounding_metrics,
    image_depth_errors,
    pose_metrics,
)
from groundlm.metrics.depth import mean_errors

TASKS: tuple[str, ...] = ("refer", "pose", "caption", "depth", "densecap")


@dataclass
class Report:
    """Metrics of one prediction file, the parse-error counts behind ``invalid``, and warnings to show."""

    task: str
    pred_path: str
    metrics: dict[str, Any]
    errors: Counter = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Options:
    """Task options; each task reads the ones that concern it."""

    format: str | None = None
    policy: formats.MultiBoxPolicy = "first"
    threshold: float = 0.5
    inclusive: bool = True
    pose_filter: float | None = 99.0
    min_depth: float = 1e-3
    max_depth: float = 10.0
    eigen_crop: bool = False
    align: str = "none"
    numeric: str = "mean"  # how the numbers of several sampled answers ("texts") are combined


def _pair(gt_path: str, pred_path: str, report: Report) -> list[tuple[Line, Line | None]]:
    gts = index_by_id(read_jsonl(gt_path))
    preds = index_by_id(read_jsonl(pred_path))
    extra = [k for k in preds if k not in gts]
    if extra:
        report.warnings.append(f"{len(extra)} prediction id(s) not in the ground truth ignored (e.g. {extra[0]!r})")
    missing = sum(k not in preds for k in gts)
    if missing:
        report.warnings.append(f"{missing} ground-truth id(s) have no prediction; counted as invalid")
        report.errors["missing"] += missing
    return [(g, preds.get(k)) for k, g in gts.items()]


def _codec(options: Options, line: Line) -> formats.Codec:
    if options.format is None:
        raise line.fail("predictions hold 'text': pass --format to say how to parse it")
    return formats.get(options.format)


def evaluate_refer(gt_path: str, pred_path: str, options: Options) -> Report:
    report = Report("refer", pred_path, {})
    preds, gts = [], []
    for g, p in _pair(gt_path, pred_path, report):
        w, h = g.get("width", positive), g.get("height", positive)
        gts.append(g.get("box", box))
        if p is None:
            preds.append(None)
        elif p.has("texts"):
            results = [_codec(options, p).parse(t, w, h) for t in p.get("texts", strings)]
            chosen = [formats.select_box(r, options.policy) for r in results]
            if all(err for _, err in chosen):
                report.errors[chosen[0][1] if chosen else "no_match"] += 1
            preds.append(combine([b for b, _ in chosen], options.numeric))
        elif p.has("text"):
            chosen, err = formats.select_box(_codec(options, p).parse(p.get("text", text), w, h), options.policy)
            if err:
                report.errors[err] += 1
            preds.append(chosen)
        else:
            preds.append(p.get("box", box))
    report.metrics = grounding_metrics(preds, gts, threshold=options.threshold, inclusive=options.inclusive)
    return report


def _angles(line: Line) -> tuple[float, float, float]:
    return line.get("yaw", number), line.get("pitch", number), line.get("roll", number)


def evaluate_pose(gt_path: str, pred_path: str, options: Options) -> Report:
    report = Report("pose", pred_path, {})
    preds, gts, pred_boxes, gt_boxes = [], [], [], []
    codec = formats.get(options.format or "pose")
    for g, p in _pair(gt_path, pred_path, report):
        w, h = g.get("width", positive), g.get("height", positive)
        gts.append(_angles(g))
        gt_boxes.append(g.get("box", box) if g.has("box") else None)
        pose, pbox = None, None
        if p is not None and p.has("texts"):
            results = [codec.parse(t, w, h) for t in p.get("texts", strings)]
            ok = [r for r in results if r.ok]
            if not ok:
                report.errors[results[0].error if results else "no_match"] += 1
            pose = combine([r.pose for r in ok], options.numeric)
            pbox = combine([r.boxes[0] for r in ok], options.numeric)
        elif p is not None and p.has("text"):
            result = codec.parse(p.get("text", text), w, h)
            if result.error:
                report.errors[result.error] += 1
            pose = result.pose if result.ok else None
            # The box is scored whenever exactly one was given, even in a blended (e.g. detection-only) answer.
            pbox = result.boxes[0] if len(result.boxes) == 1 else None
        elif p is not None:
            pose = _angles(p)
            pbox = p.get("box", box) if p.has("box") else None
        preds.append(pose)
        pred_boxes.append(pbox)
    has_boxes = any(b is not None for b in gt_boxes)
    report.metrics = pose_metrics(
        preds, gts, pred_boxes if has_boxes else None, gt_boxes if has_boxes else None, max_abs=options.pose_filter
    )
    blended = sum(report.errors[k] for k in formats.BLENDED_ERRORS)
    if blended:
        report.warnings.append(f"{blended} blended answer(s) (detection-only, several boxes, or angles out of range)")
    return report


def evaluate_caption(gt_path: str, pred_path: str, options: Options) -> Report:
    report = Report("caption", pred_path, {})
    refs, hyps = {}, {}
    for g, p in _pair(gt_path, pred_path, report):
        key = g.id
        refs[key] = g.get("refs", strings)
        if not refs[key]:
            raise g.fail("'refs' must hold at least one reference caption")
        hyps[key] = p.get("caption", text) if p is not None else ""
    report.metrics = caption_metrics(refs, hyps)
    report.metrics["invalid"] = report.errors["missing"] / len(refs)
    return report


def _read_depth(line: Line, key: str = "depth") -> np.ndarray:
    path = Path(line.get(key, text))
    path = path if path.is_absolute() else line.path.parent / path
    if not path.is_file():
        raise line.fail(f"depth file {str(path)!r} does not exist")
    if path.suffix.lower() == ".npy":
        depth = np.load(path).astype(np.float64)
    elif path.suffix.lower() == ".png":
        with Image.open(path) as im:
            raw = np.asarray(im)
        if raw.dtype != np.uint16:
            raise line.fail(f"depth PNG {str(path)!r} must be 16-bit (millimetres), got {raw.dtype}")
        depth = raw.astype(np.float64) / 1000.0
    else:
        raise line.fail(f"depth file {str(path)!r} must be a 16-bit .png (millimetres) or a .npy (metres)")
    if depth.ndim != 2:
        raise line.fail(f"depth map {str(path)!r} must be 2-D, got shape {depth.shape}")
    return depth


def evaluate_depth(gt_path: str, pred_path: str, options: Options) -> Report:
    report = Report("depth", pred_path, {})
    pairs = _pair(gt_path, pred_path, report)
    rows = []
    for g, p in tqdm(pairs, desc="depth", unit="img", disable=len(pairs) < 50, leave=False):
        if p is None:
            continue
        pred, gt = _read_depth(p), _read_depth(g)
        if pred.shape != gt.shape:
            raise p.fail(f"prediction of shape {pred.shape} for ground truth of shape {gt.shape}")
        errors = image_depth_errors(
            pred, gt, options.min_depth, options.max_depth, eigen_crop=options.eigen_crop, alignment=options.align
        )
        if errors is None:
            report.warnings.append(f"{g.where()}: no valid ground-truth pixel; image skipped")
        else:
            rows.append(errors)
    if not rows:
        raise UserError(f"{pred_path}: no image could be evaluated")
    report.metrics = mean_errors(rows)
    report.metrics["invalid"] = report.errors["missing"] / len(pairs)
    return report


def _regions(line: Line, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    regions = line.get("regions")
    if not isinstance(regions, list) or not all(isinstance(r, dict) for r in regions):
        raise line.fail("'regions' must be a list of objects")
    for i, r in enumerate(regions):
        for f in fields:
            if f not in r:
                raise line.fail(f"region {i} lacks {f!r}")
        sub = Line(r, line.path, line.lineno)
        box(sub, "box", r["box"])
        if "captions" in fields:
            strings(sub, "captions", r["captions"])
        if "caption" in fields:
            text(sub, "caption", r["caption"])
            number(sub, "score", r["score"])
    return regions


def evaluate_densecap(gt_path: str, pred_path: str, options: Options) -> Report:
    report = Report("densecap", pred_path, {})
    gts, preds = [], []
    for g, p in _pair(gt_path, pred_path, report):
        gr = _regions(g, ("box", "captions"))
        gts.append(DenseImage(np.array([r["box"] for r in gr], float).reshape(-1, 4), [r["captions"] for r in gr]))
        pr = _regions(p, ("box", "caption", "score")) if p is not None else []
        preds.append(
            DensePrediction(
                np.array([r["box"] for r in pr], float).reshape(-1, 4),
                [r["caption"] for r in pr],
                [float(r["score"]) for r in pr],
            )
        )
    result = densecap_map(gts, preds)
    invalid = report.errors["missing"] / len(gts)
    report.metrics = {"map": result["map"], "det_map": result["det_map"], "invalid": invalid}
    return report


EVALUATORS: dict[str, Callable[[str, str, Options], Report]] = {
    "refer": evaluate_refer,
    "pose": evaluate_pose,
    "caption": evaluate_caption,
    "depth": evaluate_depth,
    "densecap": evaluate_densecap,
}


def evaluate(task: str, gt_path: str, pred_path: str, options: Options | None = None) -> Report:
    """Evaluate one prediction file for ``task`` (one of :data:`TASKS`)."""
    if task not in EVALUATORS:
        raise UserError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    return EVALUATORS[task](gt_path, pred_path, options or Options())
