"""DynRefer's two decoders beside the language model (docs/architecture.md, section 6.4), reading region tokens
``[R, Q, width]``:

* **tags**: one learned query per tag of a fixed vocabulary reads the region's tokens (a :class:`QueryAttention`
  block) and gives one logit; trained with the asymmetric loss (Ridnik et al. 2021, "ASL");
* **region-text contrast**: the region's mean token and the caption's mean input embedding, each projected and
  L2-normalised, compared with SigLIP's sigmoid loss (Zhai et al. 2023) with a learned temperature and bias.

Each loss is a *sum* over the regions it scores; the caller divides (the training loop by the global batch's count,
as for every named loss: :func:`region_loss_counts`). Training weighs them ``L_lm + 0.01 L_tag + 0.5 L_rtc``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from groundlm.models.query_attention import QueryAttention

TAG, CONTRAST = "tag", "rtc"


def asymmetric_loss_sum(
    logits: torch.Tensor, labels: torch.Tensor, gamma_pos: float = 0.0, gamma_neg: float = 4.0, clip: float = 0.05
) -> torch.Tensor:
    """Asymmetric loss summed over all entries: with ``p = sigmoid(z)`` and the shifted ``p_m = max(p - clip, 0)``,
    ``-y (1 - p)^gamma_pos log p - (1 - y) p_m^gamma_neg log(1 - p_m)``. Easy negatives (most tags of a region)
    fade out; ``logits`` and ``labels`` (0/1) ``[R, V]``."""
    z, y = logits.float(), labels.float()
    p = torch.sigmoid(z)
    p_m = (p - clip).clamp(min=0) if clip > 0 else p
    pos = y * (1 - p).pow(gamma_pos) * F.logsigmoid(z)
    neg = (1 - y) * p_m.pow(gamma_neg) * torch.log((1 - p_m).clamp(min=1e-8))
    return -(pos + neg).sum()


def sigmoid_contrastive_loss_sum(logits: torch.Tensor, positive: torch.Tensor) -> torch.Tensor:
    """SigLIP's loss summed over rows: ``-sum_i sum_j log sigmoid(y_ij z_ij)`` with ``y = +1`` on positive pairs and
    ``-1`` elsewhere; ``logits`` ``[R, R]`` (``exp(t) cos + b``), ``positive`` ``[R, R]`` bool."""
    sign = positive.float() * 2 - 1
    return -F.logsigmoid(sign * logits.float()).sum()


class TagDecoder(nn.Module):
    """Region tokens ``[R, Q, width]`` -> tag logits ``[R, V]``: each tag's query reads the tokens, then a shared
    linear layer scores it."""

    def __init__(self, width: int, tags: int, hidden: int = 128) -> None:
        super().__init__()
        self.inp = nn.Linear(width, hidden)
        self.queries = nn.Parameter(0.02 * torch.randn(tags, hidden))
        self.read = QueryAttention(hidden)
        self.score = nn.Linear(hidden, 1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        q = self.queries[None].expand(len(tokens), -1, -1)
        return self.score(self.read(q, self.inp(tokens)))[..., 0]


class RegionTextContrast(nn.Module):
    """Region tokens ``[R, Q, width]`` and caption embeddings ``[R, L, width]`` (masked) -> similarity logits
    ``[R, R]`` = ``exp(t) cos(region_i, text_j) + b``; ``t`` starts at ``log 10`` and ``b`` at ``-10`` (SigLIP)."""

    def __init__(self, width: int, dim: int = 128) -> None:
        super().__init__()
        self.region = nn.Linear(width, dim)
        self.text = nn.Linear(width, dim)
        self.log_temperature = nn.Parameter(torch.tensor(math.log(10.0)))
        self.bias = nn.Parameter(torch.tensor(-10.0))

    def embed_regions(self, tokens: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.region(tokens.mean(1)), dim=-1)

    def embed_texts(self, embeddings: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask[..., None].to(embeddings.dtype)
        mean = (embeddings * m).sum(1) / m.sum(1).clamp(min=1)
        return F.normalize(self.text(mean), dim=-1)

    def forward(self, tokens: torch.Tensor, embeddings: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        cos = self.embed_regions(tokens) @ self.embed_texts(embeddings, mask).T
        return self.log_temperature.exp() * cos + self.bias


class RegionDecoders(nn.Module):
    """The decoders a config asks for (tags when ``tags`` is not empty, the contrast when ``contrastive``) and their
    losses on a batch's ``region_targets``: ``tags`` ``[R, V]`` 0/1 (NaN rows: no labels), ``text_ids`` and
    ``text_mask`` ``[R, L]`` (all-zero mask rows: no caption)."""

    def __init__(self, width: int, tags: Sequence[str], contrastive: bool) -> None:
        super().__init__()
        self.tags = tuple(tags)
        self.tagger = TagDecoder(width, len(self.tags)) if self.tags else None
        self.contrast = RegionTextContrast(width) if contrastive else None

    @property
    def loss_names(self) -> list[str]:
        return [name for name, part in ((TAG, self.tagger), (CONTRAST, self.contrast)) if part is not None]

    def losses(
        self, tokens: torch.Tensor, targets: dict[str, torch.Tensor], embed: nn.Module, normalizers: dict[str, float]
    ) -> dict[str, torch.Tensor]:
        """Each decoder's loss sum divided by ``normalizers[name]`` (default: the regions it scores here); ``embed``
        is the language model's input embedding table (captions are read through it)."""
        out: dict[str, torch.Tensor] = {}
        counts = region_loss_counts(targets)
        if self.tagger is not None and TAG in targets:
            rows = ~torch.isnan(targets[TAG]).any(-1)
            loss = (
                asymmetric_loss_sum(self.tagger(tokens[rows]), targets[TAG][rows]) if rows.any() else tokens.sum() * 0
            )
            out[TAG] = loss / normalizers.get(TAG, max(counts[TAG], 1))
        if self.contrast is not None and "text_ids" in targets:
            rows = targets["text_mask"].any(1)
            ids, mask = targets["text_ids"][rows], targets["text_mask"][rows]
            if rows.sum() > 0:
                logits = self.contrast(tokens[rows], embed(ids), mask)
                same = (ids[:, None, :] == ids[None, :, :]).all(-1) & (mask[:, None, :] == mask[None, :, :]).all(-1)
                loss = sigmoid_contrastive_loss_sum(logits, same)
            else:
                loss = tokens.sum() * 0
            out[CONTRAST] = loss / normalizers.get(CONTRAST, max(counts[CONTRAST], 1))
        return out


def region_loss_counts(targets: dict[str, torch.Tensor]) -> dict[str, int]:
    """The regions each decoder's loss scores in a batch's ``region_targets``: labelled tag rows, captioned rows."""
    counts = {TAG: 0, CONTRAST: 0}
    if TAG in targets:
        counts[TAG] = int((~torch.isnan(targets[TAG]).any(-1)).sum())
    if "text_mask" in targets:
        counts[CONTRAST] = int(targets["text_mask"].any(1).sum())
    return counts
