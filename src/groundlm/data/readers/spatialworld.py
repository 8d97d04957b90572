"""``spatialworld:DIR``: a split written by ``groundlm data make`` (layout in :mod:`groundlm.data.synth.writer`)."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

from groundlm.data.dataset import SampleDataset, Uri
from groundlm.data.sample import sample_from_json
from groundlm.errors import UserError


def read_png_array(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


def read_depth_png(path: Path) -> np.ndarray:
    """16-bit PNG in millimetres -> float32 metres."""
    return read_png_array(path).astype(np.float32) / 1000.0


def load_spatialworld(uri: Uri) -> SampleDataset:
    root = uri.require_dir()
    ann = root / "annotations.jsonl"
    if not ann.is_file():
        raise UserError(f"spatialworld: {str(root)!r} has no annotations.jsonl (write one with `groundlm data make`)")
    samples = []
    with ann.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                image, depth, mask = record.pop("image"), record.pop("depth", None), record.pop("mask", None)
                sample = sample_from_json(record)
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise UserError(f"{ann}:{lineno}: not a SpatialWorld record ({e})") from None
            sample.image_path = root / image
            if depth:
                sample.depth_loader = partial(read_depth_png, root / depth)
            if mask:
                sample.mask_loader = partial(read_png_array, root / mask)
            samples.append(sample)
    return SampleDataset(samples, f"spatialworld:{root}")
