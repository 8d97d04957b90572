"""Typed configurations of the grounded VLM. Sizes are for building from scratch; ``path`` loads a checkpoint."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class VisionConfig:
    """The vision tower: ``kind`` in vit | clip | siglip | resnet; ``path`` a local ``transformers`` checkpoint.

    For ``resnet`` built from scratch, ``patch_size`` is the output stride (16: three stages), ``hidden_size`` the
    last stage's width and ``num_layers`` the total number of residual blocks.

    ``path`` may also be a tower directory written by ``groundlm pretrain`` (``tower.json`` + weights): its
    architecture fields replace these when the model is built. ``freeze`` keeps the tower's weights (and
    batch-norm statistics) fixed while the rest of the VLM trains."""

    kind: str = "vit"
    path: str | None = None
    image_size: int = 128
    patch_size: int = 16
    hidden_size: int = 192
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 384
    image_mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    image_std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    freeze: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VisionConfig:
        return _build(cls, data)


@dataclass
class LanguageConfig:
    """The causal language model: ``kind`` in llama | gpt2 | qwen2; ``path`` a local checkpoint directory."""

    kind: str = "llama"
    path: str | None = None
    hidden_size: int = 256
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 512
    max_positions: int = 512


@dataclass
class VLMConfig:
    """Vision tower -> MLP projector -> language model; regions pooled by RoI-Align to ``region_grid**2`` tokens."""

    vision: VisionConfig = field(default_factory=VisionConfig)
    language: LanguageConfig = field(default_factory=LanguageConfig)
    tokenizer: str | None = None  # None: the default tokenizer shipped with groundlm
    projector_hidden: int | None = None  # None: the language model's width
    region_grid: int = 2
    # "sincos": add a fixed 2-D sine-cosine code of each patch's grid position (RMS 1, times a learned scale) to
    # the projected patch features; helps towers trained from scratch, whose position embeddings start random.
    patch_position: str = "none"
    lora: dict[str, Any] | None = None  # set when LoRA adapters are attached (see groundlm.adapters.lora)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VLMConfig:
        return cls(
            vision=_build(VisionConfig, data.get("vision", {})),
            language=_build(LanguageConfig, data.get("language", {})),
            **{k: v for k, v in data.items() if k not in ("vision", "language")},
        )


def _build(cls, data: dict[str, Any]):
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s): {', '.join(sorted(unknown))}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return cls(**values)
