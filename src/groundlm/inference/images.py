"""Decoded images kept in memory for the examples that refer to them."""

from __future__ import annotations

from PIL import Image

from groundlm.data.sample import Sample


class ImageCache:
    """Decoded RGB images kept in memory (SpatialWorld splits are small; real datasets load lazily).

    Entries are keyed by sample identity and hold the sample itself, so that a key cannot be reused by another
    sample while its image is cached."""

    def __init__(self, limit: int = 20000) -> None:
        self.limit = limit
        self._images: dict[int, tuple[Sample, Image.Image]] = {}

    def get(self, sample: Sample) -> Image.Image:
        entry = self._images.get(id(sample))
        if entry is not None and entry[0] is sample:
            return entry[1]
        image = sample.load_image()
        if len(self._images) < self.limit:
            self._images[id(sample)] = (sample, image)
        return image
