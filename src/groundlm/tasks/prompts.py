"""Prompt templates of the tasks. Several phrasings per task, so that a model does not learn one string."""

from __future__ import annotations

REFER_PROMPTS: tuple[str, ...] = (
    "Where is {expr}? Answer with a box.",
    "Find {expr}.",
    "Give the bounding box of {expr}.",
    "Locate {expr} in the image.",
)
REGION_CAPTION_PROMPTS: tuple[str, ...] = (
    "Describe the region {region}.",
    "What is in {region}?",
    "Write a short caption for {region}.",
)
POSE_PROMPTS: tuple[str, ...] = (
    "Where is the head of {expr}, and what is its pose? Answer with the head box and yaw, pitch, roll.",
    "Give the head box and the yaw, pitch and roll of {expr}.",
    "Estimate the head pose of {expr}.",
)
LIST_PROMPTS: tuple[str, ...] = (
    "List every object with its box.",
    "What objects are in the image, and where?",
    "Name each object and give its bounding box.",
)
NARRATE_PROMPTS: tuple[str, ...] = (
    "Describe the image.",
    "Tell what you see, from one thing to the next.",
    "Narrate the picture.",
)
ALL_PROMPTS: tuple[str, ...] = REFER_PROMPTS + REGION_CAPTION_PROMPTS + POSE_PROMPTS + LIST_PROMPTS + NARRATE_PROMPTS
