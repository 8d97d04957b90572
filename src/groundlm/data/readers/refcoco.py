"""``refcoco:DIR?dataset=refcoco&split_by=unc&split=val``: RefCOCO, RefCOCO+ and RefCOCOg.

The layout of the ``refer`` toolkit: ``DIR/{dataset}/refs({split_by}).p`` (a pickled list of refs with ``ref_id``,
``ann_id``, ``image_id``, ``split``, ``sentences[].sent``) and ``DIR/{dataset}/instances.json`` (COCO ``images``
and ``annotations`` with ``bbox`` as ``[x, y, w, h]``). Images are looked up in ``?images=PATH`` (default
``DIR/images``) by their COCO ``file_name``. One Sample per image, holding every referred object of the split and
its sentences: each as a referring expression, and as a caption of its region (region captioning on RefCOCOg takes
the expressions as references). A region's category is its COCO name when ``instances.json`` lists categories.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

from groundlm.data.dataset import SampleDataset, Uri
from groundlm.data.sample import Referring, Region, Sample
from groundlm.errors import UserError

SPLIT_BY_DEFAULT = {"refcoco": "unc", "refcoco+": "unc", "refcocog": "umd"}


def load_refcoco(uri: Uri) -> SampleDataset:
    root = uri.require_dir()
    dataset = uri.query.get("dataset", "refcoco")
    split_by = uri.query.get("split_by", SPLIT_BY_DEFAULT.get(dataset, "unc"))
    split = uri.query.get("split")
    base = root / dataset if (root / dataset).is_dir() else root
    refs_path, inst_path = base / f"refs({split_by}).p", base / "instances.json"
    for p in (refs_path, inst_path):
        if not p.is_file():
            raise UserError(f"refcoco: missing {p}")
    try:
        with refs_path.open("rb") as f:
            refs = pickle.load(f)
        instances = json.loads(inst_path.read_text())
        images = {im["id"]: im for im in instances["images"]}
        anns = {a["id"]: a for a in instances["annotations"]}
        names = {c["id"]: str(c["name"]) for c in instances.get("categories", [])}
    except (pickle.UnpicklingError, json.JSONDecodeError, KeyError, TypeError, EOFError) as e:
        raise UserError(f"refcoco: unreadable {refs_path.name} or instances.json ({e})") from None
    image_dir = Path(uri.query.get("images", root / "images"))
    by_image: dict[int, Sample] = {}
    region_of: dict[tuple[int, int], int] = {}
    for ref in refs:
        if split is not None and ref.get("split") != split:
            continue
        image = images.get(ref["image_id"])
        ann = anns.get(ref["ann_id"])
        if image is None or ann is None:
            raise UserError(f"refcoco: ref {ref.get('ref_id')} points at a missing image or annotation")
        sample = by_image.get(image["id"])
        if sample is None:
            sample = Sample(
                id=str(image["id"]),
                width=int(image["width"]),
                height=int(image["height"]),
                image_path=image_dir / image["file_name"],
            )
            by_image[image["id"]] = sample
        key = (image["id"], ann["id"])
        if key not in region_of:
            x, y, w, h = ann["bbox"]
            region_of[key] = len(sample.regions)
            sample.regions.append(
                Region(
                    (float(x), float(y), float(x + w), float(y + h)),
                    names.get(ann["category_id"], str(ann["category_id"])),
                    {"category_id": str(ann["category_id"])},
                )
            )
        for sent in ref["sentences"]:
            sample.referring.append(Referring(sent["sent"], region_of[key]))
            sample.regions[region_of[key]].captions.append(sent["sent"])
    if not by_image:
        raise UserError(f"refcoco: no refs for split={split!r} in {refs_path}")
    return SampleDataset(list(by_image.values()), f"refcoco:{root}?dataset={dataset}&split_by={split_by}&split={split}")
