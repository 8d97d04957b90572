import pytest
import torch

from groundlm import formats
from groundlm.models.constrained import FormatConstraint
from groundlm.models.vlm import GroundedVLM

from .conftest import tiny_config

PATTERNED = [n for n in formats.names() if formats.get(n).answer_pattern]


def test_every_format_has_an_answer_pattern_that_its_renderer_matches():
    import regex

    assert set(PATTERNED) == set(formats.names())
    for name in PATTERNED:
        codec = formats.get(name)
        text = (
            formats.render_pose((10, 20, 300, 200), -12.5, 3, 40, 640, 480)
            if name == "pose"
            else codec.render_boxes([(10.5, 20, 300, 200.7)], 640, 480)
        )
        assert regex.fullmatch(codec.answer_pattern, text), (name, text)


@pytest.mark.parametrize("name", PATTERNED)
def test_constrained_generation_of_an_untrained_model_always_parses(name):
    torch.manual_seed(1)
    model = GroundedVLM(tiny_config()).eval()
    tok = model.tokenizer
    enc = tok(["<image>" * model.image_tokens + "Find the red cube."] * 3, return_tensors="pt")
    out = model.generate(
        enc.input_ids,
        enc.attention_mask,
        torch.randn(3, 3, 32, 32),
        max_new_tokens=60,
        logits_processor=[FormatConstraint(name, tok)],
    )
    for text in tok.batch_decode(out, skip_special_tokens=True):
        result = formats.get(name).parse(text, 640, 480)
        # Syntax and ranges are guaranteed; x1 > x0 is not, so a degenerate box is the only allowed failure.
        # Qwen2.5-VL's range is the resized image's side, which a pattern for every image cannot state.
        allowed = (None, "degenerate", "out_of_range") if name == "qwen25vl" else (None, "degenerate")
        assert result.error in allowed, (name, text, result.error)


def test_allowed_tokens_follow_the_prefix():
    from groundlm.models.tokenizer import load_tokenizer

    tok = load_tokenizer()
    fc = FormatConstraint("cogvlm", tok)
    order = list(range(len(tok)))
    allowed = {tok.decode([t]) for t in fc.allowed("[[01", order)}
    assert allowed == {str(d) for d in range(10)}
    assert fc.allowed("[[012,345,678,901]]", order) == [tok.eos_token_id]
    with pytest.raises(ValueError):
        FormatConstraint("nonexistent", tok)
