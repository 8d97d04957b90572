"""Decoded pixels of a split kept on disk: every image of a split whose images share one small size, decoded once
into a ``uint8`` array ``[N, H, W, 3]`` (a ``.npy`` file, memory-mapped when read), so that training processes read
pixels instead of decoding files.

The file sits in the split's folder (``.decoded/``), named by a fingerprint of the image files (paths, sizes and
modification times): a changed split gets a new file, and an unchanged one is never decoded twice.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from groundlm.data.sample import Sample

MAX_SIDE = 512  # larger images are left to the decoder: their arrays would outgrow the files they come from


def _fingerprint(paths: Sequence[Path]) -> str:
    digest = hashlib.sha1()
    for p in paths:
        stat = p.stat()
        digest.update(f"{p.resolve()}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


class DecodedImages:
    """The decoded images of one split; :meth:`get` answers a sample of that split, ``None`` for any other."""

    def __init__(self, pixels: np.ndarray, rows: dict[str, int]) -> None:
        self.pixels, self.rows = pixels, rows

    @classmethod
    def open(cls, samples: Sequence[Sample], folder: str | Path, progress: bool = False) -> DecodedImages | None:
        """The decoded images of ``samples`` (a split stored under ``folder``), decoded now if their file does not
        exist yet; ``None`` when the split does not qualify (images missing, of several sizes, or over
        :data:`MAX_SIDE` pixels)."""
        paths = [s.image_path for s in samples]
        sizes = {(s.width, s.height) for s in samples}
        if not samples or any(p is None or not Path(p).is_file() for p in paths) or len(sizes) != 1:
            return None
        ((w, h),) = sizes
        if max(w, h) > MAX_SIDE:
            return None
        paths = [Path(p) for p in paths]
        out = Path(folder) / ".decoded" / f"{_fingerprint(paths)}-{len(paths)}x{h}x{w}.npy"
        if not out.is_file():
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_suffix(f".{os.getpid()}.tmp")
            array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(paths), h, w, 3))
            for i, p in enumerate(tqdm(paths, desc="decoding", unit="img", disable=not progress, leave=False)):
                with Image.open(p) as im:
                    array[i] = np.asarray(im.convert("RGB"))
            array.flush()
            del array
            os.replace(tmp, out)
        rows = {str(p): i for i, p in enumerate(paths)}
        return cls(np.load(out, mmap_mode="r"), rows)

    def get(self, sample: Sample) -> Image.Image | None:
        """The sample's image from the array, or ``None`` when it is not one of this split's."""
        row = self.rows.get(str(sample.image_path)) if sample.image_path is not None else None
        return None if row is None else Image.fromarray(np.asarray(self.pixels[row]))
