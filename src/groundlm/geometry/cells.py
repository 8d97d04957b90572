"""Label maps on a feature grid: nearest-neighbour resizing and pooling of pixel labels into ``g x g`` cells."""

from __future__ import annotations

import numpy as np
from PIL import Image


def resized_labels(array: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour resize of a label map ``[H, W]`` to ``size x size`` (labels must not be blended)."""
    if array.shape == (size, size):
        return array
    return np.asarray(Image.fromarray(array).resize((size, size), Image.Resampling.NEAREST))


def cell_pixels(array: np.ndarray, grid: int) -> np.ndarray:
    """``[..., S, S]`` -> ``[..., g, g, s*s]``: the pixels of each of the ``g x g`` cells (``s = S // g``; a remainder
    at the right and bottom is dropped)."""
    *lead, size, _ = array.shape
    s = size // grid
    a = array[..., : grid * s, : grid * s].reshape(*lead, grid, s, grid, s)
    return np.moveaxis(a, -3, -2).reshape(*lead, grid, grid, s * s)


def cell_shares(mask: np.ndarray, grid: int, cell_pixels_per_side: int = 8) -> np.ndarray:
    """``[g, g]`` float32: the share of each cell that the boolean ``mask`` ``[H, W]`` covers, after resizing it
    (nearest) to ``g * cell_pixels_per_side`` pixels a side."""
    square = resized_labels(mask.astype(np.uint8), grid * cell_pixels_per_side)
    return cell_pixels(square.astype(np.float32), grid).mean(-1)
