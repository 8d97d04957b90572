"""How much a grounded VLM's answers depend on the image: teacher-forced loss with each example's own image and
with another's."""

from __future__ import annotations

import torch

from groundlm.inference.collate import Collator, to_device
from groundlm.inference.generate import evaluating
from groundlm.inference.images import ImageCache
from groundlm.models.losses import target_tokens, token_loss_sum
from groundlm.models.vlm import GroundedVLM
from groundlm.tasks.base import Example


@torch.no_grad()
def image_dependence(
    model: GroundedVLM, collator: Collator, examples: list[Example], images: ImageCache, batch_size: int = 32
) -> dict[str, float]:
    """How much the answers depend on the image: the teacher-forced loss on the targets (nats per target token)
    with each example's own image, and with the images of the batch rotated by one, so that every prompt sees
    another sample's image. ``image_gain`` is the difference; near zero means the model answers from the text
    alone. Needs at least two examples."""
    if len(examples) < 2:
        return {}
    sums = {"own": 0.0, "other": 0.0}
    tokens = 0
    with evaluating(model) as device:
        for k in range(0, len(examples), batch_size):
            chunk = examples[k : k + batch_size]
            if len(chunk) < 2:
                break
            inputs = to_device(collator.train_batch(chunk, [images.get(e.sample) for e in chunk]), device)
            labels = inputs.pop("labels")
            tokens += target_tokens(labels)
            for name, order in (("own", None), ("other", torch.roll(torch.arange(len(chunk)), 1))):
                if order is not None:
                    # Every picture of the batch, shifted by one: the model's input and the region encoder's own.
                    inputs["pixel_values"] = inputs["pixel_values"][order.to(device)]
                    region = inputs.get("region_inputs", {})
                    if "pixels" in region:
                        region["pixels"] = region["pixels"][order.to(device)]
                logits = model(**inputs).logits
                sums[name] += float(token_loss_sum(logits, labels))
    own, other = sums["own"] / max(tokens, 1), sums["other"] / max(tokens, 1)
    return {"loss": own, "loss_other_image": other, "image_gain": other - own}
