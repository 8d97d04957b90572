"""Building the vision tower and the language model from ``transformers``: a local checkpoint, or a tiny config.

Nothing is downloaded: ``path`` must be a local directory (``local_files_only``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    BertConfig,
    BertModel,
    CLIPVisionConfig,
    CLIPVisionModel,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    Qwen2Config,
    Qwen2ForCausalLM,
    ResNetConfig,
    ResNetModel,
    SiglipVisionConfig,
    SiglipVisionModel,
    ViTConfig,
    ViTModel,
)

from groundlm.models.config import LanguageConfig, VisionConfig

VISION_KINDS = ("vit", "clip", "siglip", "resnet")
LANGUAGE_KINDS = ("llama", "gpt2", "qwen2")
ENCODER_KINDS = ("bert",)  # language models that only read (LLM-MDE's), built by build_reader
TOWER_CONFIG = "tower.json"
TOWER_WEIGHTS = "tower.safetensors"
# What a tower directory fixes; the rest of VisionConfig (path, freeze) is the user's choice.
_TOWER_FIELDS = tuple(f.name for f in fields(VisionConfig) if f.name not in ("path", "freeze"))


class VisionTower(nn.Module):
    """Wraps a ``transformers`` vision model: pixels ``[B, 3, S, S]`` -> patch features ``[B, N, D]``.

    ``N = grid**2`` patch tokens in row-major order (the CLS token of ViT/CLIP is dropped).
    """

    def __init__(self, model: PreTrainedModel, has_cls: bool, image_size: int, patch_size: int) -> None:
        super().__init__()
        self.model = model
        self.has_cls = has_cls
        self.image_size = image_size
        self.grid = image_size // patch_size
        config = model.config
        self.hidden_size = config.hidden_sizes[-1] if hasattr(config, "hidden_sizes") else config.hidden_size

    @property
    def frozen(self) -> bool:
        return not any(p.requires_grad for p in self.model.parameters())

    def train(self, mode: bool = True) -> VisionTower:
        """A frozen tower stays in eval mode, so that its batch-norm statistics do not drift either."""
        super().train(mode)
        if self.frozen:
            self.model.eval()
        return self

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        kwargs = {"interpolate_pos_encoding": False} if isinstance(self.model, ViTModel) else {}
        hidden = self.model(pixel_values=pixel_values, **kwargs).last_hidden_state
        if hidden.ndim == 4:  # a ConvNet feature map [B, C, g, g] -> row-major tokens [B, g*g, C]
            return hidden.flatten(2).transpose(1, 2)
        return hidden[:, 1:] if self.has_cls else hidden


def resized_rgb(image: Image.Image, size: int) -> np.ndarray:
    """``[size, size, 3]`` uint8: the image in RGB, resized (bilinear) to the tower's square input."""
    im = image.convert("RGB")
    if im.size != (size, size):
        im = im.resize((size, size), Image.Resampling.BILINEAR)
    return np.array(im, dtype=np.uint8)


