import numpy as np
import pytest

from groundlm import formats
from groundlm.data.synth.generate import generate
from groundlm.tasks import build_task
from groundlm.train.stream import ExampleStream


@pytest.fixture(scope="module")
def samples():
    from groundlm.data.dataset import SampleDataset

    return SampleDataset([generate(5, i, "portrait", 96).sample for i in range(6)], "test")


def test_refer_example_targets_parse_back_to_the_box(samples):
    task = build_task("refer", format="qwen")
    for s in samples:
        for item in task.items(s):
            ex = task.example(s, item, np.random.default_rng(0))
            assert ex.prompt.startswith("<image>") and item.text in ex.prompt
            box = task.decode(ex.target, ex)
            assert np.allclose(box, s.regions[item.region].box, atol=s.width / 999 + 1e-6)
    metrics = task.score([task.decode(e.target, e) for e in [ex]], [ex])
    assert metrics["acc50"] == 1.0


def test_region_caption_example(samples):
    task = build_task("region_caption")
    s = samples[0]
    (region, *_) = task.items(s)
    ex = task.example(s, region, None)
    assert ex.prompt.count("<region>") == 1 and ex.region_boxes == [region.box] and ex.target == region.captions[0]
    with pytest.raises(ValueError, match="unknown task"):
        build_task("segment")


def test_stream_is_a_pure_function_of_seed_and_index(samples):
    tasks = [build_task("refer"), build_task("region_caption")]
    a = ExampleStream(samples, tasks, [3, 1], seed=7)
    b = ExampleStream(samples, tasks, [3, 1], seed=7)
    assert [a.example(i).prompt for i in range(30)] == [b.example(i).prompt for i in reversed(range(30))][::-1]
    assert [e.target for e in a.batch(10, 5)] == [a.example(i).target for i in range(10, 15)]
    kinds = [("<region>" in a.example(i).prompt) for i in range(400)]
    assert 0.15 < np.mean(kinds) < 0.35  # about 1 in 4 examples is a region caption
    assert formats.get("cogvlm").parse(a.example(0).target, 96, 96).ok or "<region>" in a.example(0).prompt
    with pytest.raises(ValueError, match="weight"):
        ExampleStream(samples, tasks, [1, -1], seed=0)


def test_grounded_list_names_and_boxes_every_object(samples):
    task = build_task("grounded_list", format="cogvlm")
    s = next(s for s in samples if task.items(s))
    (item,) = task.items(s)
    ex = task.example(s, item, None)
    objects = [r for r in s.regions if r.category != "head"]
    assert ex.target.count("[[") == len(objects)
    xs = [b[0] + b[2] for _, b in ex.answer]
    assert xs == sorted(xs)  # left to right
    assert task.score([task.decode(ex.target, ex)], [ex]) == {"n": 1, "recall50": 1.0, "precision50": 1.0}
    wrong = [(noun + "x", box) for noun, box in task.decode(ex.target, ex)]
    assert task.score([wrong], [ex])["recall50"] == 0.0  # a box only counts with the right noun


def test_pose_targets_parse_back_and_answers_are_sorted_by_kind():
    from groundlm.data.dataset import SampleDataset

    samples = SampleDataset([generate(3, i, "headshot", 96).sample for i in range(6)], "test")
    task = build_task("pose")
    examples = [task.example(s, item, None) for s in samples for item in task.items(s)]
    assert len(examples) >= 6  # every headshot scene has a person
    ex = examples[0]
    assert ex.prompt.startswith("<image>") and "person" in ex.prompt
    good = task.decode(ex.target, ex)
    head = ex.answer
    assert good.kind == "ok" and np.allclose(good.pose, (head.yaw, head.pitch, head.roll), atol=0.051)
    detection_only = task.decode(ex.target.split("]]")[0] + "]]", ex)
    two_boxes = task.decode("[[100,100,200,200;300,300,400,400]] yaw:+1.0 pitch:+2.0 roll:+3.0", ex)
    out_of_range = task.decode("[[100,100,200,200]] yaw:+181.0 pitch:+2.0 roll:+3.0", ex)
    garbage = task.decode("the person", ex)
    assert [p.kind for p in (detection_only, two_boxes, out_of_range)] == ["blended"] * 3
    assert garbage.kind == "unparsed" and garbage.pose is None
    m = task.score([good, detection_only, garbage, good], examples[:1] * 4)
    assert m["invalid"] == 0.5 and m["blended"] == 0.25 and m["unparsed"] == 0.25
    assert m["mae"] < 0.06 and m["box_acc50"] == 0.75  # the detection-only answer has the right box too


def test_region_caption_can_write_its_box_as_text_instead_of_region_tokens():
    from groundlm.data.sample import Region, Sample
    from groundlm.tasks import RegionCaptionTask

    sample = Sample(id="s", width=200, height=100, regions=[Region(box=(20.0, 10.0, 120.0, 60.0), category="cube")])
    sample.regions[0].captions = ["a red cube"]
    item = RegionCaptionTask().items(sample)[0]
    tokens = RegionCaptionTask().example(sample, item, None)
    assert "<region>" in tokens.prompt and tokens.region_boxes == [(20.0, 10.0, 120.0, 60.0)]
    text = RegionCaptionTask(box_as_text="cogvlm").example(sample, item, None)
    assert text.prompt == "<image>Describe the region [[100,100,600,600]]." and text.region_boxes == []
    assert text.target == tokens.target == "a red cube" and text.answer == ["a red cube"]
