"""State-dict helpers shared by saving, LoRA and merging (a leaf module: it imports nothing of groundlm)."""

from __future__ import annotations

import torch


def tied_once(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` with tensors that share storage (tied weights, one tensor under several names) kept once, under
    their first name."""
    out, seen = {}, set()
    for k, v in state.items():
        if v.data_ptr() not in seen:
            seen.add(v.data_ptr())
            out[k] = v
    return out
