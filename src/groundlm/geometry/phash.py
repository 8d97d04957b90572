"""Perceptual hashes (pHash) of images, for comparing views.

Two variants:

* ``"imagehash"``: bit-identical to the ``imagehash`` library's ``phash`` (Krawetz's "Looks Like It"): grayscale
  (PIL ``L``), Lanczos resize to ``4k x 4k``, unnormalised DCT-II along rows then columns, the ``k x k``
  low-frequency band, bits = band > median of the band.
* ``"dynrefer"``: the variant in DynRefer's released view selector (our reading of it): grayscale, bilinear
  resize to ``224 x 224`` without antialiasing, orthonormal 2-D DCT-II, the ``k x k`` low band, bits = band > mean
  of the band (DC included).

A hash is a flat boolean array of ``k * k`` bits in row-major order.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.fft
import torch
import torch.nn.functional as F
from PIL import Image

HashMethod = Literal["imagehash", "dynrefer"]
DYNREFER_RESOLUTION = 224


def _to_pil(image: Image.Image | np.ndarray) -> Image.Image:
    if isinstance(image, Image.Image):
        return image
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise ValueError(f"image arrays must be uint8 (H, W) or (H, W, 3), got dtype {arr.dtype}")
    return Image.fromarray(arr)


def crop(image: Image.Image | np.ndarray, box: tuple[float, float, float, float] | None) -> Image.Image:
    """Crop ``image`` to the pixel ``xyxy`` box, truncated to integer pixels and clipped to the image.

    A box that would leave less than one pixel is widened to one pixel so that a hash always exists.
    """
    pil = _to_pil(image)
    if box is None:
        return pil
    w, h = pil.size
    x0, y0, x1, y1 = (int(v) for v in box)
    x0, y0 = min(max(x0, 0), w - 1), min(max(y0, 0), h - 1)
    x1, y1 = min(max(x1, x0 + 1), w), min(max(y1, y0 + 1), h)
    return pil.crop((x0, y0, x1, y1))


def _imagehash_phash(gray: Image.Image, hash_size: int, highfreq_factor: int = 4) -> np.ndarray:
    side = hash_size * highfreq_factor
    pixels = np.asarray(gray.resize((side, side), Image.Resampling.LANCZOS), dtype=np.float64)
    dct = scipy.fft.dct(scipy.fft.dct(pixels, axis=0), axis=1)
    band = dct[:hash_size, :hash_size]
    return (band > np.median(band)).reshape(-1)


def _dynrefer_phash(gray: Image.Image, hash_size: int) -> np.ndarray:
    pixels = torch.from_numpy(np.asarray(gray, dtype=np.float32).copy())[None, None]
    size = (DYNREFER_RESOLUTION, DYNREFER_RESOLUTION)
    resized = F.interpolate(pixels, size=size, mode="bilinear", align_corners=False)[0, 0].numpy()
    band = scipy.fft.dctn(resized.astype(np.float64), norm="ortho")[:hash_size, :hash_size]
    return (band > band.mean()).reshape(-1)


def phash(
    image: Image.Image | np.ndarray,
    box: tuple[float, float, float, float] | None = None,
    method: HashMethod = "imagehash",
    hash_size: int = 8,
) -> np.ndarray:
    """pHash bits (``bool[hash_size**2]``) of ``image`` (PIL or uint8 array), optionally of a pixel ``xyxy`` crop."""
    if hash_size < 2:
        raise ValueError("hash_size must be at least 2")
    gray = crop(image, box).convert("L")
    if method == "imagehash":
        return _imagehash_phash(gray, hash_size)
    if method == "dynrefer":
        return _dynrefer_phash(gray, hash_size)
    raise ValueError(f"unknown pHash method {method!r}; expected 'imagehash' or 'dynrefer'")


def hamming(a: np.ndarray, b: np.ndarray) -> int:
    """Number of differing bits between two hashes of equal length."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"hashes differ in shape: {a.shape} vs {b.shape}")
    return int(np.count_nonzero(a != b))
