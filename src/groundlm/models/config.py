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
    """The language model: ``kind`` in llama | gpt2 | qwen2 (causal), or bert (an encoder, for LLM-MDE's
    :class:`~groundlm.methods.llm_mde.modeling_depth_lm.DepthLM` only); ``path`` a local checkpoint directory."""

    kind: str = "llama"
    path: str | None = None
    hidden_size: int = 256
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 512
    max_positions: int = 512


@dataclass
class HeadConfig:
    """A head on the language model's last hidden state ``[B, T, width] -> [B, T, out_dim]``, built by the registry
    in :mod:`groundlm.models.heads` (``kind``: linear | mlp, or any registered kind). When a batch carries targets
    for it, its ``loss`` (l1 | mse | smooth_l1, summed over the ``out_dim`` outputs) joins the named losses."""

    kind: str = "mlp"
    out_dim: int = 1
    hidden: int | None = None  # mlp width; None: the language model's
    loss: str = "l1"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HeadConfig:
        return _build(cls, data)


VIEW_POLICIES = ("selected", "fixed", "random")  # how inference picks a multi-view region's context views


@dataclass
class ViewsConfig:
    """DynRefer's multi-view region encoder (``region_encoder: dynrefer``,
    :mod:`groundlm.methods.dynrefer.modeling_encoder`).

    A region is seen in ``n`` views ``b_t = (1 - t) b + t B`` (``t = 0``, the region alone, always first), each
    re-encoded by the tower at its input size from the image at ``source_size`` pixels (None: the model's input
    size). Training draws the ``n - 1`` context views at random; inference picks them by ``inference``:
    ``selected`` (pHash, :func:`groundlm.geometry.views.select_views`), ``fixed`` (``fixed``, a task prior) or
    ``random`` (a draw seeded by the region); ``fixed`` empty means ``0.8 j / (n - 1)``, ``j = 1 .. n - 1``
    (``0.4, 0.8`` for three views). Each view gives a ``roi_grid x roi_grid`` RoI-Align of the region plus
    its mean-pooled token; views are aligned to the region (``align``), fused, and ``queries`` learned queries read
    them (``layers`` cross-attention blocks) into the region tokens. ``tags`` names the tag decoder's vocabulary
    (empty: no tag decoder; ``[auto]``: the training split's region tags, filled in by ``groundlm train``);
    ``contrastive`` adds the region-text decoder."""

    n: int = 3
    inference: str = "selected"
    fixed: tuple[float, ...] = ()
    source_size: int | None = None
    roi_grid: int = 4
    align: bool = True
    queries: int = 8
    width: int = 256
    layers: int = 2
    tags: tuple[str, ...] = ()
    contrastive: bool = False

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"views.n must be at least 1, got {self.n}")
        if self.inference not in VIEW_POLICIES:
            raise ValueError(f"views.inference must be one of {', '.join(VIEW_POLICIES)}, got {self.inference!r}")
        fixed = self.fixed_views()
        if len(fixed) != self.n - 1 or not all(0 < t <= 1 for t in fixed):
            raise ValueError(f"views.fixed must hold n - 1 = {self.n - 1} coefficients in (0, 1], got {list(fixed)}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ViewsConfig:
        return _build(cls, data)

    def fixed_views(self) -> tuple[float, ...]:
        """The ``n - 1`` context coefficients of the ``fixed`` policy."""
        if self.fixed:
            return tuple(float(t) for t in self.fixed)
        return tuple(round(0.8 * j / (self.n - 1), 3) for j in range(1, self.n))


@dataclass
class VLMConfig:
    """Vision tower -> MLP projector -> language model; regions turned into ``<region>`` tokens by the region
    encoder named ``region_encoder`` (:mod:`groundlm.models.region`; ``roi``: RoI-Align to ``region_grid**2``
    tokens); ``heads`` by name (:class:`HeadConfig`)."""

    vision: VisionConfig = field(default_factory=VisionConfig)
    language: LanguageConfig = field(default_factory=LanguageConfig)
    tokenizer: str | None = None  # None: the default tokenizer shipped with groundlm
    projector_hidden: int | None = None  # None: the language model's width
    region_grid: int = 2
    region_encoder: str = "roi"
    heads: dict[str, HeadConfig] = field(default_factory=dict)
    views: ViewsConfig = field(default_factory=ViewsConfig)  # for region_encoder: dynrefer
    # "sincos": add a fixed 2-D sine-cosine code of each patch's grid position (RMS 1, times a learned scale) to
    # the projected patch features; helps towers trained from scratch, whose position embeddings start random.
    patch_position: str = "none"
    lora: dict[str, Any] | None = None  # set when LoRA adapters are attached (see groundlm.adapters.lora)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VLMConfig:
        heads = data.get("heads") or {}
        if not isinstance(heads, dict):
            raise ValueError(f"heads: expected a mapping of name to head config, got {heads!r}")
        return cls(
            vision=_build(VisionConfig, data.get("vision", {})),
            language=_build(LanguageConfig, data.get("language", {})),
            heads={name: h if isinstance(h, HeadConfig) else HeadConfig.from_dict(h) for name, h in heads.items()},
            views=views if isinstance(views := data.get("views", {}), ViewsConfig) else _build(ViewsConfig, views),
            **{k: v for k, v in data.items() if k not in ("vision", "language", "heads", "views")},
        )


def _build(cls, data: dict[str, Any]):
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s): {', '.join(sorted(unknown))}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return cls(**values)
