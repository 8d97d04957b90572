"""Models: the grounded VLM (a vision tower, a projector and a causal language model), its config, heads, region
encoders, LoRA spec and tokenizer (docs/architecture.md, section 5).

>>> from groundlm.models import GroundedVLM
>>> model = GroundedVLM.from_pretrained("runs/refer-quick/final")  # doctest: +SKIP

Names are imported on first use (:mod:`groundlm.lazy`), so ``import groundlm.models.config`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from groundlm.lazy import lazy_exports

if TYPE_CHECKING:
    from groundlm.models.config import HeadConfig, LanguageConfig, ViewsConfig, VisionConfig, VLMConfig
    from groundlm.models.heads import HEADS, build_head, register_head
    from groundlm.models.lora import LoraSpec
    from groundlm.models.region import REGION_ENCODERS, RegionEncoder, build_region_encoder, register_region_encoder
    from groundlm.models.tokenizer import load_tokenizer
    from groundlm.models.vlm import GroundedVLM, VLMOutput

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "groundlm.models.config": ("HeadConfig", "LanguageConfig", "ViewsConfig", "VisionConfig", "VLMConfig"),
        "groundlm.models.heads": ("HEADS", "build_head", "register_head"),
        "groundlm.models.lora": ("LoraSpec",),
        "groundlm.models.region": (
            "REGION_ENCODERS",
            "RegionEncoder",
            "build_region_encoder",
            "register_region_encoder",
        ),
        "groundlm.models.tokenizer": ("load_tokenizer",),
        "groundlm.models.vlm": ("GroundedVLM", "VLMOutput"),
    },
)

__all__ = [
    "HEADS",
    "REGION_ENCODERS",
    "GroundedVLM",
    "HeadConfig",
    "LanguageConfig",
    "LoraSpec",
    "RegionEncoder",
    "VLMConfig",
    "VLMOutput",
    "ViewsConfig",
    "VisionConfig",
    "build_head",
    "build_region_encoder",
    "load_tokenizer",
    "register_head",
    "register_region_encoder",
]
