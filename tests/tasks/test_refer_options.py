import numpy as np
import pytest

from groundlm.data.synth.generate import generate
from groundlm.tasks import build_task


@pytest.fixture(scope="module")
def sample():
    return generate(7, 0, "portrait", 64).sample


def test_query_first_puts_the_question_before_the_image(sample):
    item = sample.referring[0]
    ex = build_task("refer", query_first=True).example(sample, item, None)
    assert ex.prompt.endswith("<image>") and item.text in ex.prompt
    assert build_task("refer").example(sample, item, None).prompt.startswith("<image>")


def test_box_and_cell_targets_describe_the_referred_entity(sample):
    task = build_task("refer", box_head="box", cell_head="cells", cell_grid=8)
    for item in sample.referring:
        ex = task.example(sample, item, None)
        region = sample.regions[item.region]
        x0, y0, x1, y1 = region.box
        np.testing.assert_allclose(ex.targets["box"], [[x0 / 64, y0 / 64, x1 / 64, y1 / 64]], rtol=1e-6)
        shares = ex.image_targets["cells"]
        assert shares.shape == (64, 1) and shares.min() >= 0 and shares.max() <= 1
        # The shares add up to the entity's area in cells (8 x 8 pixels each at 64 px).
        area = (sample.load_mask() == region.mask_id).sum() / 64
        assert shares.sum() == pytest.approx(area, abs=1e-6)
        # No cell outside the box holds any of it.
        grid = shares.reshape(8, 8)
        ys, xs = np.nonzero(grid)
        assert xs.min() >= int(x0 // 8) and xs.max() <= int((x1 - 1e-6) // 8)
        assert ys.min() >= int(y0 // 8) and ys.max() <= int((y1 - 1e-6) // 8)
