"""``nyu:FILE.mat``: the NYU Depth v2 labeled file (MATLAB v7.3, i.e. HDF5).

Datasets ``images`` (N, 3, 640, 480) uint8 and ``depths`` (N, 640, 480) float metres, stored transposed by MATLAB:
sample ``i`` is ``images[i].T`` -> (480, 640, 3) and ``depths[i].T`` -> (480, 640). ``?split=train|test`` selects
the standard split from ``splits.mat`` (``trainNdxs``/``testNdxs``, 1-based), found beside the file or given as
``?splits=PATH``.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import h5py
import numpy as np
import scipy.io
from PIL import Image

from groundlm.data.dataset import SampleDataset, Uri
from groundlm.data.sample import Sample
from groundlm.errors import UserError


def _image(path: Path, i: int) -> Image.Image:
    with h5py.File(path, "r") as f:
        return Image.fromarray(np.ascontiguousarray(f["images"][i].T))


def _depth(path: Path, i: int) -> np.ndarray:
    with h5py.File(path, "r") as f:
        return np.ascontiguousarray(f["depths"][i].T).astype(np.float32)


def _split_indices(uri: Uri, n: int) -> list[int]:
    split = uri.query.get("split")
    if split is None:
        return list(range(n))
    if split not in ("train", "test"):
        raise UserError(f"nyu: split={split!r} must be 'train' or 'test'")
    splits = Path(uri.query.get("splits", uri.path.parent / "splits.mat"))
    if not splits.is_file():
        raise UserError(f"nyu: split={split} needs splits.mat (beside the file, or ?splits=PATH); {splits} is missing")
    key = "trainNdxs" if split == "train" else "testNdxs"
    mat = scipy.io.loadmat(splits)
    if key not in mat:
        raise UserError(f"{splits}: no {key!r}")
    idx = [int(v) - 1 for v in np.asarray(mat[key]).reshape(-1)]
    if any(not 0 <= i < n for i in idx):
        raise UserError(f"{splits}: {key} has indices outside 1..{n}")
    return idx


def load_nyu(uri: Uri) -> SampleDataset:
    path = uri.require_file()
    try:
        with h5py.File(path, "r") as f:
            if "images" not in f or "depths" not in f:
                raise UserError(f"{path}: expected HDF5 datasets 'images' and 'depths'")
            n, _, w, h = f["images"].shape
            if f["depths"].shape != (n, w, h):
                raise UserError(f"{path}: 'depths' has shape {f['depths'].shape}, expected {(n, w, h)}")
            scene_types = None
            if "sceneTypes" in f:
                refs = f["sceneTypes"][0] if f["sceneTypes"].shape[0] == 1 else f["sceneTypes"][:, 0]
                scene_types = ["".join(chr(c) for c in np.asarray(f[r]).reshape(-1)) for r in refs]
    except OSError as e:
        raise UserError(f"{path}: not an HDF5 (MATLAB v7.3) file ({e})") from None
    samples = []
    for i in _split_indices(uri, n):
        s = Sample(id=str(i), width=int(w), height=int(h), scene_type=scene_types[i] if scene_types else None)
        s.image_loader = partial(_image, path, i)
        s.depth_loader = partial(_depth, path, i)
        samples.append(s)
    return SampleDataset(samples, f"nyu:{path}")
