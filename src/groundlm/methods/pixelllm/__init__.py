"""PixelLLM: pixel-aligned language models (Xu et al. 2024, "Pixel Aligned Language Models"; docs/architecture.md,
section 6.3): a point for every word of a caption, referring localisation by regression, and a location prompt.

* :mod:`.modeling_location_prompt`: the location prompt encoder, registered as the region encoder
  ``location_prompt``;
* :mod:`.modeling_point_head`: the point head, registered as the head kind ``point``;
* :mod:`.task_narrate`: ``narrate``, localized narratives with a point per word;
* :mod:`.metrics_trace`: how well per-word points follow a narrative's mouse trace.
"""

PARTS = {
    "models": ("modeling_location_prompt", "modeling_point_head"),
    "tasks": ("task_narrate",),
}
