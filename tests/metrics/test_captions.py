import pytest
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.meteor.meteor import Meteor
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

from groundlm.metrics import CAPTION_KEYS, caption_metrics

REFS = {
    "a": ["A red sphere left of the blue cube.", "a small red ball beside a blue box"],
    "b": ["The person is looking to the right.", "a man turning his head right"],
    "c": ["Two green cylinders behind a yellow cone.", "green cylinders behind the cone"],
}
PREDS = {
    "a": "a red ball left of a blue cube",
    "b": "a person looking right",
    "c": "a yellow cone in front of cylinders",
}


def test_matches_pycocoevalcap_pipeline(meteor):
    ours = caption_metrics(REFS, PREDS, meteor=meteor)
    tok = PTBTokenizer()
    gts = tok.tokenize({k: [{"caption": c} for c in v] for k, v in REFS.items()})
    res = tok.tokenize({k: [{"caption": v}] for k, v in PREDS.items()})
    bleu, _ = Bleu(4).compute_score(gts, res)
    ref = {f"Bleu_{i + 1}": b for i, b in enumerate(bleu)}
    ref["METEOR"] = Meteor().compute_score(gts, res)[0]
    ref["ROUGE_L"] = Rouge().compute_score(gts, res)[0]
    ref["CIDEr"] = Cider().compute_score(gts, res)[0]
    assert list(ours) == list(CAPTION_KEYS)
    for k in CAPTION_KEYS:
        assert ours[k] == pytest.approx(ref[k]), k


def test_identical_captions_and_single_image_cider(meteor):
    refs = {"x": ["a red ball on the floor"], "y": ["a blue cube on a table"]}
    m = caption_metrics(refs, {"x": "a red ball on the floor", "y": "a blue cube on a table"}, meteor=meteor)
    assert m["Bleu_4"] == pytest.approx(1.0, abs=1e-6) and m["ROUGE_L"] == pytest.approx(1.0)
    single = caption_metrics({"x": ["a red ball"]}, {"x": "a red ball"}, meteor=meteor)
    assert single["CIDEr"] == 0.0  # document frequencies from a one-image corpus


def test_input_errors(meteor):
    with pytest.raises(ValueError, match="same ids"):
        caption_metrics({"x": ["a"]}, {"y": "a"}, meteor=meteor)
    with pytest.raises(ValueError, match="at least one reference"):
        caption_metrics({"x": []}, {"x": "a"}, meteor=meteor)
    # A newline or METEOR's separator inside a caption must not break the METEOR protocol.
    m = caption_metrics({"x": ["a red ||| ball", "two\nlines"]}, {"x": "a red\nball |||"}, meteor=meteor)
    assert 0 < m["METEOR"] <= 1
