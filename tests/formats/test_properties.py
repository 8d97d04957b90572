"""Properties every codec must have: parsing never raises, and render -> parse round-trips."""

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from groundlm import formats
from groundlm.formats.base import ERROR_KINDS

CODECS = formats.names()
# One quantisation step per format, as a fraction of the image side.
STEP = {
    "cogvlm": 1 / 1000,
    "pose": 1 / 1000,
    "qwen": 1 / 999,
    "florence2": 1 / 1000,
    "kosmos2": 1 / 32,
    "shikra": 0.0005,
    "ferret": 1 / 1000,
    "paligemma": 1 / 1024,
    "qwen2vl": 1 / 1000,
    # Pixels of the resized model input, whose side is at least 28 (half a pixel of 28 at worst).
    "qwen25vl": 1 / 56,
}
# Pieces of every family's syntax, so that random strings are near-misses rather than noise.
TOKENS = [
    "[[",
    "]]",
    "[",
    "]",
    ",",
    ";",
    "(",
    ")",
    " ",
    "0",
    "7",
    "999",
    "1000",
    "-",
    ".",
    "0.5",
    "1e9",
    "nan",
    "<box>",
    "</box>",
    "<ref>",
    "</ref>",
    "<|box_start|>",
    "<|box_end|>",
    "<|object_ref_start|>",
    '{"bbox_2d": [',
    '"label": "',
    "<loc_",
    "<loc",
    ">",
    "<object>",
    "</object>",
    "<patch_index_0044>",
    "<patch_index_9999>",
    "</delimiter_of_multi_objects/>",
    "<phrase>",
    "</phrase>",
    "yaw:",
    "pitch:",
    "roll:",
    "+12.5",
    "-181",
    "99999999999999999999",
    "\n",
    "é",
    "\x00",
]
adversarial = st.lists(st.sampled_from(TOKENS), max_size=40).map("".join)
sizes = st.tuples(st.integers(1, 4000), st.integers(1, 4000))


@pytest.mark.parametrize("name", CODECS)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(st.text(max_size=200), adversarial), size=sizes)
def test_parse_never_raises(name, text, size):
    result = formats.get(name).parse(text, *size)
    assert result.error is None or result.error in ERROR_KINDS
    for box in result.boxes:
        assert all(math.isfinite(v) for v in box)
        assert box[2] > box[0] and box[3] > box[1]


@st.composite
def box_on_image(draw):
    w, h = draw(sizes.filter(lambda s: s[0] >= 64 and s[1] >= 64))
    # At least three grid cells wide, so that no format collapses the box to a line.
    fx0 = draw(st.floats(0.0, 0.85))
    fy0 = draw(st.floats(0.0, 0.85))
    fx1 = draw(st.floats(fx0 + 0.1, 1.0))
    fy1 = draw(st.floats(fy0 + 0.1, 1.0))
    return (w, h), (fx0 * w, fy0 * h, fx1 * w, fy1 * h)


@pytest.mark.parametrize("name", CODECS)
@settings(max_examples=200, deadline=None)
@given(sample=box_on_image())
def test_render_parse_round_trip_within_one_step(name, sample):
    (w, h), box = sample
    codec = formats.get(name)
    text = formats.render_pose(box, 10.0, -20.0, 30.0, w, h) if name == "pose" else codec.render_boxes([box], w, h)
    result = codec.parse(text, w, h)
    assert result.ok, (text, result)
    (got,) = result.boxes
    step = STEP[name]
    for v, g, extent in zip(box, got, (w, h, w, h)):
        assert abs(v - g) <= step * extent + 1e-9, (name, text, box, got)


@pytest.mark.parametrize("name", [n for n in CODECS if formats.get(n).supports_points])
@settings(max_examples=100, deadline=None)
@given(size=sizes, fx=st.floats(0, 1), fy=st.floats(0, 1))
def test_points_round_trip(name, size, fx, fy):
    w, h = size
    codec = formats.get(name)
    result = codec.parse(codec.render_points([(fx * w, fy * h)], w, h), w, h)
    (got,) = result.points
    assert abs(got[0] - fx * w) <= STEP[name] * w + 1e-9 and abs(got[1] - fy * h) <= STEP[name] * h + 1e-9
