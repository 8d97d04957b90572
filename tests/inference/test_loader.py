import numpy as np
import pytest
import torch

from groundlm.adapters.lora import save_lora
from groundlm.data.sample import Sample
from groundlm.inference import Collator, LocalGenerator, answer, is_adapter_dir, is_model_dir, load_vlm
from groundlm.models.lora import LoraSpec
from groundlm.models.vlm import GroundedVLM
from groundlm.tasks.base import Example
from groundlm.tasks.refer import ReferTask

from ..models.conftest import tiny_config


def _lora_model():
    torch.manual_seed(0)
    model = GroundedVLM(tiny_config())
    model.attach_lora(LoraSpec(r=4, alpha=8))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.1)  # adapters that change the answers
    return model.eval()


def _inputs(model):
    enc = model.tokenizer(["<image>" * model.image_tokens + "Find the cube."], return_tensors="pt")
    return enc.input_ids, enc.attention_mask, torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))


def test_loader_reads_models_and_adapter_directories(tmp_path):
    model = _lora_model()
    model.save_pretrained(tmp_path / "full")
    torch.manual_seed(0)
    base = GroundedVLM(tiny_config())  # the same base weights as _lora_model's, before its adapters
    base.save_pretrained(tmp_path / "base")
    save_lora(model, tmp_path / "adapter")
    assert is_model_dir(tmp_path / "full") and is_adapter_dir(tmp_path / "adapter")
    ref = model(*_inputs(model)).logits
    for loaded in (
        load_vlm(tmp_path / "full"),
        load_vlm(tmp_path / "adapter", base=tmp_path / "base"),
        load_vlm(tmp_path / "full", merge_adapters=True),
    ):
        assert not loaded.training
        torch.testing.assert_close(loaded(*_inputs(loaded)).logits, ref, atol=1e-5, rtol=1e-5)
    assert load_vlm(tmp_path / "full", merge_adapters=True).config.lora is None
    with pytest.raises(FileNotFoundError, match="base model"):
        load_vlm(tmp_path / "adapter")
    with pytest.raises(FileNotFoundError, match="not a groundlm model"):
        load_vlm(tmp_path / "nothing")


class ScriptedGenerator:
    """A TextGenerator that answers from a script: the protocol is all ``answer`` needs."""

    def __init__(self, texts):
        self.texts = texts
        self.calls = []

    def generate(self, examples, samples=1, temperature=1.0, constrain=None):
        self.calls.append((len(examples), samples, constrain))
        return self.texts[: len(examples) * samples]


def test_answer_decodes_any_text_generator():
    from groundlm.formats.numeric import NumericDecoding

    sample = Sample(id="s", width=1000, height=1000, image_loader=lambda: None)
    example = Example("<image>Find the cube.", "", sample)
    greedy = ScriptedGenerator(["[[100,100,300,300]]"])
    assert answer(greedy, ReferTask(), [example]) == [(100.0, 100.0, 300.0, 300.0)]
    sampled = ScriptedGenerator(["[[100,100,300,300]]", "[[200,100,400,300]]", "[[900,100,950,300]]"])
    (box,) = answer(sampled, ReferTask(), [example], NumericDecoding("median", samples=3))
    np.testing.assert_allclose(box, (200.0, 100.0, 400.0, 300.0))
    assert sampled.calls == [(1, 3, "cogvlm")]  # sampled answers follow the task's syntax


def test_local_generator_is_a_text_generator():
    torch.manual_seed(0)
    model = GroundedVLM(tiny_config()).eval()
    from PIL import Image

    image = Image.new("RGB", (32, 32), (120, 30, 30))
    sample = Sample(id="s", width=32, height=32, image_loader=lambda: image)
    texts = LocalGenerator(model, Collator.for_model(model), max_new_tokens=3).generate(
        [Example("<image>Find the cube.", "", sample)]
    )
    assert len(texts) == 1 and isinstance(texts[0], str)
