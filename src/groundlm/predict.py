"""``groundlm predict``'s library side lives in the inference layer (:mod:`groundlm.inference.predict`)."""

from groundlm.inference.model import load_model
from groundlm.inference.predict import PREDICT_TASKS, draw_overlay, predict

__all__ = ["PREDICT_TASKS", "draw_overlay", "load_model", "predict"]
