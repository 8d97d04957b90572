import math

import numpy as np
import pytest
import torch
from PIL import Image

from groundlm.data.sample import Region, Sample
from groundlm.geometry.views import select_views
from groundlm.methods.dynrefer.inference_views import ViewPolicy
from groundlm.models.tokenizer import load_tokenizer
from groundlm.tasks import RegionCaptionTask


def _sample() -> tuple[Sample, Image.Image]:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    pixels[20:40, 30:50] = 255  # a bright region with a structured surround
    image = Image.fromarray(pixels)
    region = Region((30.0, 20.0, 50.0, 40.0), "cube", captions=["a white cube"], tags=["cube", "white"])
    other = Region((0.0, 0.0, 10.0, 10.0), "sphere", captions=["a sphere"], tags=["sphere", "blue"])
    return Sample("s0", 80, 60, regions=[region, other], image_loader=lambda: image), image


def test_selected_views_are_select_views_of_the_original_picture():
    sample, image = _sample()
    ex = RegionCaptionTask(image=False).example(sample, sample.regions[0], None)
    got = ViewPolicy(3).coefficients(ex, 0, image, training=False)
    want = select_views(image, sample.regions[0].box, 3)
    assert got == (0.0, *sorted(want.ts[1:]))


def test_training_views_come_from_the_example_and_inference_follows_the_policy():
    sample, image = _sample()
    ex = RegionCaptionTask().example(sample, sample.regions[0], np.random.default_rng(1))
    order = ex.extras["view_orders"][0]
    assert sorted(order) == pytest.approx([round(0.1 * i, 1) for i in range(1, 11)])
    assert ViewPolicy(3).coefficients(ex, 0, image, training=True) == (0.0, *sorted(order[:2]))
    assert ViewPolicy(3, "fixed", (0.8, 0.3)).coefficients(ex, 0, image, training=False) == (0.0, 0.3, 0.8)
    random = ViewPolicy(4, "random")
    first = random.coefficients(ex, 0, image, training=False)
    assert first == random.coefficients(ex, 0, image, training=False)  # seeded by the sample and the box
    assert len(set(first)) == 4 and first[0] == 0.0
    assert ViewPolicy(1).coefficients(ex, 0, image, training=True) == (0.0,)
    with pytest.raises(ValueError, match="view policy"):
        ViewPolicy(3, "best")


def test_batch_inputs_and_decoder_targets():
    sample, image = _sample()
    task = RegionCaptionTask(image=False)
    examples = [task.example(sample, r, np.random.default_rng(k)) for k, r in enumerate(sample.regions)]
    policy = ViewPolicy(2, source_size=48, tags=("cube", "sphere", "white"), contrastive=True)
    inputs = policy.inputs(examples, [image, image], (0.5,) * 3, (0.5,) * 3, training=True)
    assert inputs["region_views"].shape == (2, 2) and inputs["view_pixels"].shape == (2, 3, 48, 48)
    tok = load_tokenizer(None)
    targets = policy.targets(examples, tok)["region_targets"]
    assert torch.equal(targets["tag"], torch.tensor([[1.0, 0, 1], [0, 1, 0]]))  # unknown tags ("blue") ignored
    ids = targets["text_ids"][0][targets["text_mask"][0]].tolist()
    assert tok.decode(ids) == examples[0].target
    no_tags = RegionCaptionTask().example(sample, sample.regions[0], None)
    no_tags.extras["region_tags"] = []
    rows = policy.targets([no_tags], tok)["region_targets"]["tag"]
    assert all(math.isnan(v) for v in rows[0].tolist())
