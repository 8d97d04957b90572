import numpy as np
import pytest
import torch

from groundlm.methods.llm_mde.modeling_depth_lm import DepthLM, DepthLMConfig
from groundlm.methods.llm_mde.task_depth_prompt import depth_prompt
from groundlm.models.config import LanguageConfig
from groundlm.models.depth_losses import silog_loss
from tests.conftest import tiny_language, tiny_vision

VISION = tiny_vision()


def tiny(kind: str, lm_training: str = "frozen", **kw) -> DepthLM:
    torch.manual_seed(0)
    return DepthLM(
        DepthLMConfig(
            vision=VISION,
            language=tiny_language(kind=kind, max_positions=256),
            prototypes=16,
            heads=4,
            head_channels=16,
            head_blocks=2,
            max_depth=10.0,
            lm_training=lm_training,
            **kw,
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
    for part in (model.reprogram, model.head, model.vision):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())
    # The prompt is read: another prompt gives another map.
    other, other_mask = model.prompt_batch(["Dataset: a different description.", ""])
    assert not torch.allclose(model(pixels, other, other_mask)[0].detach(), values[0])


def test_an_unfrozen_lm_trains_but_its_embeddings_do_not():
    model = tiny("bert", lm_training="full")
    ids, mask = model.prompt_batch(["a prompt"])
    model(torch.randn(1, 3, 32, 32), ids, mask).mean().backward()
    embeddings = model.lm.get_input_embeddings().weight
    assert embeddings.grad is None
    assert any(p.grad is not None for n, p in model.lm.named_parameters() if "encoder" in n)


def test_unknown_language_kind():
    with pytest.raises(ValueError, match="bert"):
        DepthLM(DepthLMConfig(vision=VISION, language=LanguageConfig(kind="t5")))


@pytest.mark.parametrize("kind", ["bert", "llama"])
def test_lora_trains_query_key_value_only_and_starts_as_the_frozen_lm(kind):
    lora = tiny(kind, "lora")
    ids, mask = lora.prompt_batch(["a prompt"])
    pixels = torch.randn(1, 3, 32, 32)
    # LoRA's B is zero at the start: every adapted layer gives what its frozen base layer gives.
    adapted_layers = [m for m in lora.lm.modules() if hasattr(m, "base_layer")]
    assert adapted_layers
    for layer in adapted_layers:
        x = torch.randn(3, layer.base_layer.in_features)
        assert torch.equal(layer(x), layer.base_layer(x))
    trainable = {n for n, p in lora.lm.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    adapted = {n.split(".lora_")[0].rsplit(".", 1)[-1] for n in trainable}
    assert adapted == {"bert": {"query", "key", "value"}, "llama": {"q_proj", "k_proj", "v_proj"}}[kind]
    lora(pixels, ids, mask).mean().backward()
    assert all(p.grad is not None for n, p in lora.lm.named_parameters() if "lora_B" in n)


def test_linear_projection_ablation_ignores_the_vocabulary():
    model = tiny("bert", reprogramming=False)
    patches = torch.randn(2, 16, 32)
    embeddings = model.lm.get_input_embeddings().weight
    out = model.reprogram(patches, embeddings)
    assert torch.allclose(out, model.reprogram(patches, torch.zeros_like(embeddings)))
    assert torch.allclose(out, patches @ model.reprogram.proj.weight.T + model.reprogram.proj.bias)


@pytest.mark.parametrize("kind", ["bert", "llama"])
def test_save_and_load_give_the_same_maps(tmp_path, kind):
    model = tiny(kind, "lora", prompt="fixed").eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))  # LoRA's B away from zero, so the adapters matter
    model.save_pretrained(tmp_path / "m")
    loaded = DepthLM.from_pretrained(tmp_path / "m").eval()
    assert loaded.config == model.config
    ids, mask = model.prompt_batch(["Dataset: x."])
    pixels = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(
            loaded(pixels, ids.expand(2, -1), mask.expand(2, -1)), model(pixels, ids.expand(2, -1), mask.expand(2, -1))
        )


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="lm_training"):
        DepthLMConfig(lm_training="half")
    with pytest.raises(ValueError, match="adaptive"):
        DepthLMConfig(prompt="long")


def test_a_frozen_tower_neither_trains_nor_updates_its_batch_norms():
    """``vision.freeze`` (LLM-MDE trains reprogramming, prompt adapter and head on a frozen tower): no tower
    parameter is trainable, and a training-mode forward leaves a ResNet tower's batch-norm statistics as they were."""
    from groundlm.models.config import VisionConfig

    torch.manual_seed(0)
    vision = VisionConfig(kind="resnet", image_size=32, patch_size=8, hidden_size=32, num_layers=2, freeze=True)
    model = DepthLM(
        DepthLMConfig(vision=vision, language=tiny_language(kind="bert", max_positions=256), prototypes=16, heads=4)
    )
    assert not [name for name, p in model.vision.named_parameters() if p.requires_grad]
    assert [name for name, p in model.named_parameters() if p.requires_grad]  # the rest still trains
    stats = {k: v.clone() for k, v in model.vision.state_dict().items() if "running" in k}
    assert stats
    model.train()
    ids, mask = model.prompt_batch(["", ""])
    model(torch.randn(2, 3, 32, 32) * 3 + 1, ids, mask).mean().backward()
    after = model.vision.state_dict()
    assert all(torch.equal(stats[k], after[k]) for k in stats)
    assert all(p.grad is None for p in model.vision.parameters())
