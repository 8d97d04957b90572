"""HPE-CogVLM: head pose grounding with a grounding VLM (docs/architecture.md, section 6.1): a person named by an
expression, their head box and three Euler angles out, trained by LoRA with rehearsal of the grounding task and
merged back into the grounding model by layer selection.

* :mod:`.task_pose`: ``pose``, the head box then yaw, pitch and roll (with re-reading: the box first, then the
  angles after the model sees that region again).
* :mod:`.recipe`: the pipeline (grounding base -> pose LoRAs per rehearsal ratio -> merges -> evaluation), run by
  ``groundlm recipe hpe`` and by ``groundlm bench hpe``.
"""

RECIPES = {"hpe": "recipe"}  # groundlm recipe hpe

PARTS = {
    "tasks": ("task_pose",),
}
