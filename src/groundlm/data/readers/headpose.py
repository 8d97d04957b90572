"""Head-pose datasets: ``300wlp:DIR``, ``aflw2000:DIR`` (``.jpg`` + ``.mat``) and ``biwi:FILE.npz``.

300W-LP and AFLW2000 store, per image, a MATLAB file with ``Pose_Para = [pitch, yaw, roll, tdx, tdy, tdz, scale]``
(angles in radians) and 68 landmarks (``pt2d``, 2 x 68, in 300W-LP; ``pt3d_68``, 3 x 68, in AFLW2000). The head box
is the extent of the landmarks (as the 6DRepNet data loaders compute it, before their loose-crop enlargement).
``?filter=99`` (the default for AFLW2000) drops samples with any |angle| > 99 degrees, the standard test filter
(AFLW2000: 2000 -> 1969); ``?filter=none`` keeps all.

BIWI here is the preprocessed ``.npz`` used by FSA-Net and 6DRepNet: ``image`` (N, H, W, 3) uint8 face crops and
``pose`` (N, 3) as [yaw, pitch, roll] in degrees.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

from groundlm.data.dataset import SampleDataset, Uri
from groundlm.data.sample import Head, Region, Sample
from groundlm.errors import UserError

# iBUG 68-point scheme: 30 = nose tip; 36-41 the subject's right eye, 42-47 the left eye.
NOSE_TIP = 30
RIGHT_EYE = slice(36, 42)
LEFT_EYE = slice(42, 48)


def _filter_value(uri: Uri, default: float | None) -> float | None:
    raw = uri.query.get("filter")
    if raw is None:
        return default
    if raw.lower() == "none":
        return None
    try:
        return float(raw)
    except ValueError:
        raise UserError(f"{uri.scheme}: filter={raw!r} must be a number of degrees or 'none'") from None


def _read_mat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        mat = scipy.io.loadmat(path)
    except Exception as e:  # scipy raises several types for corrupt files
        raise UserError(f"{path}: not a readable .mat file ({e})") from None
    if "Pose_Para" not in mat:
        raise UserError(f"{path}: no 'Pose_Para' in the .mat file")
    pose = np.asarray(mat["Pose_Para"], dtype=np.float64).reshape(-1)
    if pose.size < 3:
        raise UserError(f"{path}: 'Pose_Para' has {pose.size} values, expected 7")
    key = "pt2d" if "pt2d" in mat else "pt3d_68" if "pt3d_68" in mat else None
    if key is None:
        raise UserError(f"{path}: no landmarks ('pt2d' or 'pt3d_68')")
    pts = np.asarray(mat[key], dtype=np.float64)[:2]
    if pts.shape != (2, 68):
        raise UserError(f"{path}: landmarks {key!r} have shape {pts.shape}, expected (2, 68) or (3, 68)")
    return pose, pts


def _pose_sample(jpg: Path, root: Path, pose: np.ndarray, pts: np.ndarray, size: tuple[int, int]) -> Sample:
    pitch, yaw, roll = (math.degrees(v) for v in pose[:3])
    x0, y0 = pts.min(1)
    x1, y1 = pts.max(1)
    box = (float(x0), float(y0), float(x1), float(y1))
    landmarks = {
        "nose_tip": (float(pts[0, NOSE_TIP]), float(pts[1, NOSE_TIP])),
        "left_eye": tuple(float(v) for v in pts[:, LEFT_EYE].mean(1)),
        "right_eye": tuple(float(v) for v in pts[:, RIGHT_EYE].mean(1)),
    }
    rel = jpg.relative_to(root).with_suffix("")
    return Sample(
        id=str(rel),
        width=size[0],
        height=size[1],
        regions=[Region(box, "head", {"category": "head"})],
        heads=[Head(box, yaw, pitch, roll, landmarks, region=0)],
        image_path=jpg,
    )


def _load_mat_dir(uri: Uri, default_filter: float | None) -> SampleDataset:
    root = uri.require_dir()
    limit = _filter_value(uri, default_filter)
    samples = []
    jpgs = sorted(root.rglob("*.jpg"))
    if not jpgs:
        raise UserError(f"{uri.scheme}: no .jpg images under {str(root)!r}")
    for jpg in jpgs:
        mat = jpg.with_suffix(".mat")
        if not mat.is_file():
            raise UserError(f"{jpg}: no matching .mat file")
        pose, pts = _read_mat(mat)
        if limit is not None and np.any(np.abs(np.degrees(pose[:3])) > limit):
            continue
        with Image.open(jpg) as im:
            size = im.size
        samples.append(_pose_sample(jpg, root, pose, pts, size))
    return SampleDataset(samples, f"{uri.scheme}:{root}")


def load_300wlp(uri: Uri) -> SampleDataset:
    return _load_mat_dir(uri, default_filter=None)


def load_aflw2000(uri: Uri) -> SampleDataset:
    return _load_mat_dir(uri, default_filter=99.0)


def load_biwi(uri: Uri) -> SampleDataset:
    path = uri.require_file()
    try:
        data = np.load(path)
        images, poses = data["image"], data["pose"]
    except (KeyError, ValueError, OSError) as e:
        raise UserError(f"{path}: expected an .npz with arrays 'image' and 'pose' ({e})") from None
    if images.ndim != 4 or poses.shape != (len(images), 3):
        raise UserError(f"{path}: 'image' must be (N, H, W, 3) and 'pose' (N, 3); got {images.shape}, {poses.shape}")
    limit = _filter_value(uri, None)
    samples = []
    for i, (img, (yaw, pitch, roll)) in enumerate(zip(images, poses)):
        if limit is not None and max(abs(yaw), abs(pitch), abs(roll)) > limit:
            continue
        h, w = img.shape[:2]
        box = (0.0, 0.0, float(w), float(h))  # the images are face crops
        sample = Sample(
            id=str(i),
            width=w,
            height=h,
            regions=[Region(box, "head", {"category": "head"})],
            heads=[Head(box, float(yaw), float(pitch), float(roll), region=0)],
        )
        sample.image_loader = lambda img=img: Image.fromarray(np.asarray(img, dtype=np.uint8))
        samples.append(sample)
    return SampleDataset(samples, f"biwi:{path}")
