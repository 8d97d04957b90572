"""LLM-MDE (DESIGN.md 6.2): metric depth from a language model.

The vision tower's patch features are reprogrammed onto text prototypes drawn from the LM's frozen word embeddings
(:class:`~groundlm.models.reprogramming.ReprogrammingLayer`), placed after the embedded prompt
(:mod:`groundlm.tasks.depth_prompt`), read by the LM (an encoder such as BERT, as the paper, or one of our causal
LMs, whose patch positions then read the whole prompt), and the LM's last hidden states at the patch positions
become a depth map (:class:`~groundlm.models.depth_head.AdaptationHead`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from groundlm.models.backbones import build_reader, build_vision
from groundlm.models.config import LanguageConfig, VisionConfig
from groundlm.models.depth_head import AdaptationHead
from groundlm.models.reprogramming import ReprogrammingLayer
from groundlm.models.tokenizer import left_padded, load_tokenizer


@dataclass
class DepthLMConfig:
    """The tower, the LM (``kind`` bert, or a causal kind), the reprogramming (``prototypes`` V′, ``heads``), the
    adaptation head (``head_channels``, ``head_blocks``: the map grows ``2^head_blocks`` over the patch grid),
    ``max_depth`` (metres), and whether the LM is frozen."""

    vision: VisionConfig = field(default_factory=VisionConfig)
    language: LanguageConfig = field(default_factory=lambda: LanguageConfig(kind="bert"))
    prototypes: int = 1000
    heads: int = 8
    head_channels: int = 64
    head_blocks: int = 3
    max_depth: float = 10.0
    freeze_lm: bool = True
    tokenizer: str | None = None  # default: the project's tokenizer (an LM from ``path`` brings its own)


class DepthLM(nn.Module):
    """Pixels and a prompt -> depth. ``forward(pixel_values [B, 3, S, S], prompt_ids [B, P], prompt_mask [B, P])``
    -> depth ``[B, g * 2^blocks, g * 2^blocks]`` in metres (``g`` the tower's patch grid side)."""

    def __init__(self, config: DepthLMConfig, tokenizer=None) -> None:
        super().__init__()
        self.config = config
        self.tokenizer = tokenizer or load_tokenizer(config.tokenizer)
        tok = self.tokenizer
        self.tower = build_vision(config.vision)
        self.lm = build_reader(config.language, len(tok), tok.pad_token_id, tok.bos_token_id, tok.eos_token_id)
        embeddings = self.lm.get_input_embeddings()
        embeddings.weight.requires_grad_(False)  # the prototypes' source is never trained
        if config.freeze_lm:
            self.lm.requires_grad_(False)
        vocab, width = embeddings.weight.shape
        self.reprogram = ReprogrammingLayer(self.tower.hidden_size, vocab, width, config.prototypes, config.heads)
        grid = self.tower.grid
        self.head = AdaptationHead(width, (grid, grid), config.head_channels, config.head_blocks, config.max_depth)

    def forward(
        self, pixel_values: torch.Tensor, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        embeddings = self.lm.get_input_embeddings()
        patches = self.reprogram(self.tower(pixel_values), embeddings.weight)  # [B, N, D]
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
