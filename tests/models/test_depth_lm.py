import numpy as np
import pytest
import torch

from groundlm.models.config import LanguageConfig, VisionConfig
from groundlm.models.depth_lm import DepthLM, DepthLMConfig
from groundlm.models.depth_losses import silog_loss
from groundlm.tasks.depth_prompt import depth_prompt

VISION = VisionConfig(image_size=32, patch_size=8, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64)


def tiny(kind: str, freeze_lm: bool = True) -> DepthLM:
    torch.manual_seed(0)
    return DepthLM(
        DepthLMConfig(
            vision=VISION,
            language=LanguageConfig(
                kind=kind, hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64, max_positions=256
            ),
            prototypes=16,
            heads=4,
            head_channels=16,
            head_blocks=2,
            max_depth=10.0,
            freeze_lm=freeze_lm,
        )
    )


@pytest.mark.parametrize("kind", ["bert", "llama"])
def test_depth_from_pixels_and_a_prompt_and_what_trains(kind):
    model = tiny(kind)
    images = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    ids, mask = model.prompt_batch([depth_prompt(images[0], "SpatialWorld rooms.", "kitchen"), ""])
    assert ids.shape[0] == 2 and mask[1].sum() == 1  # the empty prompt is BOS alone, padded on the left
    pixels = torch.randn(2, 3, 32, 32)
    depth = model(pixels, ids, mask)
    values = depth.detach()
    assert depth.shape == (2, 16, 16) and float(values.min()) > 0 and float(values.max()) < 10
    target = torch.rand(2, 16, 16) * 5 + 1
    silog_loss(depth.log(), target.log(), torch.ones_like(target)).backward()
    # The LM and its embeddings are frozen; the reprogramming, the head and the tower train.
    assert all(p.grad is None for p in model.lm.parameters())
    for part in (model.reprogram, model.head, model.tower):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())
    # The prompt is read: another prompt gives another map.
    other, other_mask = model.prompt_batch(["Dataset: a different description.", ""])
    assert not torch.allclose(model(pixels, other, other_mask)[0].detach(), values[0])


def test_an_unfrozen_lm_trains_but_its_embeddings_do_not():
    model = tiny("bert", freeze_lm=False)
    ids, mask = model.prompt_batch(["a prompt"])
    model(torch.randn(1, 3, 32, 32), ids, mask).mean().backward()
    embeddings = model.lm.get_input_embeddings().weight
    assert embeddings.grad is None
    assert any(p.grad is not None for n, p in model.lm.named_parameters() if "encoder" in n)


def test_unknown_language_kind():
    with pytest.raises(ValueError, match="bert"):
        DepthLM(DepthLMConfig(vision=VISION, language=LanguageConfig(kind="t5")))
