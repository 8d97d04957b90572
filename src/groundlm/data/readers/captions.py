"""Caption and region-description datasets.

* ``vg:FILE.json``: Visual Genome ``region_descriptions.json``, a list of ``{"id", "regions": [{"region_id",
  "image_id", "phrase", "x", "y", "width", "height"}]}``. Image sizes come from ``image_data.json`` beside the file
  when present (else 0 = unknown); images from ``?images=DIR`` as ``{image_id}.jpg``.
* ``ln:FILE.jsonl``: Localized Narratives, one ``{"image_id", "annotator_id", "caption", "timed_caption":
  [{"utterance", "start_time", "end_time"}], "traces": [[{"x", "y", "t"}]]}`` per line; trace points are normalised
  and are assigned to the utterance whose time span holds them.
* ``coco-captions:FILE.json``: COCO ``captions_*.json`` (``images`` and ``annotations`` with ``caption``); images
  from ``?images=DIR`` by ``file_name``.
"""

from __future__ import annotations

import json
from pathlib import Path

from groundlm.data.dataset import SampleDataset, Uri
from groundlm.data.sample import Region, Sample, Utterance
from groundlm.errors import UserError
from groundlm.jsonl import read_jsonl


def _json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None


def load_vg(uri: Uri) -> SampleDataset:
    path = uri.require_file()
    data = _json(path)
    sizes = {}
    meta = path.parent / "image_data.json"
    if meta.is_file():
        for im in _json(meta):
            sizes[im.get("image_id", im.get("id"))] = (int(im["width"]), int(im["height"]))
    images = Path(uri.query["images"]) if "images" in uri.query else None
    samples = []
    try:
        for entry in data:
            image_id = entry.get("id", entry.get("image_id"))
            w, h = sizes.get(image_id, (0, 0))
            regions = [
                Region(
                    (float(r["x"]), float(r["y"]), float(r["x"] + r["width"]), float(r["y"] + r["height"])),
                    "region",
                    {},
                    [r["phrase"]],
                )
                for r in entry["regions"]
            ]
            samples.append(
                Sample(
                    id=str(image_id),
                    width=w,
                    height=h,
                    regions=regions,
                    image_path=images / f"{image_id}.jpg" if images else None,
                )
            )
    except (KeyError, TypeError) as e:
        raise UserError(f"{path}: not a Visual Genome region_descriptions file (missing {e})") from None
    return SampleDataset(samples, f"vg:{path}")


def load_ln(uri: Uri) -> SampleDataset:
    path = uri.require_file()
    images = Path(uri.query["images"]) if "images" in uri.query else None
    samples = []
    for line in read_jsonl(path):
        rec = line.data
        try:
            points = [(float(p["x"]), float(p["y"]), float(p["t"])) for seg in rec.get("traces", []) for p in seg]
            utterances = [
                Utterance(
                    u["utterance"],
                    float(u["start_time"]),
                    float(u["end_time"]),
                    [p for p in points if float(u["start_time"]) <= p[2] <= float(u["end_time"])],
                )
                for u in rec.get("timed_caption", [])
            ]
            sid = f"{rec['image_id']}_{rec.get('annotator_id', 0)}"
            samples.append(
                Sample(
                    id=sid,
                    width=0,
                    height=0,
                    captions=[rec["caption"]],
                    narrative=utterances,
                    image_path=images / f"{rec['image_id']}.jpg" if images else None,
                    extra={"dataset_id": rec.get("dataset_id")},
                )
            )
        except (KeyError, TypeError, ValueError) as e:
            raise line.fail(f"not a Localized Narratives record ({e})") from None
    return SampleDataset(samples, f"ln:{path}")


def load_coco_captions(uri: Uri) -> SampleDataset:
    path = uri.require_file()
    data = _json(path)
    images = Path(uri.query["images"]) if "images" in uri.query else None
    try:
        samples = {
            im["id"]: Sample(
                id=str(im["id"]),
                width=int(im["width"]),
                height=int(im["height"]),
                image_path=images / im["file_name"] if images else None,
            )
            for im in data["images"]
        }
        for ann in data["annotations"]:
            samples[ann["image_id"]].captions.append(ann["caption"])
    except (KeyError, TypeError) as e:
        raise UserError(f"{path}: not a COCO captions file (missing {e})") from None
    return SampleDataset(list(samples.values()), f"coco-captions:{path}")
