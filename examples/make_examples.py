"""Write the example ground truth and prediction files used by ``make demo`` (deterministic; rerun to refresh).

The predictions imitate several grounding VLMs answering in their own box syntax: mostly close to the ground
truth, with the failures real models show (chatty text around the box, a wrong object, an answer that does not
parse, a detection-only answer where a pose was asked, two boxes). Usage: ``python examples/make_examples.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from groundlm import formats

ROOT = Path(__file__).resolve().parent
SIZES = [(640, 480), (512, 512), (800, 600), (480, 640)]
OBJECTS = ["red sphere", "blue cube", "green cylinder", "yellow cone", "striped cube", "dotted sphere"]


def _write(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _jitter(box, w, h, rng, scale):
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    d = rng.normal(0, scale, 4) * [bw, bh, bw, bh]
    out = np.clip(np.array(box) + d, 0, [w, h, w, h])
    out[2:] = np.maximum(out[2:], out[:2] + 2)
    return [float(v) for v in out]


def refer(rng: np.random.Generator) -> None:
    gts = []
    for i in range(12):
        w, h = SIZES[i % len(SIZES)]
        x0, y0 = rng.uniform(0, 0.6) * w, rng.uniform(0, 0.6) * h
        x1, y1 = x0 + rng.uniform(0.15, 0.4) * w, y0 + rng.uniform(0.15, 0.4) * h
        name = OBJECTS[i % len(OBJECTS)]
        gts.append(
            {
                "id": f"img{i:02d}",
                "width": w,
                "height": h,
                "box": [round(v, 1) for v in (x0, y0, x1, y1)],
                "expression": f"the {name} left of the others" if i % 2 else f"the {name}",
            }
        )
    _write(ROOT / "refer" / "gt.jsonl", gts)
    quality = {
        "cogvlm": 0.05,
        "qwen": 0.08,
        "florence2": 0.04,
        "kosmos2": 0.06,
        "shikra": 0.10,
        "ferret": 0.07,
        "paligemma": 0.05,
    }
    for name, scale in quality.items():
        codec = formats.get(name)
        rows = []
        for i, g in enumerate(gts):
            w, h = g["width"], g["height"]
            box = _jitter(g["box"], w, h, rng, scale)
            if i == 3:  # a confident answer about the wrong object
                box = [w - box[2], h - box[3], w - box[0], h - box[1]]
            text = codec.render_boxes([box], w, h, label=g["expression"])
            if i == 5:
                text = f"Sure! {text} is what you asked for."
            if i == 7 and name in ("qwen", "shikra"):
                text = "I cannot find that object in the image."
            rows.append({"id": g["id"], "text": text})
        _write(ROOT / "refer" / f"pred_{name}.jsonl", rows)


def pose(rng: np.random.Generator) -> None:
    gts, rows = [], []
    for i in range(10):
        w, h = SIZES[i % len(SIZES)]
        yaw, pitch, roll = rng.uniform(-80, 80), rng.uniform(-40, 40), rng.uniform(-30, 30)
        if i == 9:
            yaw = 110.0  # outside the +-99 degree test filter
        cx, cy, s = rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h, rng.uniform(0.1, 0.25) * min(w, h)
        box = [cx - s / 2, cy - s / 2, cx + s / 2, cy + s / 2]
        gts.append(
            {
                "id": f"head{i:02d}",
                "width": w,
                "height": h,
                "yaw": round(yaw, 2),
                "pitch": round(pitch, 2),
                "roll": round(roll, 2),
                "box": [round(v, 1) for v in box],
            }
        )
        noisy = _jitter(box, w, h, rng, 0.05)
        text = formats.render_pose(
            noisy, yaw + rng.normal(0, 6), pitch + rng.normal(0, 5), roll + rng.normal(0, 4), w, h
        )
        if i == 2:
            text = formats.get("cogvlm").render_boxes([noisy], w, h)  # detection-only answer: blended
        if i == 6:
            text = formats.get("cogvlm").render_boxes([noisy, noisy], w, h) + " yaw:+10.0 pitch:+0.0 roll:+0.0"
        rows.append({"id": f"head{i:02d}", "text": text})
    _write(ROOT / "pose" / "gt.jsonl", gts)
    _write(ROOT / "pose" / "pred_vlm.jsonl", rows)
    numeric = [{"id": g["id"], "yaw": 0.0, "pitch": 0.0, "roll": 0.0} for g in gts]  # the frontal-face floor
    _write(ROOT / "pose" / "pred_frontal.jsonl", numeric)


def caption() -> None:
    refs = {
        "r0": ["a red sphere to the left of a blue cube", "a small red ball beside a blue box"],
        "r1": ["a person looking to the right", "a man turning his head to the right"],
        "r2": ["two green cylinders behind a yellow cone", "green cylinders standing behind the cone"],
        "r3": ["a striped cube on a checkered floor", "a cube with stripes on the floor"],
        "r4": ["the largest sphere in the room", "a big sphere near the wall"],
        "r5": ["a dotted cone in front of a red cube", "a cone with dots before a red box"],
    }
    preds = {
        "r0": "a red ball left of a blue cube",
        "r1": "a person looking right",
        "r2": "a yellow cone in front of green cylinders",
        "r3": "a striped cube on the floor",
        "r4": "a big sphere",
    }  # r5 is missing: counted as invalid
    _write(ROOT / "caption" / "gt.jsonl", [{"id": k, "refs": v} for k, v in refs.items()])
    _write(ROOT / "caption" / "pred.jsonl", [{"id": k, "caption": v} for k, v in preds.items()])


def depth(rng: np.random.Generator) -> None:
    out = ROOT / "depth"
    (out / "gt").mkdir(parents=True, exist_ok=True)
    (out / "pred").mkdir(parents=True, exist_ok=True)
    gts, metric, relative = [], [], []
    h, w = 48, 64
    rows = np.arange(h)[:, None] * np.ones((1, w))
    for i in range(4):
        # A floor receding to a wall: depth grows towards the horizon, then is constant.
        d = np.minimum(1.0 + 60.0 / (rows + 4 + 3 * i), 6.0 + i) + rng.uniform(0, 0.05, (h, w))
        Image.fromarray(np.round(d * 1000).astype(np.uint16)).save(out / "gt" / f"{i}.png")
        gts.append({"id": f"d{i}", "depth": f"gt/{i}.png"})
        pred = d * rng.normal(1.0, 0.08, d.shape)
        np.save(out / "pred" / f"{i}.npy", pred.astype(np.float32))
        metric.append({"id": f"d{i}", "depth": f"pred/{i}.npy"})
        np.save(out / "pred" / f"{i}_rel.npy", (0.37 * pred).astype(np.float32))  # right up to scale
        relative.append({"id": f"d{i}", "depth": f"pred/{i}_rel.npy"})
    _write(out / "gt.jsonl", gts)
    _write(out / "pred_metric.jsonl", metric)
    _write(out / "pred_relative.jsonl", relative)


def densecap(rng: np.random.Generator) -> None:
    gts, preds = [], []
    for i in range(3):
        w, h = SIZES[i]
        regions, predicted = [], []
        for j in range(4):
            x0, y0 = rng.uniform(0, 0.6) * w, rng.uniform(0, 0.6) * h
            box = [x0, y0, x0 + rng.uniform(0.1, 0.35) * w, y0 + rng.uniform(0.1, 0.35) * h]
            name = OBJECTS[(i + j) % len(OBJECTS)]
            regions.append({"box": [round(v, 1) for v in box], "captions": [f"a {name}", f"the {name} on the floor"]})
            caption = f"a {name}" if j != 2 else "a purple pyramid"
            predicted.append(
                {
                    "box": _jitter(box, w, h, rng, 0.08),
                    "caption": caption,
                    "score": round(float(rng.uniform(0.3, 0.95)), 3),
                }
            )
        predicted.append({"box": [0.0, 0.0, w / 5, h / 5], "caption": "a lamp", "score": 0.2})  # a false alarm
        gts.append({"id": f"img{i}", "regions": regions})
        preds.append({"id": f"img{i}", "regions": predicted})
    _write(ROOT / "densecap" / "gt.jsonl", gts)
    _write(ROOT / "densecap" / "pred.jsonl", preds)


def main() -> None:
    rng = np.random.default_rng(2024)
    refer(rng)
    pose(rng)
    caption()
    depth(rng)
    densecap(rng)


if __name__ == "__main__":
    main()
