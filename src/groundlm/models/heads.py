"""Heads on the language model's last hidden state, and the registry that builds them from :class:`HeadConfig`.

A head maps ``[B, T, width]`` hidden states to ``[B, T, out_dim]`` outputs, one per position: the output at
position ``p`` belongs to the token the model predicts there (the token at ``p + 1``). Targets come the same way,
``[B, T, out_dim]`` with NaN rows where a position has none (:class:`~groundlm.inference.collate.Collator` aligns
each example's ``targets[name]`` rows with its answer tokens). PixelLLM's point per word and LLM-MDE's depth value
are heads of this kind (:mod:`groundlm.methods.pixelllm.modeling_point_head`).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from groundlm.methods import load_parts
from groundlm.models.config import HeadConfig
from groundlm.models.losses import REGRESSION_LOSSES
from groundlm.registry import Registry

HeadBuilder = Callable[[HeadConfig, int], nn.Module]  # builder(config, width) -> module
HEADS: Registry[HeadBuilder] = Registry("head kind")
register_head = HEADS.register


def build_head(config: HeadConfig, width: int) -> nn.Module:
    """The head ``config`` names, reading hidden states of size ``width``."""
    load_parts("models")  # the methods' heads
    builder = HEADS.get_known(config.kind)
    if config.loss not in REGRESSION_LOSSES:
        raise ValueError(f"unknown head loss {config.loss!r}; known: {', '.join(REGRESSION_LOSSES)}")
    if config.out_dim < 1:
        raise ValueError(f"a head needs out_dim >= 1, got {config.out_dim}")
    return builder(config, width)


@register_head("linear")
def linear_head(config: HeadConfig, width: int) -> nn.Module:
    return nn.Linear(width, config.out_dim)


@register_head("mlp")
def mlp_head(config: HeadConfig, width: int) -> nn.Module:
    hidden = config.hidden or width
    return nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, config.out_dim))
