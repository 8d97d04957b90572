"""The training loss (next-token cross-entropy on labelled target tokens): defined in :mod:`groundlm.models.losses`,
named here for the training code that imports it from ``train``."""

from groundlm.models.losses import token_loss_sum

__all__ = ["token_loss_sum"]
