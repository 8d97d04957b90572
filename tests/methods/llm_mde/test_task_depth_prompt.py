import numpy as np
import pytest

from groundlm.methods.llm_mde.task_depth_prompt import depth_prompt, pixel_statistics


def test_pixel_statistics_of_a_known_image():
    image = np.zeros((2, 3, 3), dtype=np.uint8)
    image[:, :, 0] = 255  # red everywhere: brightness 1/3
    image[1, 2] = 255  # one white pixel: brightness 1
    s = pixel_statistics(image)
    assert s["min"] == pytest.approx(1 / 3) and s["max"] == pytest.approx(1.0) and s["median"] == pytest.approx(1 / 3)
    assert s["red"] == 1.0 and s["green"] == pytest.approx(1 / 6) and s["blue"] == pytest.approx(1 / 6)
    # Horizontal steps: 0, 0 / 0, 2/3 -> mean 1/6; vertical: 0, 0, 2/3 -> mean 2/9; their mean 7/36.
    assert s["gradient"] == pytest.approx(7 / 36)
    with pytest.raises(ValueError, match="RGB"):
        pixel_statistics(np.zeros((4, 4)))


def test_prompt_kinds():
    dark = np.full((8, 8, 3), 20, dtype=np.uint8)
    bright = np.full((8, 8, 3), 230, dtype=np.uint8)
    adaptive = depth_prompt(bright, "SpatialWorld rooms.", "kitchen")
    assert "median 0.90" in adaptive and adaptive.endswith("Category: kitchen.") and "Task:" in adaptive
    assert depth_prompt(dark, "SpatialWorld rooms.", "kitchen") != adaptive  # it reads the image
    fixed = depth_prompt(dark, "SpatialWorld rooms.", "kitchen", kind="fixed")
    assert fixed == depth_prompt(bright, "SpatialWorld rooms.", "office", kind="fixed") and "median" not in fixed
    assert depth_prompt(dark, "x", kind="none") == ""
    with pytest.raises(ValueError, match="adaptive"):
        depth_prompt(dark, "x", kind="rich")
