"""Qwen2-VL and Qwen2.5-VL box syntaxes against the examples their model cards and cookbooks publish."""

import pytest

from groundlm import formats
from groundlm.formats.qwen2vl import smart_resize


def test_qwen2vl_reads_the_model_card_answer_divided_by_1000():
    # Qwen2-VL writes boxes normalised to 0-1000: "(x1,y1),(x2,y2)" between special tokens, after the phrase.
    text = "<|object_ref_start|>the cat<|object_ref_end|><|box_start|>(120,350),(540,890)<|box_end|>"
    result = formats.get("qwen2vl").parse(text, 1000, 500)
    assert result.ok and result.labels == ("the cat",)
    assert result.boxes[0] == pytest.approx((120.0, 175.0, 540.0, 445.0))


def test_qwen2vl_renders_what_it_parses_and_reports_errors():
    codec = formats.get("qwen2vl")
    text = codec.render_boxes([(64, 32, 320, 240)], 640, 480, label="a red cube")
    assert text == "<|object_ref_start|>a red cube<|object_ref_end|><|box_start|>(100,66),(500,500)<|box_end|>"
    assert codec.parse("<|box_start|>(1001,0),(5,5)<|box_end|>", 100, 100).error == "out_of_range"
    assert codec.parse("<|box_start|>(10,10)<|box_end|>", 100, 100).error == "malformed"
    assert codec.parse("no box here", 100, 100).error == "no_match"
    assert codec.parse("<|box_start|>(0,0),(1000,1000)<|box_end|>", 50, 80).boxes == ((0.0, 0.0, 50.0, 80.0),)


def test_smart_resize_matches_the_processor_rule():
    # Sides rounded to multiples of 28, area kept within [min_pixels, max_pixels].
    assert smart_resize(1000, 750) == (1008, 756)
    assert smart_resize(20, 20) == (56, 56)  # raised to min_pixels 56 * 56
    w, h = smart_resize(8000, 6000)
    assert w * h <= 12845056 and w % 28 == 0 and h % 28 == 0


def test_qwen25vl_reads_the_cookbook_json_in_input_pixels():
    # The cookbook's answer shape: a fenced JSON list of {"bbox_2d": [x1, y1, x2, y2], "label": ...}, in pixels
    # of the resized input (1008 x 756 for a 1000 x 750 photo).
    text = '```json\n[\n\t{"bbox_2d": [126, 189, 504, 567], "label": "cake"}\n]\n```'
    result = formats.get("qwen25vl").parse(text, 1000, 750)
    assert result.ok and result.labels == ("cake",)
    assert result.boxes[0] == pytest.approx((125.0, 187.5, 500.0, 562.5))
    label_first = '[{"label": "cake", "bbox_2d": [126, 189, 504, 567]}]'
    assert formats.get("qwen25vl").parse(label_first, 1000, 750).labels == ("cake",)


def test_qwen25vl_round_trip_and_errors():
    codec = formats.get("qwen25vl")
    text = codec.render_boxes([(125, 187.5, 500, 562.5)], 1000, 750, label="cake")
    assert text == '[{"bbox_2d": [126, 189, 504, 567], "label": "cake"}]'
    assert codec.parse('[{"bbox_2d": [0, 0, 2000, 10]}]', 1000, 750).error == "out_of_range"
    assert codec.parse('[{"bbox_2d": [1, 2, 3]}]', 1000, 750).error == "malformed"
    assert codec.parse('[{"bbox_2d": [50, 50, 10, 10]}]', 1000, 750).error == "degenerate"
