"""Each reader on small fixture files written here in the dataset's published format."""

import json
import math
import pickle

import h5py
import numpy as np
import pytest
import scipy.io
from PIL import Image

from groundlm import data
from groundlm.errors import UserError


def _jpg(path, w=40, h=30):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((h, w, 3), 128, np.uint8)).save(path)


def _landmarks(x0, y0, x1, y1):
    rng = np.random.default_rng(0)
    pts = np.stack([rng.uniform(x0, x1, 68), rng.uniform(y0, y1, 68)])
    pts[:, 0], pts[:, 1] = (x0, y0), (x1, y1)
    return pts


def test_300wlp_pose_para_radians_and_landmark_box(tmp_path):
    root = tmp_path / "300W_LP" / "AFW"
    _jpg(root / "AFW_1_0.jpg")
    pose = [[math.radians(10), math.radians(-35), math.radians(5), 100, 100, 0, 0.001]]  # pitch, yaw, roll, ...
    scipy.io.savemat(root / "AFW_1_0.mat", {"Pose_Para": np.array(pose), "pt2d": _landmarks(5, 6, 30, 25)})
    ds = data.load(f"300wlp:{tmp_path / '300W_LP'}")
    (s,) = ds
    head = s.heads[0]
    assert (head.yaw, head.pitch, head.roll) == pytest.approx((-35, 10, 5))
    assert head.box == pytest.approx((5, 6, 30, 25)) and (s.width, s.height) == (40, 30)
    assert s.id == "AFW/AFW_1_0" and set(head.landmarks) == {"nose_tip", "left_eye", "right_eye"}
    assert s.load_image().size == (40, 30)


def test_aflw2000_filters_beyond_99_degrees_by_default(tmp_path):
    for i, yaw in enumerate([20.0, 120.0]):
        _jpg(tmp_path / f"image{i:05d}.jpg")
        pts3d = np.vstack([_landmarks(2, 2, 20, 20), np.zeros((1, 68))])
        scipy.io.savemat(
            tmp_path / f"image{i:05d}.mat",
            {"Pose_Para": np.array([[0.1, math.radians(yaw), 0.0, 0, 0, 0, 1]]), "pt3d_68": pts3d},
        )
    assert len(data.load(f"aflw2000:{tmp_path}")) == 1
    assert len(data.load(f"aflw2000:{tmp_path}?filter=none")) == 2
    with pytest.raises(UserError, match="filter"):
        data.load(f"aflw2000:{tmp_path}?filter=lots")


def test_biwi_npz(tmp_path):
    images = np.random.default_rng(0).integers(0, 255, (3, 16, 16, 3), dtype=np.uint8)
    np.savez(tmp_path / "BIWI.npz", image=images, pose=np.array([[10.0, -5.0, 2.0], [0, 0, 0], [-100.0, 0, 0]]))
    ds = data.load(f"biwi:{tmp_path / 'BIWI.npz'}?filter=99")
    assert len(ds) == 2 and (ds[0].heads[0].yaw, ds[0].heads[0].pitch) == (10.0, -5.0)
    assert np.array_equal(np.asarray(ds[0].load_image()), images[0])


def test_nyu_v73_transposes_and_splits(tmp_path):
    n, w, h = 3, 8, 6
    images = np.zeros((n, 3, w, h), np.uint8)
    images[1, 0, 5, 2] = 200  # MATLAB order: image 1, red channel, column 5, row 2
    depths = np.zeros((n, w, h), np.float32)
    depths[2, 7, 4] = 3.5
    with h5py.File(tmp_path / "nyu_depth_v2_labeled.mat", "w") as f:
        f["images"] = images
        f["depths"] = depths
    scipy.io.savemat(tmp_path / "splits.mat", {"trainNdxs": np.array([[1], [2]]), "testNdxs": np.array([[3]])})
    ds = data.load(f"nyu:{tmp_path / 'nyu_depth_v2_labeled.mat'}")
    assert len(ds) == 3 and (ds[0].width, ds[0].height) == (w, h)
    img = np.asarray(ds[1].load_image())
    assert img.shape == (h, w, 3) and img[2, 5, 0] == 200
    (test,) = data.load(f"nyu:{tmp_path / 'nyu_depth_v2_labeled.mat'}?split=test")
    assert test.id == "2" and test.load_depth()[4, 7] == pytest.approx(3.5)
    assert len(data.load(f"nyu:{tmp_path / 'nyu_depth_v2_labeled.mat'}?split=train")) == 2


