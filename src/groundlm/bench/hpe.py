"""``groundlm bench hpe``: the HPE-CogVLM recipe (:mod:`groundlm.methods.hpe_cogvlm.recipe`: grounding base, pose
fine-tunes per rehearsal ratio, merges) beside its baselines, and its table (docs/architecture.md, section 6.1).

The baselines: the CNN crop baseline (6DRepNet-style, on ground-truth head crops) and a mean-pose floor (the
training set's mean angles for every head). Every number comes from this run. Columns: MAE per angle and mean
(degrees, over valid answers), invalid share (of which blended and unparsed), head-box Acc@0.5, and grounding Acc@0.5
on the test domain's referring expressions (forgetting).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from groundlm.baselines.crop_pose import CropPoseConfig, predict_crop_pose, train_crop_pose
from groundlm.bench.run import apply_preset, start_run, write_result
from groundlm.data.show import draw_pose_axes
from groundlm.inference import ImageCache
from groundlm.methods.hpe_cogvlm import recipe
from groundlm.methods.hpe_cogvlm.recipe import COLUMNS, HpeCogvlmConfig, load_hpe_data, prepared, row_collector
from groundlm.metrics.pose import pose_metrics

__all__ = ["COLUMNS", "PRESETS", "HpeBenchConfig", "format_hpe_table", "preset", "run_hpe_bench"]


@dataclass
class HpeBenchConfig(HpeCogvlmConfig):
    """The recipe's config, and the CNN baseline's and the pictures' of the best row."""

    run_dir: str = "runs/bench-hpe"
    cnn: CropPoseConfig = field(default_factory=CropPoseConfig)
    pictures: int = 6


PRESETS: dict[str, dict[str, Any]] = {
    "demo": {**recipe.PRESETS["demo"], "cnn": CropPoseConfig(steps=800)},
    "quick": {**recipe.PRESETS["quick"]},
    "full": {**recipe.PRESETS["full"], "cnn": CropPoseConfig(steps=10000)},
}


def preset(name: str, **overrides: Any) -> HpeBenchConfig:
    return apply_preset(HpeBenchConfig(), PRESETS, name, overrides)


def _draw(example, pred, path: Path, scale: int = 3) -> None:
    """The image with the true head box (green) and the predicted box (red) and pose axes."""
    image = example.sample.load_image().convert("RGB")
    image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(image)
    head = example.answer
    draw.rectangle([v * scale for v in head.box], outline=(0, 220, 0), width=2)
    label = f"true {head.yaw:+.0f} {head.pitch:+.0f} {head.roll:+.0f}"
    if pred.box is not None:
        draw.rectangle([v * scale for v in pred.box], outline=(230, 30, 30), width=2)
    if pred.pose is not None:
        x0, y0, x1, y1 = pred.box
        size = max(x1 - x0, 12) * 0.9 * scale
        draw_pose_axes(draw, ((x0 + x1) / 2 * scale, (y0 + y1) / 2 * scale), *pred.pose, size)
        label += f" | pred {pred.pose[0]:+.0f} {pred.pose[1]:+.0f} {pred.pose[2]:+.0f}"
    else:
        label += f" | {pred.kind}"
    draw.rectangle([0, 0, image.width, 14], fill=(0, 0, 0))
    draw.text((3, 1), label, fill=(255, 255, 255))
    image.save(path)


def run_hpe_bench(cfg: HpeBenchConfig, progress: bool = True) -> dict[str, Any]:
    """The floor, the CNN baseline and the recipe; returns ``{"config", "rows", "seconds", "run_dir", "pictures"}``
    and writes it to ``run_dir/bench-hpe.json``. Models go to ``run_dir/models/``; the run directory is started
    afresh."""
    t0 = time.perf_counter()
    cfg, run, log = start_run(cfg, progress, "pictures")
    cfg = prepared(cfg, progress)
    d = load_hpe_data(cfg, progress)
    images = ImageCache()
    rows: list[dict[str, Any]] = []
    add = row_collector(rows, log)

    # Floor: the mean training pose for every test head.
    train_poses = np.array([(h.yaw, h.pitch, h.roll) for s in d.train_set for h in s.heads], dtype=np.float64)
    mean_pose = tuple(float(v) for v in train_poses.mean(0))
    gts = [(e.answer.yaw, e.answer.pitch, e.answer.roll) for e in d.pose_examples]
    floor = pose_metrics([mean_pose] * len(gts), gts)
    add("mean-pose floor", {**floor, "blended": 0.0}, mean_pose=[round(v, 2) for v in mean_pose])

    # CNN crop baseline on ground-truth head boxes.
    log("training the CNN crop baseline")
    cnn = train_crop_pose(d.train_set, cfg.cnn, progress=progress, device=cfg.device)
    cnn.save(run / "models" / "cnn")
    cnn_preds = [predict_crop_pose(cnn, images.get(e.sample), [e.answer.box])[0] for e in d.pose_examples]
    add("CNN crop (6DRepNet-style)", {**pose_metrics(cnn_preds, gts), "blended": 0.0})

    preds_of = recipe.run_hpe_cogvlm(cfg, run / "models", d, add, images, progress)

    # Pictures of the VLM row with the lowest MAE.
    pictures: list[str] = []
    valid = [r for r in rows if r["row"] in preds_of and r["mae"] is not None and not math.isnan(r["mae"])]
    best = min(valid, key=lambda r: r["mae"])["row"] if valid else None
    if best is not None and cfg.pictures:
        (run / "pictures").mkdir(parents=True, exist_ok=True)
        for i, (e, p) in enumerate(list(zip(d.pose_examples, preds_of[best]))[: cfg.pictures]):
            path = run / "pictures" / f"{i:02d}-{e.sample.id}.png"
            _draw(e, p, path)
            pictures.append(str(path))
    result = {
        "config": cfg.to_dict(),
        "rows": rows,
        "seconds": round(time.perf_counter() - t0, 1),
        "run_dir": str(run),
        "pictures": pictures,
        "best_vlm_row": best,
        "test_heads": len(d.pose_examples),
        "grounding_items": len(d.refer_examples),
    }
    write_result(run, "bench-hpe", result)
    return result


def format_hpe_table(result: dict[str, Any]) -> str:
    return recipe.format_hpe_table(result, "HPE-CogVLM bench")
