"""Training: a YAML config (:class:`TrainConfig`) becomes a run directory with checkpoints, metrics and a final
model (docs/architecture.md, section 5).

>>> from groundlm.train import load_config, train
>>> train(load_config("configs/refer-quick.yaml", ["max_steps=20"]))  # doctest: +SKIP

Names are imported on first use (:mod:`groundlm.lazy`): the config and schedule sit in a lower layer than the loop,
and ``import groundlm.train.config`` must not import the loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from groundlm.lazy import lazy_exports

if TYPE_CHECKING:
    from groundlm.train.config import SplitSpec, TaskSpec, TrainConfig, load_config
    from groundlm.train.loop import train

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "groundlm.train.config": ("SplitSpec", "TaskSpec", "TrainConfig", "load_config"),
        "groundlm.train.loop": ("train",),
    },
)

__all__ = ["SplitSpec", "TaskSpec", "TrainConfig", "load_config", "train"]
