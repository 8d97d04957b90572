"""LLM-MDE: metric depth from a language model (docs/architecture.md, section 6.2): patch features reprogrammed
into the language model's word space, read after an adaptive prompt, and turned back into a dense depth map.

* :mod:`.modeling_depth_lm`: the depth model (:class:`~.modeling_depth_lm.DepthLM`) and its config;
* :mod:`.modeling_reprogramming`: cross-modal reprogramming (and its linear ablation);
* :mod:`.modeling_depth_head`: the adaptation head, tokens back to a depth map;
* :mod:`.task_depth_prompt`: the adaptive prompt; :mod:`.task_depth`: depth batches;
* :mod:`.inference_depth`: depth maps and their metrics; the model kind ``depth`` (a saved depth model as a model
  handle, answering ``depth``);
* :mod:`.train_depth`: training depth regressors; the trainer ``depth`` (``groundlm train`` on a config with
  ``method: depth``).
"""

PARTS = {
    "models": ("modeling_depth_lm",),
    "tasks": ("task_depth",),
    "inference": ("inference_depth",),
    "train": ("train_depth",),
}
