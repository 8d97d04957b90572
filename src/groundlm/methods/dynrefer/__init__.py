"""DynRefer: region understanding at dynamic resolution (Zhao et al. 2024, "DynRefer: Delving into Region-level
Multimodal Tasks via Dynamic Resolution"; docs/architecture.md, section 6.4).

* :mod:`.modeling_encoder`: the multi-view region encoder, registered as the region encoder ``dynrefer``;
* :mod:`.modeling_decoders`: the tag decoder and the region-text contrast beside the language model;
* :mod:`.task_options`: ``views.tags: auto`` (the training split's tags);
* :mod:`.inference_views`: which views a region is seen in (training and inference policies), the collator's
  batch hook for the encoder's inputs and the decoders' targets;
* :mod:`.inference_regions`: reading the tag decoder's probabilities and a caption's likelihood;
* :mod:`.metrics_tags`: tag mAP and F1, region recognition accuracy.
"""

PARTS = {
    "models": ("modeling_encoder",),
    "tasks": ("task_options",),
    "inference": ("inference_views",),
}
