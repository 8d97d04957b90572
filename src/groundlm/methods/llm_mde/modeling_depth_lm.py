"""LLM-MDE (docs/architecture.md, section 6.2): metric depth from a language model.

The vision tower's patch features are reprogrammed onto text prototypes drawn from the LM's frozen word embeddings
(:class:`~groundlm.methods.llm_mde.modeling_reprogramming.ReprogrammingLayer`), placed after the embedded prompt
(:mod:`groundlm.methods.llm_mde.task_depth_prompt`), read by the LM (an encoder such as BERT, as the paper, or one
of our causal LMs, whose patch positions then read the whole prompt), and the LM's last hidden states at the patch
positions become a depth map (:class:`~groundlm.methods.llm_mde.modeling_depth_head.AdaptationHead`).

A saved model is a directory: ``config.json`` (``{"depth_lm": config, "reader": the LM's transformers config}``),
``model.safetensors`` and ``tokenizer/``; it loads without the tower or LM folders it was built from.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from peft import LoraConfig, inject_adapter_in_model
from safetensors.torch import load_file, save_file
from torch import nn

from groundlm.manifest import Manifest, write_manifest
from groundlm.methods.llm_mde.modeling_depth_head import AdaptationHead
from groundlm.methods.llm_mde.modeling_reprogramming import LinearProjection, ReprogrammingLayer
from groundlm.models.backbones import build_reader, build_vision, reader_from_config, resolve_vision
from groundlm.models.config import LanguageConfig, VisionConfig
from groundlm.models.state import tied_once
from groundlm.models.tokenizer import left_padded, load_tokenizer

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
CONFIG_KEY = "depth_lm"  # the top-level key of a depth model's config.json (a grounded VLM's is "groundlm")
LM_TRAINING = ("frozen", "lora", "full")
PROMPTS = ("none", "fixed", "adaptive")  # the prompt kinds of groundlm.methods.llm_mde.task_depth_prompt
# The LM's attention query, key and value projections, where LoRA goes (LLM-MDE adapts q, k and v).
QKV_TARGETS = {
    "bert": ("query", "key", "value"),
    "llama": ("q_proj", "k_proj", "v_proj"),
    "qwen2": ("q_proj", "k_proj", "v_proj"),
    "gpt2": ("c_attn",),
}


@dataclass
class DepthLMConfig:
    """The tower, the LM (``kind`` bert, or a causal kind), the reprogramming (``prototypes`` V′, ``heads``; with
    ``reprogramming`` False a linear projection stands in, the paper's ablation), the adaptation head
    (``head_channels``, ``head_blocks``: the map grows ``2^blocks`` over the patch grid), ``max_depth`` (metres),
    the prompt the LM reads first, and how the LM trains: ``frozen``, ``lora`` (rank ``lora_rank`` on query, key
    and value) or ``full`` (all but the word embeddings, which the prototypes are drawn from)."""

    vision: VisionConfig = field(default_factory=VisionConfig)
    language: LanguageConfig = field(default_factory=lambda: LanguageConfig(kind="bert"))
    prototypes: int = 1000
    heads: int = 8
    reprogramming: bool = True
    head_channels: int = 64
    head_blocks: int = 3
    max_depth: float = 10.0
    lm_training: str = "frozen"
    lora_rank: int = 8
    # What the LM reads before the patches (groundlm.methods.llm_mde.task_depth_prompt): the prompt kind and the
    # dataset sentence.
    prompt: str = "adaptive"
    dataset: str = "SpatialWorld, rendered indoor and outdoor scenes."
    tokenizer: str | None = None  # default: the project's tokenizer (an LM from ``path`` brings its own)

    def __post_init__(self) -> None:
        if self.prompt not in PROMPTS:
            raise ValueError(f"the depth prompt must be one of {', '.join(PROMPTS)}, got {self.prompt!r}")
        if self.lm_training not in LM_TRAINING:
            raise ValueError(f"lm_training must be one of {', '.join(LM_TRAINING)}, got {self.lm_training!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DepthLMConfig:
        values = dict(data)
        values["vision"] = VisionConfig.from_dict(values.get("vision") or {})
        values["language"] = LanguageConfig(**(values.get("language") or {"kind": "bert"}))
        return cls(**values)


class DepthLM(nn.Module):
    """Pixels and a prompt -> depth. ``forward(pixel_values [B, 3, S, S], prompt_ids [B, P], prompt_mask [B, P])``
    -> depth ``[B, g * 2^blocks, g * 2^blocks]`` in metres (``g`` the tower's patch grid side)."""

    def __init__(self, config: DepthLMConfig, tokenizer=None, reader: dict[str, Any] | None = None) -> None:
        """``reader``: the LM's transformers config as a dict, to rebuild it without its checkpoint (loading)."""
        super().__init__()
        self.config = config
        self.tokenizer = tokenizer or load_tokenizer(config.tokenizer)
        tok = self.tokenizer
        self.vision = build_vision(config.vision, load_weights=reader is None)
        if config.vision.freeze:  # weights and batch-norm statistics (VisionTower.train keeps a frozen tower in eval)
            self.vision.requires_grad_(False)
            self.vision.train(self.training)
        if reader is not None:
            self.lm = reader_from_config(reader)
        else:
            self.lm = build_reader(config.language, len(tok), tok.pad_token_id, tok.bos_token_id, tok.eos_token_id)
        if config.lm_training != "full":
            self.lm.requires_grad_(False)
        if config.lm_training == "lora":
            kind = config.language.kind
            lora = LoraConfig(
                r=config.lora_rank, lora_alpha=2 * config.lora_rank, target_modules=list(QKV_TARGETS[kind])
            )
            inject_adapter_in_model(lora, self.lm)  # LoRA's B starts at zero: the LM is unchanged at first
            for name, p in self.lm.named_parameters():
                p.requires_grad_("lora_" in name)
        embeddings = self.lm.get_input_embeddings()
        embeddings.weight.requires_grad_(False)  # the prototypes' source is never trained
        vocab, width = embeddings.weight.shape
        if config.reprogramming:
            self.reprogram = ReprogrammingLayer(self.vision.hidden_size, vocab, width, config.prototypes, config.heads)
        else:
            self.reprogram = LinearProjection(self.vision.hidden_size, width)
        grid = self.vision.grid
        self.head = AdaptationHead(width, (grid, grid), config.head_channels, config.head_blocks, config.max_depth)

    @property
    def out_size(self) -> int:
        """The side of the depth map, in pixels of the map."""
        return self.vision.grid * 2**self.config.head_blocks

    def forward(
        self, pixel_values: torch.Tensor, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        embeddings = self.lm.get_input_embeddings()
        patches = self.reprogram(self.vision(pixel_values), embeddings.weight)  # [B, N, D]
        prompt = embeddings(prompt_ids)  # [B, P, D]
        if prompt_mask is None:
            prompt_mask = torch.ones(prompt_ids.shape, dtype=torch.long, device=prompt_ids.device)
        ones = torch.ones(patches.shape[:2], dtype=prompt_mask.dtype, device=patches.device)
        mask = torch.cat([prompt_mask, ones], 1)
        hidden = self.lm(inputs_embeds=torch.cat([prompt, patches], 1), attention_mask=mask).last_hidden_state
        return self.head(hidden[:, prompt_ids.shape[1] :])

    def prompt_batch(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids ``[B, P]`` and mask of ``prompts`` (padded on the left, so every prompt ends where the patches
        begin; an empty prompt is the BOS token alone)."""
        tok = self.tokenizer
        rows = [[tok.bos_token_id, *tok(p, add_special_tokens=False).input_ids] for p in prompts]
        return left_padded(rows, tok.pad_token_id)

    # ---------------------------------------------------------------------------------------------------------
    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``config.json``, ``model.safetensors``, the tokenizer and the manifest (``groundlm.json``, kind
        ``depth``, its one task ``depth``)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_manifest(directory, Manifest("depth", {"depth": {}}))
        config = replace(self.config, vision=resolve_vision(self.config.vision))
        data = {CONFIG_KEY: config.to_dict(), "reader": self.lm.config.to_dict()}
        (directory / CONFIG).write_text(json.dumps(data, indent=2) + "\n")
        save_file({k: v.contiguous() for k, v in tied_once(self.state_dict()).items()}, str(directory / WEIGHTS))
        self.tokenizer.save_pretrained(str(directory / "tokenizer"))
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> DepthLM:
        """Load a directory written by :meth:`save_pretrained`."""
        directory = Path(directory)
        data = json.loads((directory / CONFIG).read_text())
        if CONFIG_KEY not in data:
            raise ValueError(f"{directory} does not hold a depth model (LLM-MDE)")
        config = DepthLMConfig.from_dict(data[CONFIG_KEY])
        model = cls(config, tokenizer=load_tokenizer(directory / "tokenizer"), reader=data["reader"])
        missing, unexpected = model.load_state_dict(load_file(str(directory / WEIGHTS)), strict=False)
        if missing or unexpected:
            raise ValueError(
                f"{directory}: weights do not match the config (missing {missing}, unexpected {unexpected})"
            )
        return model


def is_depth_model_dir(directory: str | Path) -> bool:
    """True for a directory written by :meth:`DepthLM.save_pretrained`."""
    path = Path(directory) / CONFIG
    try:
        return path.is_file() and CONFIG_KEY in json.loads(path.read_text())
    except (OSError, ValueError):
        return False
