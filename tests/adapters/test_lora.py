import pytest
import torch

from groundlm.adapters.lora import load_lora, merge_lora, save_lora
from groundlm.models.lora import LoraSpec
from groundlm.models.vlm import GroundedVLM

from ..models.conftest import tiny_config


def _batch(model):
    enc = model.tokenizer(
        ["<image>" * model.image_tokens + "Find the cube. [[010,020,300,400]]"] * 2, return_tensors="pt"
    )
    return enc.input_ids, enc.attention_mask, torch.randn(2, 3, 32, 32)


@pytest.mark.parametrize("on", [("language",), ("vision",), ("language", "vision")])
def test_lora_starts_as_identity_and_trains_only_adapters(on):
    torch.manual_seed(0)
    model = GroundedVLM(tiny_config()).eval()
    ids, mask, px = _batch(model)
    before = model(ids, mask, px).logits
    model.attach_lora(LoraSpec(r=4, alpha=8, towers=on))
    assert torch.allclose(model(ids, mask, px).logits, before, atol=1e-6)  # B = 0 at the start
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    assert any(n.startswith("lm.") for n in trainable) == ("language" in on)
    assert any(n.startswith("vision.") for n in trainable) == ("vision" in on)


def _trained_lora_model():
    torch.manual_seed(0)
    model = GroundedVLM(tiny_config())
    model.attach_lora(LoraSpec(r=4, alpha=8, towers=("language", "vision")))
    ids, mask, px = _batch(model)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    for _ in range(3):
        model(ids, mask, px, labels=ids).loss.backward()
        opt.step()
        opt.zero_grad()
    return model.eval(), (ids, mask, px)


def test_save_load_adapters_alone_and_with_the_model(tmp_path):
    model, (ids, mask, px) = _trained_lora_model()
    ref = model(ids, mask, px).logits
    save_lora(model, tmp_path / "adapter")
    torch.manual_seed(0)
    fresh = GroundedVLM(tiny_config()).eval()  # same base weights (same seed), no adapters
    assert not torch.allclose(fresh(ids, mask, px).logits, ref)
    load_lora(fresh, tmp_path / "adapter")
    assert torch.allclose(fresh(ids, mask, px).logits, ref, atol=1e-6)
    model.save_pretrained(tmp_path / "full")
    again = GroundedVLM.from_pretrained(tmp_path / "full").eval()
    assert again.has_lora and torch.allclose(again(ids, mask, px).logits, ref, atol=1e-6)


def test_merge_folds_adapters_into_weights():
    model, (ids, mask, px) = _trained_lora_model()
    ref = model(ids, mask, px).logits
    merge_lora(model)
    assert not model.has_lora and not any("lora_" in n for n, _ in model.named_parameters())
    assert torch.allclose(model(ids, mask, px).logits, ref, atol=1e-5)
