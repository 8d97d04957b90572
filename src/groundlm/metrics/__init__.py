"""Metrics: grounding, head pose, depth, captions (pycocoevalcap) and dense captioning mAP. A method's own metrics sit
in its folder (DynRefer's tags: :mod:`groundlm.methods.dynrefer.metrics_tags`; PixelLLM's traces:
:mod:`groundlm.methods.pixelllm.metrics_trace`)."""

from groundlm.metrics.captions import CAPTION_KEYS, MeteorScorer, caption_metrics
from groundlm.metrics.densecap import DenseImage, DensePrediction, densecap_map
from groundlm.metrics.depth import ALIGNMENTS, DEPTH_KEYS, depth_metrics, eigen_crop_mask, image_depth_errors
from groundlm.metrics.grounding import grounding_metrics
from groundlm.metrics.pose import POSE_FILTER_DEGREES, pose_metrics

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
]
