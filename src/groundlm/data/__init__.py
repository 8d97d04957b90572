"""Data: the Sample record, SpatialWorld (``groundlm.data.synth``) and readers for real datasets.

>>> from groundlm import data
>>> ds = data.load("spatialworld:runs/data/train")     # doctest: +SKIP
>>> ds = data.load("aflw2000:/data/AFLW2000")           # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from groundlm.data.dataset import SampleDataset, Uri
from groundlm.data.readers.captions import load_coco_captions, load_ln, load_vg
from groundlm.data.readers.headpose import load_300wlp, load_aflw2000, load_biwi
from groundlm.data.readers.nyu import load_nyu
from groundlm.data.readers.refcoco import load_refcoco
from groundlm.data.readers.spatialworld import load_spatialworld
from groundlm.data.sample import Head, Referring, Region, Sample, Utterance
from groundlm.errors import UserError
from groundlm.registry import Registry

# A dataset URI's scheme -> its reader; the scheme comes from the user, so an unknown one is a UserError.
READERS: Registry[Callable[[Uri], SampleDataset]] = Registry(
    "dataset scheme",
    {
        "spatialworld": load_spatialworld,
        "300wlp": load_300wlp,
        "aflw2000": load_aflw2000,
        "biwi": load_biwi,
        "nyu": load_nyu,
        "refcoco": load_refcoco,
        "vg": load_vg,
        "ln": load_ln,
        "coco-captions": load_coco_captions,
    },
    error=UserError,
)


def load(uri: str) -> SampleDataset:
    """Load a dataset from ``SCHEME:PATH[?key=value&...]``; a bare folder written by SpatialWorld also works."""
    if Path(uri).is_dir() and (Path(uri) / "annotations.jsonl").is_file():
        uri = f"spatialworld:{uri}"
    parsed = Uri.parse(uri)
    return READERS.get_known(parsed.scheme)(parsed)


__all__ = ["READERS", "Head", "Referring", "Region", "Sample", "SampleDataset", "Utterance", "load"]