def normalized(pixels: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """``[..., 3, S, S]`` values in [0, 1] -> the tower's normalised input, ``(x - mean) / std`` per channel."""
    m = torch.as_tensor(mean, dtype=pixels.dtype, device=pixels.device)[:, None, None]
    s = torch.as_tensor(std, dtype=pixels.dtype, device=pixels.device)[:, None, None]
    return (pixels - m) / s


def pixel_values(image: Image.Image, size: int, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """RGB image -> the tower's input ``[3, size, size]``: resized (bilinear), scaled to [0, 1], normalised."""
    x = torch.from_numpy(resized_rgb(image, size)).permute(2, 0, 1).float() / 255.0
    return normalized(x, mean, std)


def is_tower_dir(path: str | Path | None) -> bool:
    """True for a directory written by :func:`save_tower`."""
    return path is not None and (Path(path) / TOWER_CONFIG).is_file()


def save_tower(tower: VisionTower, cfg: VisionConfig, directory: str | Path, info: dict[str, Any]) -> Path:
    """Write a tower directory: ``tower.json`` (the architecture as :class:`VisionConfig` fields, plus ``info``,
    e.g. how it was pretrained) and ``tower.safetensors`` (the ``transformers`` model's weights)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arch = {k: v for k, v in asdict(cfg).items() if k in _TOWER_FIELDS}
    (directory / TOWER_CONFIG).write_text(json.dumps({"vision": arch, "info": info}, indent=2) + "\n")
    save_file({k: v.contiguous() for k, v in tower.model.state_dict().items()}, str(directory / TOWER_WEIGHTS))
    return directory


def read_tower(directory: str | Path) -> tuple[VisionConfig, dict[str, Any]]:
    """The architecture and the ``info`` stored in a tower directory."""
    data = json.loads((Path(directory) / TOWER_CONFIG).read_text())
    arch = {k: tuple(v) if isinstance(v, list) else v for k, v in data["vision"].items() if k in _TOWER_FIELDS}
    return VisionConfig(**arch), data.get("info", {})


def resolve_vision(cfg: VisionConfig) -> VisionConfig:
    """``cfg`` with the architecture of its tower directory filled in (``path`` and ``freeze`` kept), so that a
    saved VLM config describes its tower completely; other configs are returned unchanged."""
    if not is_tower_dir(cfg.path):
        return cfg
    arch, _ = read_tower(cfg.path)
    return replace(arch, path=cfg.path, freeze=cfg.freeze)


def build_vision(cfg: VisionConfig, load_weights: bool = True) -> VisionTower:
    """The tower described by ``cfg``. A ``path`` to a tower directory loads its weights (unless
    ``load_weights`` is False: the caller loads a state dict that holds them); another ``path`` loads a
    ``transformers`` checkpoint; otherwise the tower is built from scratch with ``cfg``'s sizes."""
    if cfg.kind not in VISION_KINDS:
        raise ValueError(f"unknown vision kind {cfg.kind!r}; expected one of {VISION_KINDS}")
    # A saved VLM's config holds its tower's whole architecture, so it loads even where the tower folder is gone
    # (a path without a transformers checkpoint in it).
    if is_tower_dir(cfg.path) or (cfg.path and not load_weights and not (Path(cfg.path) / "config.json").is_file()):
        arch = resolve_vision(cfg) if is_tower_dir(cfg.path) else cfg
        tower = build_vision(replace(arch, path=None))
        if load_weights:
            tower.model.load_state_dict(load_file(str(Path(cfg.path) / TOWER_WEIGHTS)))
        return tower
    if cfg.path and not Path(cfg.path).is_dir():
        raise ValueError(
            f"vision path {cfg.path!r} is not a directory: give a tower written by `groundlm pretrain` "
            "or a transformers checkpoint"
        )
    if cfg.kind == "resnet" and not cfg.path:
        # Stem /4, then stages at /1, /2, /2, ... until the stride equals patch_size (e.g. 3 stages for 16).
        stages = max(1, round(math.log2(cfg.patch_size / 4)) + 1)
        widths = [max(cfg.hidden_size // 2 ** (stages - 1 - i), 16) for i in range(stages)]
        conf = ResNetConfig(
            embedding_size=widths[0],
            hidden_sizes=widths,
            depths=[max(1, cfg.num_layers // stages)] * stages,
            layer_type="basic",
            downsample_in_first_stage=False,
        )
        return VisionTower(ResNetModel(conf), False, cfg.image_size, cfg.patch_size)
    if cfg.path:
        model = AutoModel.from_pretrained(cfg.path, local_files_only=True)
        if hasattr(model, "vision_model") and not isinstance(model, (CLIPVisionModel, SiglipVisionModel)):
            model = model.vision_model  # a full CLIP/SigLIP checkpoint: keep the image side
        vc = model.config
        return VisionTower(model, cfg.kind != "siglip", vc.image_size, vc.patch_size)
    common = dict(
        hidden_size=cfg.hidden_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        intermediate_size=cfg.intermediate_size,
        image_size=cfg.image_size,
        patch_size=cfg.patch_size,
    )
    if cfg.kind == "vit":
        model = ViTModel(ViTConfig(**common), add_pooling_layer=False)
    elif cfg.kind == "clip":
        model = CLIPVisionModel(CLIPVisionConfig(**common))
    else:
        model = SiglipVisionModel(SiglipVisionConfig(**common))
    return VisionTower(model, cfg.kind != "siglip", cfg.image_size, cfg.patch_size)


def build_language(
    cfg: LanguageConfig, vocab_size: int, pad_token_id: int, bos_token_id: int, eos_token_id: int
) -> PreTrainedModel:
    if cfg.kind not in LANGUAGE_KINDS:
        raise ValueError(f"unknown language kind {cfg.kind!r}; expected one of {LANGUAGE_KINDS}")
    if cfg.path:
        model = AutoModelForCausalLM.from_pretrained(cfg.path, local_files_only=True)
        if model.get_input_embeddings().num_embeddings < vocab_size:
            model.resize_token_embeddings(vocab_size)
        return model
    if cfg.kind == "gpt2":
        conf = GPT2Config(
            vocab_size=vocab_size,
            n_embd=cfg.hidden_size,
            n_layer=cfg.num_layers,
            n_head=cfg.num_heads,
            n_inner=cfg.intermediate_size,
            n_positions=cfg.max_positions,
            pad_token_id=pad_token_id,
            bos_token_id=bos_token_id,
            eos_token_id=eos_token_id,
        )
        return GPT2LMHeadModel(conf)
    common = dict(
        vocab_size=vocab_size,
        hidden_size=cfg.hidden_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_heads,
        intermediate_size=cfg.intermediate_size,
        max_position_embeddings=cfg.max_positions,
        pad_token_id=pad_token_id,
        bos_token_id=bos_token_id,
        eos_token_id=eos_token_id,
        tie_word_embeddings=True,
    )
    if cfg.kind == "llama":
        return LlamaForCausalLM(LlamaConfig(**common))
    return Qwen2ForCausalLM(Qwen2Config(**common))


def build_reader(cfg: LanguageConfig, vocab_size: int, pad_token_id: int, bos: int, eos: int) -> PreTrainedModel:
    """A language model as a reader of input embeddings into hidden states (``last_hidden_state``): a BERT-like
    encoder (``kind: bert``, from ``path`` or built from the sizes), or the base model of a causal LM
    (:func:`build_language`)."""
    if cfg.kind in ENCODER_KINDS:
        if cfg.path:
            return AutoModel.from_pretrained(cfg.path, local_files_only=True)
        return BertModel(
            BertConfig(
                vocab_size=vocab_size,
                hidden_size=cfg.hidden_size,
                num_hidden_layers=cfg.num_layers,
                num_attention_heads=cfg.num_heads,
                intermediate_size=cfg.intermediate_size,
                max_position_embeddings=cfg.max_positions,
                pad_token_id=pad_token_id,
            ),
            add_pooling_layer=False,
        )
    if cfg.kind not in LANGUAGE_KINDS:
        raise ValueError(f"unknown language kind {cfg.kind!r}; expected one of {ENCODER_KINDS + LANGUAGE_KINDS}")
    return build_language(cfg, vocab_size, pad_token_id, bos, eos).base_model


def reader_from_config(data: dict[str, Any]) -> PreTrainedModel:
    """The reader :func:`build_reader` made, rebuilt with random weights from its transformers config
    (``model.config.to_dict()``), for a caller that loads a state dict holding its weights."""
    data = dict(data)
    conf = AutoConfig.for_model(data.pop("model_type"), **data)
    if conf.model_type == "bert":
        return BertModel(conf, add_pooling_layer=False)
    return AutoModel.from_config(conf)
