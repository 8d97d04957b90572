"""Metrics: grounding, head pose, depth, captions (pycocoevalcap), dense captioning mAP and trace points."""

from groundlm.metrics.captions import CAPTION_KEYS, MeteorScorer, caption_metrics
from groundlm.metrics.densecap import DenseImage, DensePrediction, densecap_map
from groundlm.metrics.depth import ALIGNMENTS, DEPTH_KEYS, depth_metrics, eigen_crop_mask, image_depth_errors
from groundlm.metrics.grounding import grounding_metrics
from groundlm.metrics.pose import POSE_FILTER_DEGREES, pose_metrics
from groundlm.metrics.tags import recognition_accuracy, tag_metrics
from groundlm.metrics.trace import trace_metrics

__all__ = [
    "ALIGNMENTS",
    "CAPTION_KEYS",
    "DEPTH_KEYS",
    "POSE_FILTER_DEGREES",
    "DenseImage",
    "DensePrediction",
    "MeteorScorer",
    "caption_metrics",
    "densecap_map",
    "depth_metrics",
    "eigen_crop_mask",
    "grounding_metrics",
    "image_depth_errors",
    "pose_metrics",
    "recognition_accuracy",
    "tag_metrics",
    "trace_metrics",
]
