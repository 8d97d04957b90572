"""Building the vision tower and the language model from ``transformers``: a local checkpoint, or a tiny config.

Nothing is downloaded: ``path`` must be a local directory (``local_files_only``).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from transformers import (
    AutoModel,
    AutoModelForCausalLM,
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

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        kwargs = {"interpolate_pos_encoding": False} if isinstance(self.model, ViTModel) else {}
        hidden = self.model(pixel_values=pixel_values, **kwargs).last_hidden_state
        if hidden.ndim == 4:  # a ConvNet feature map [B, C, g, g] -> row-major tokens [B, g*g, C]
            return hidden.flatten(2).transpose(1, 2)
        return hidden[:, 1:] if self.has_cls else hidden


def build_vision(cfg: VisionConfig) -> VisionTower:
    if cfg.kind not in VISION_KINDS:
        raise ValueError(f"unknown vision kind {cfg.kind!r}; expected one of {VISION_KINDS}")
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
