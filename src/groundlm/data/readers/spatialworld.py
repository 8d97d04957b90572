"""``spatialworld:DIR``: a split written by ``groundlm data make`` (layout in :mod:`groundlm.data.synth.writer`)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

from groundlm.data.dataset import SampleDataset, Uri
from groundlm.data.sample import sample_from_json
from groundlm.errors import UserError
from groundlm.jsonl import read_jsonl


def read_png_array(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


MAX_DEPTH_MM = 65535  # the largest depth a 16-bit PNG in millimetres holds


def depth_millimetres(depth: np.ndarray) -> np.ndarray:
    """Depth ``[H, W]`` in metres -> ``uint16`` millimetres for a 16-bit PNG (rounded, clipped to 0..65.535 m);
    the inverse of :func:`read_depth_png`."""
    return np.clip(np.round(np.asarray(depth, dtype=np.float64) * 1000.0), 0, MAX_DEPTH_MM).astype(np.uint16)


def read_depth_png(path: Path) -> np.ndarray:
    """16-bit PNG in millimetres -> float32 metres ``[H, W]``; a missing, unreadable or non-16-bit file is one
    :class:`UserError` that names it (an 8-bit map would otherwise pass as depths under 0.26 m)."""
    try:
        with Image.open(path) as im:
            depth = np.asarray(im)
    except (OSError, ValueError) as e:  # missing, truncated, not an image
        raise UserError(f"depth map {str(path)!r} cannot be read: {e}") from None
    if depth.ndim != 2 or depth.dtype not in (np.uint16, np.int32):
        raise UserError(
            f"depth map {str(path)!r} must be a one-channel 16-bit PNG in millimetres, got {depth.dtype} {depth.shape}"
        )
    return depth.astype(np.float32) / 1000.0


def load_spatialworld(uri: Uri) -> SampleDataset:
    root = uri.require_dir()
    ann = root / "annotations.jsonl"
    if not ann.is_file():
        raise UserError(f"spatialworld: {str(root)!r} has no annotations.jsonl (write one with `groundlm data make`)")
    samples = []
    for line in read_jsonl(ann):
        record = dict(line.data)
        try:
            image, depth, mask = record.pop("image"), record.pop("depth", None), record.pop("mask", None)
            sample = sample_from_json(record)
        except (KeyError, TypeError) as e:
            raise line.fail(f"not a SpatialWorld record ({e})") from None
        sample.image_path = root / image
        if depth:
            sample.depth_loader = partial(read_depth_png, root / depth)
        if mask:
            sample.mask_loader = partial(read_png_array, root / mask)
        samples.append(sample)
    return SampleDataset(samples, f"spatialworld:{root}")
