"""What every test shares: the sizes of the tiny models the tests build.

The tiny tower (a ViT on 32-pixel images, 4x4 patches of 8 pixels) and the tiny language model train a few steps in
about a second on one CPU thread. The dicts go into YAML configs; :func:`tiny_vision` and :func:`tiny_language`
build the dataclasses, their keyword arguments replacing a size or adding a field (``kind``, ``freeze``).
"""

from groundlm.models.config import LanguageConfig, VisionConfig

TINY_VISION = {
    "image_size": 32,
    "patch_size": 8,
    "hidden_size": 32,
    "num_layers": 1,
    "num_heads": 2,
    "intermediate_size": 64,
}
TINY_LANGUAGE = {"hidden_size": 32, "num_layers": 2, "num_heads": 2, "intermediate_size": 64}


def tiny_vision(**changes) -> VisionConfig:
    return VisionConfig(**{**TINY_VISION, **changes})


def tiny_language(**changes) -> LanguageConfig:
    return LanguageConfig(**{**TINY_LANGUAGE, **changes})
