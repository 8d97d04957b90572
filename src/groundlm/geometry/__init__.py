"""Spatial geometry: boxes (``xyxy`` pixels), rotations (degrees, yaw/pitch/roll), RoI-Align, views, pHash."""

from groundlm.geometry.boxes import (
    area,
    clip,
    convert,
    denormalize,
    enclosing_box,
    intersection_and_union,
    iou,
    iou_matrix,
    is_valid,
    normalize,
)
from groundlm.geometry.phash import hamming, phash
from groundlm.geometry.roi_align import roi_align
from groundlm.geometry.rotations import (
    euler_to_matrix,
    flip_horizontal,
    geodesic_distance,
    matrix_to_euler,
    matrix_to_sixd,
    sixd_to_matrix,
)
from groundlm.geometry.views import CANDIDATE_TS, ViewSelection, random_views, select_views, view_boxes

__all__ = [
    "CANDIDATE_TS",
    "ViewSelection",
    "area",
    "clip",
    "convert",
    "denormalize",
    "enclosing_box",
    "euler_to_matrix",
    "flip_horizontal",
    "geodesic_distance",
    "hamming",
    "intersection_and_union",
    "iou",
    "iou_matrix",
    "is_valid",
    "matrix_to_euler",
    "matrix_to_sixd",
    "normalize",
    "phash",
    "random_views",
    "roi_align",
    "select_views",
    "sixd_to_matrix",
    "view_boxes",
]
