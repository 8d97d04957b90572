"""Collation lives in the inference layer (:mod:`groundlm.inference.collate`); training uses the same."""

from groundlm.inference.collate import IGNORE, Collator, to_device

__all__ = ["IGNORE", "Collator", "to_device"]
