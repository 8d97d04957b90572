from groundlm import formats
from groundlm.models.tokenizer import IMAGE_TOKEN, REGION_TOKEN, load_tokenizer


def test_default_tokenizer_is_lossless_and_splits_digits():
    tok = load_tokenizer()
    for name in formats.names():
        codec = formats.get(name)
        text = (
            formats.render_pose((10, 20, 300, 200), -12.5, 3, 40, 640, 480)
            if name == "pose"
            else codec.render_boxes([(10.5, 20, 300, 200.7)], 640, 480, label="the red cube")
        )
        ids = tok(text, add_special_tokens=False).input_ids
        assert tok.decode(ids) == text
        for piece in tok.convert_ids_to_tokens(ids):
            digits = [c for c in piece if c.isdigit()]
            assert len(digits) <= 1, piece  # every digit is its own token
    assert tok.decode(tok("Ünïcode ✓ text", add_special_tokens=False).input_ids) == "Ünïcode ✓ text"


def test_placeholders_are_single_special_tokens():
    tok = load_tokenizer()
    ids = tok(IMAGE_TOKEN * 3 + "Find" + REGION_TOKEN, add_special_tokens=False).input_ids
    assert ids[:3] == [tok.convert_tokens_to_ids(IMAGE_TOKEN)] * 3
    assert ids[-1] == tok.convert_tokens_to_ids(REGION_TOKEN)
    assert tok.pad_token_id is not None and tok.eos_token_id is not None
