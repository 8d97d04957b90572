"""Codecs against published examples and the reference implementations that ship in ``transformers``."""

import numpy as np
import pytest
import torch
from transformers.models.florence2.processing_florence2 import Florence2PostProcessor
from transformers.models.kosmos2.processing_kosmos2 import coordinate_to_patch_index, patch_index_to_coordinate

from groundlm import formats
from groundlm.formats.kosmos2 import box_to_patch_indices, patch_indices_to_box


def _random_boxes(n, w, h, seed=0, min_size=0.05):
    rng = np.random.default_rng(seed)
    x0 = rng.uniform(0, w * (1 - min_size), n)
    y0 = rng.uniform(0, h * (1 - min_size), n)
    x1 = x0 + w * min_size + rng.uniform(0.0, 1.0, n) * (w - x0 - w * min_size)
    y1 = y0 + h * min_size + rng.uniform(0.0, 1.0, n) * (h - y0 - h * min_size)
    return np.stack([x0, y0, np.minimum(x1, w), np.minimum(y1, h)], 1)


def test_kosmos2_published_example():
    # Kosmos-2's model card: the snowman's entity box.
    text = "An image of<phrase> a snowman</phrase><object><patch_index_0044><patch_index_0863></object> warming"
    result = formats.get("kosmos2").parse(text, 1.0, 1.0)
    assert result.ok and result.labels == (" a snowman",)
    assert result.boxes[0] == pytest.approx((0.390625, 0.046875, 0.984375, 0.828125))


def test_kosmos2_matches_transformers_functions():
    for x0, y0, x1, y1 in _random_boxes(300, 1.0, 1.0, seed=1, min_size=0.01):
        assert box_to_patch_indices((x0, y0, x1, y1)) == coordinate_to_patch_index((x0, y0, x1, y1), 32)
    rng = np.random.default_rng(2)
    for ul, lr in rng.integers(0, 1024, (300, 2)):
        assert patch_indices_to_box(int(ul), int(lr)) == pytest.approx(patch_index_to_coordinate(int(ul), int(lr), 32))


class _NoTokenizer:
    all_special_tokens = ()


def test_florence2_matches_post_processor():
    post = Florence2PostProcessor(None, _NoTokenizer())
    codec = formats.get("florence2")
    w, h = 640, 480
    boxes = _random_boxes(200, w, h, seed=3)
    ref_q = post.quantize(torch.tensor(boxes), (w, h)).tolist()
    for box, q in zip(boxes, ref_q):
        assert codec.render_boxes([box], w, h) == "".join(f"<loc_{v}>" for v in q)
        decoded = codec.parse(codec.render_boxes([box], w, h), w, h).boxes[0]
        # The reference truncates its dequantised values to int; ours keeps the bin centre.
        assert [int(v) for v in decoded] == post.dequantize(torch.tensor([q]), (w, h)).tolist()[0]


def test_florence2_published_od_string():
    text = "car<loc_52><loc_332><loc_932><loc_774>door<loc_100><loc_200><loc_300><loc_400>"
    result = formats.get("florence2").parse(text, 1000, 1000)
    assert result.ok and result.labels == ("car", "door")
    assert result.boxes[0] == pytest.approx((52.5, 332.5, 932.5, 774.5))


def test_qwen_published_example_and_explicit_divisor():
    text = "<ref>击掌</ref><box>(536,509),(588,602)</box>"
    w, h = 1280, 720
    r999 = formats.get("qwen").parse(text, w, h)
    assert r999.labels == ("击掌",)
    assert r999.boxes[0] == pytest.approx((536 / 999 * w, 509 / 999 * h, 588 / 999 * w, 602 / 999 * h))
    r1000 = formats.get("qwen", divisor=1000).parse(text, w, h)
    assert r1000.boxes[0] == pytest.approx((536 / 1000 * w, 509 / 1000 * h, 588 / 1000 * w, 602 / 1000 * h))


def test_cogvlm_example_and_multiple_boxes():
    codec = formats.get("cogvlm")
    result = codec.parse("Two dogs [[086,540,400,760;483,483,673,760]] on grass", 1000, 500)
    assert result.ok and len(result.boxes) == 2
    assert result.boxes[1] == pytest.approx((483, 241.5, 673, 380))
    assert codec.render_boxes([(0, 0, 1000, 500)], 1000, 500) == "[[000,000,999,999]]"
    assert codec.render_points([(500, 250)], 1000, 500) == "[[500,500]]"


def test_shikra_ferret_paligemma_examples():
    shikra = formats.get("shikra").parse("The dog [0.440,0.404,0.669,0.758] sits.", 500, 400)
    assert shikra.boxes[0] == pytest.approx((220, 161.6, 334.5, 303.2))
    ferret = formats.get("ferret").parse("a man [258, 254, 506, 604] and a point [500, 500]", 1000, 2000)
    assert ferret.boxes[0] == pytest.approx((258, 508, 506, 1208)) and ferret.points[0] == pytest.approx((500, 1000))
    # PaliGemma writes y before x.
    text = "<loc0256><loc0512><loc0768><loc1000> cat ; <loc0000><loc0000><loc0100><loc0100> dog"
    pali = formats.get("paligemma").parse(text, 2048, 1024)
    assert pali.labels == ("cat", "dog")
    assert pali.boxes[0] == pytest.approx((1024, 256, 2000, 768))
