"""HPE-CogVLM: head pose grounding by LoRA fine-tunes of a grounding VLM, with rehearsal and merging."""
