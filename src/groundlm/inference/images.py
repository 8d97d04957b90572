"""Decoded images kept in memory for the examples that refer to them."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image

from groundlm.data.decoded import DecodedImages
from groundlm.data.sample import Sample


class ImageCache:
    """Decoded RGB images kept in memory (SpatialWorld splits are small; real datasets load lazily).

    Entries are keyed by sample identity and hold the sample itself, so that a key cannot be reused by another
    sample while its image is cached. ``decoded`` splits (:class:`DecodedImages`) answer their samples from their
    arrays, before any file is decoded."""

    def __init__(self, limit: int = 20000, decoded: Sequence[DecodedImages] = ()) -> None:
        self.limit = limit
        self.decoded = list(decoded)
        self._images: dict[int, tuple[Sample, Image.Image]] = {}

    def get(self, sample: Sample) -> Image.Image:
        entry = self._images.get(id(sample))
        if entry is not None and entry[0] is sample:
            return entry[1]
        for split in self.decoded:
            image = split.get(sample)
            if image is not None:
                return image  # the array is the cache
        image = sample.load_image()
        if len(self._images) < self.limit:
            self._images[id(sample)] = (sample, image)
        return image
