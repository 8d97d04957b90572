"""The inference layer, under training, the CLI and any server or backend (docs/architecture.md, section 2): the
model handle (:func:`load_model`: any saved model directory, one object that answers its tasks), collation of examples
into model inputs, the image cache, generation and decoding behind one small protocol (:class:`TextGenerator`),
one-query prediction, and the loaders of the modules inside a saved model. A method's own model kinds (and their
inference) live in its folder, :mod:`groundlm.methods`."""

from groundlm.inference.collate import IGNORE, Collator, to_device
from groundlm.inference.generate import (
    LocalGenerator,
    TextGenerator,
    answer,
    generate_texts,
    predict_examples,
)
from groundlm.inference.images import ImageCache
from groundlm.inference.loader import is_adapter_dir, is_model_dir, load_vlm

# Last: the handle builds on the backends, whose modules import the ones above.
from groundlm.inference.model import Model, load_model, model_manifest
from groundlm.inference.predict import draw_overlay, predict

__all__ = [
    "IGNORE",
    "Collator",
    "ImageCache",
    "LocalGenerator",
    "Model",
    "TextGenerator",
    "answer",
    "draw_overlay",
    "generate_texts",
    "is_adapter_dir",
    "is_model_dir",
    "load_model",
    "load_vlm",
    "model_manifest",
    "predict",
    "predict_examples",
    "to_device",
]
