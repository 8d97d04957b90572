"""DynRefer's model options that depend on the training data: ``views.tags: auto`` becomes the training split's
region tags (the tag decoder's vocabulary), before the model is built."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from groundlm.data.sample import Sample
from groundlm.models.config import VLMConfig
from groundlm.tasks.base import register_model_config_hook
from groundlm.tasks.region_caption import region_vocabulary

AUTO = ("auto",)


@register_model_config_hook("dynrefer")
def tags_of_training_split(config: VLMConfig, samples: Iterable[Sample]) -> VLMConfig:
    """``config`` with ``views.tags: [auto]`` replaced by the tags of ``samples``' captioned regions, sorted."""
    if tuple(config.views.tags) != AUTO:
        return config
    return replace(config, views=replace(config.views, tags=region_vocabulary(samples)[0]))
