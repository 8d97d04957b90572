"""Vision tower pretraining on SpatialWorld's dense labels (``groundlm pretrain``)."""

from groundlm.pretrain.tower import PRESETS, TowerPretrainConfig, ensure_tower, preset, pretrain_tower

__all__ = ["PRESETS", "TowerPretrainConfig", "ensure_tower", "preset", "pretrain_tower"]