def test_refcoco_refs_pickle_and_instances(tmp_path):
    base = tmp_path / "refcoco"
    base.mkdir()
    refs = [
        {
            "ref_id": 0,
            "ann_id": 11,
            "image_id": 1,
            "split": "val",
            "category_id": 1,
            "sentences": [
                {"sent": "man on the left", "raw": "Man on the left", "tokens": []},
                {"sent": "left guy", "raw": "left guy", "tokens": []},
            ],
        },
        {
            "ref_id": 1,
            "ann_id": 12,
            "image_id": 1,
            "split": "train",
            "category_id": 1,
            "sentences": [{"sent": "right guy", "raw": "right guy", "tokens": []}],
        },
    ]
    with (base / "refs(unc).p").open("wb") as f:
        pickle.dump(refs, f)
    instances = {
        "images": [{"id": 1, "file_name": "COCO_train2014_000000000001.jpg", "width": 640, "height": 480}],
        "annotations": [
            {"id": 11, "image_id": 1, "bbox": [10, 20, 100, 200], "category_id": 1},
            {"id": 12, "image_id": 1, "bbox": [300, 20, 100, 200], "category_id": 1},
        ],
        "categories": [{"id": 1, "name": "person"}],
    }
    (base / "instances.json").write_text(json.dumps(instances))
    (s,) = data.load(f"refcoco:{tmp_path}?dataset=refcoco&split_by=unc&split=val")
    assert [r.text for r in s.referring] == ["man on the left", "left guy"]
    assert s.regions[0].captions == ["man on the left", "left guy"] and s.regions[0].category == "person"
    assert s.regions[0].box == (10.0, 20.0, 110.0, 220.0) and (s.width, s.height) == (640, 480)
    assert str(s.image_path).endswith("images/COCO_train2014_000000000001.jpg")
    with pytest.raises(UserError, match="no refs"):
        data.load(f"refcoco:{tmp_path}?dataset=refcoco&split=testB")


def test_visual_genome_localized_narratives_coco_captions(tmp_path):
    vg = [
        {
            "id": 5,
            "regions": [
                {"region_id": 1, "image_id": 5, "phrase": "a red car", "x": 3, "y": 4, "width": 10, "height": 20}
            ],
        }
    ]
    (tmp_path / "region_descriptions.json").write_text(json.dumps(vg))
    (tmp_path / "image_data.json").write_text(json.dumps([{"image_id": 5, "width": 800, "height": 600}]))
    (s,) = data.load(f"vg:{tmp_path / 'region_descriptions.json'}")
    assert s.regions[0].box == (3.0, 4.0, 13.0, 24.0) and s.regions[0].captions == ["a red car"] and s.width == 800

    ln = {
        "dataset_id": "mscoco_val2017",
        "image_id": "139",
        "annotator_id": 61,
        "caption": "a dog. a ball.",
        "timed_caption": [
            {"utterance": "a dog.", "start_time": 0.0, "end_time": 1.0},
            {"utterance": "a ball.", "start_time": 1.2, "end_time": 2.0},
        ],
        "traces": [[{"x": 0.1, "y": 0.2, "t": 0.5}, {"x": 0.6, "y": 0.7, "t": 1.5}, {"x": 0.9, "y": 0.9, "t": 3.0}]],
    }
    (tmp_path / "ln.jsonl").write_text(json.dumps(ln) + "\n")
    (s,) = data.load(f"ln:{tmp_path / 'ln.jsonl'}")
    assert s.id == "139_61" and [u.trace for u in s.narrative] == [[(0.1, 0.2, 0.5)], [(0.6, 0.7, 1.5)]]

    coco = {
        "images": [{"id": 9, "file_name": "a.jpg", "width": 10, "height": 8}],
        "annotations": [{"image_id": 9, "id": 1, "caption": "one"}, {"image_id": 9, "id": 2, "caption": "two"}],
    }
    (tmp_path / "captions.json").write_text(json.dumps(coco))
    (s,) = data.load(f"coco-captions:{tmp_path / 'captions.json'}")
    assert s.captions == ["one", "two"]


def test_clear_errors_for_bad_input(tmp_path):
    with pytest.raises(UserError, match="unknown dataset scheme"):
        data.load(f"imagenet:{tmp_path}")
    with pytest.raises(UserError, match="not a dataset URI"):
        data.load("just-a-name")
    with pytest.raises(UserError, match="no such file"):
        data.load(f"nyu:{tmp_path / 'missing.mat'}")
    (tmp_path / "bad.mat").write_bytes(b"not hdf5")
    with pytest.raises(UserError, match="HDF5"):
        data.load(f"nyu:{tmp_path / 'bad.mat'}")
    (tmp_path / "ln.jsonl").write_text('{"image_id": 1}\n')
    with pytest.raises(UserError, match=r"ln\.jsonl:1"):
        data.load(f"ln:{tmp_path / 'ln.jsonl'}")
    _jpg(tmp_path / "w" / "x.jpg")
    with pytest.raises(UserError, match=r"no matching \.mat"):
        data.load(f"300wlp:{tmp_path / 'w'}")
    with pytest.raises(UserError, match=r"annotations\.jsonl"):
        data.load(f"spatialworld:{tmp_path}")
