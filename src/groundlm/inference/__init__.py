"""The inference layer, under training, the CLI and any server or backend (docs/architecture.md, section 2):
collation of examples into model inputs, the image cache, generation and decoding behind one small protocol
(:class:`TextGenerator`), one-query prediction, and the model loader."""

from groundlm.inference.collate import IGNORE, Collator, to_device
from groundlm.inference.generate import (
    LocalGenerator,
    TextGenerator,
    answer,
    generate_texts,
    predict_examples,
)
from groundlm.inference.images import ImageCache
from groundlm.inference.loader import is_adapter_dir, is_model_dir, load_depth_model, load_model
from groundlm.inference.predict import draw_overlay, predict

__all__ = [
    "IGNORE",
    "Collator",
    "ImageCache",
    "LocalGenerator",
    "TextGenerator",
    "answer",
    "draw_overlay",
    "generate_texts",
    "is_adapter_dir",
    "is_model_dir",
    "load_depth_model",
    "load_model",
    "predict",
    "predict_examples",
    "to_device",
]
