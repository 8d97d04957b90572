"""The one record type every dataset reader returns.

Conventions: boxes are ``xyxy`` in pixels of the original image; angles are degrees ``(yaw, pitch, roll)``
(:mod:`groundlm.geometry.rotations`); depth is metres (0 where unknown); 2-D landmarks are pixels ``(x, y)``;
narrative trace points are ``(x, y, t)`` with ``x, y`` normalised to ``[0, 1]`` of the image (as Localized
Narratives stores them) and ``t`` in seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

Box = tuple[float, float, float, float]


@dataclass
class Region:
    """An object (or person, or head) in the image.

    ``mask_id`` is its value in the instance mask (0 = none); ``visible_fraction`` is the share of its projected
    area that is not occluded (None when unknown).
    """

    box: Box
    category: str
    attributes: dict[str, str] = field(default_factory=dict)
    captions: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    mask_id: int = 0
    visible_fraction: float | None = None
    geometry: dict[str, float] = field(default_factory=dict)  # camera-frame centre x, y, z (m) and volume (m^3)


@dataclass
class Referring:
    """A referring expression that identifies ``region`` (an index into ``Sample.regions``)."""

    text: str
    region: int
    program: dict[str, Any] | None = None  # the structured form it was generated from, when known


@dataclass
class Head:
    """A head with its pose; ``landmarks`` maps ``nose_tip``, ``left_eye``, ``right_eye`` to pixel points.

    ``region`` indexes the head's region in ``Sample.regions`` and ``person`` the region of its body (-1 if none).
    """

    box: Box
    yaw: float
    pitch: float
    roll: float
    landmarks: dict[str, tuple[float, float]] = field(default_factory=dict)
    region: int = -1
    person: int = -1


@dataclass
class Utterance:
    """A piece of a localized narrative: the words, their time span (s) and the mouse trace meanwhile."""

    text: str
    start: float
    end: float
    trace: list[tuple[float, float, float]] = field(default_factory=list)
    region: int = -1  # the region the utterance describes, when known


@dataclass
class Sample:
    """One image with its spatial labels. The image (and depth) may be loaded lazily from disk."""

    id: str
    width: int
    height: int
    regions: list[Region] = field(default_factory=list)
    referring: list[Referring] = field(default_factory=list)
    heads: list[Head] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    narrative: list[Utterance] = field(default_factory=list)
    scene_type: str | None = None
    domain: str | None = None
    image_path: Path | None = None
    image_loader: Callable[[], Image.Image] | None = field(default=None, repr=False, compare=False)
    depth_loader: Callable[[], np.ndarray] | None = field(default=None, repr=False, compare=False)
    mask_loader: Callable[[], np.ndarray] | None = field(default=None, repr=False, compare=False)
    extra: dict[str, Any] = field(default_factory=dict)

    def load_image(self) -> Image.Image:
        """The RGB image."""
        if self.image_loader is not None:
            return self.image_loader()
        if self.image_path is None:
            raise ValueError(f"sample {self.id!r} has no image")
        with Image.open(self.image_path) as im:
            return im.convert("RGB")

    def load_depth(self) -> np.ndarray | None:
        """Depth ``[H, W]`` in metres (0 where unknown), or None when the dataset has none."""
        return None if self.depth_loader is None else self.depth_loader()

    def load_mask(self) -> np.ndarray | None:
        """Instance mask ``[H, W]`` of ``Region.mask_id`` values, or None."""
        return None if self.mask_loader is None else self.mask_loader()

    def to_json(self) -> dict[str, Any]:
        """The labels as JSON-ready data (loaders and paths excluded)."""
        out = {k: v for k, v in asdict(self).items() if not k.endswith("_loader") and k != "image_path"}
        return out


def sample_from_json(data: dict[str, Any]) -> Sample:
    """Inverse of :meth:`Sample.to_json` (without loaders)."""
    fields = dict(data)
    fields["regions"] = [Region(**{**r, "box": tuple(r["box"])}) for r in data.get("regions", [])]
    fields["referring"] = [Referring(**r) for r in data.get("referring", [])]
    fields["heads"] = [
        Head(**{**h, "box": tuple(h["box"]), "landmarks": {k: tuple(v) for k, v in h.get("landmarks", {}).items()}})
        for h in data.get("heads", [])
    ]
    fields["narrative"] = [
        Utterance(**{**u, "trace": [tuple(p) for p in u.get("trace", [])]}) for u in data.get("narrative", [])
    ]
    return Sample(**fields)
