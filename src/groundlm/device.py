"""Where work runs: a device name as a user gives it (``--device``, a config's ``device``) resolved once."""

from __future__ import annotations

import torch

from groundlm.errors import UserError


def resolve_device(name: str | None = None) -> torch.device:
    """``name`` as a device (``cpu``, ``cuda``, ``cuda:1``); ``None`` is CUDA when present, else the CPU. Asking for
    CUDA where there is none is a :class:`~groundlm.errors.UserError`."""
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device {name!r}: no CUDA device is available here")
    try:
        return torch.device(name)
    except RuntimeError:
        raise UserError(f"device {name!r}: expected cpu, cuda or cuda:N") from None
