"""Adapters: LoRA through ``peft`` (attach, save, load, merge) and weight-merging methods."""
