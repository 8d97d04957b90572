"""Re-reading pose answers: the head box, then that box's region tokens, then the angles."""

import re

import numpy as np
import torch

from groundlm import data, formats
from groundlm.data.synth.writer import write_split
from groundlm.formats.numeric import NumericDecoding
from groundlm.formats.pose import PoseCodec
from groundlm.inference.collate import IGNORE, Collator
from groundlm.methods.hpe_cogvlm.task_pose import PoseTask
from groundlm.models.tokenizer import REGION_TOKEN
from groundlm.train.evaluate import generate_texts, predict_examples
from groundlm.train.stream import ImageCache
from tests.models.conftest import tiny_model  # noqa: F401


def _examples(tmp_path, rng):
    write_split(tmp_path / "hs", 3, seed=0, size=32, domain="headshot", progress=False)
    task = PoseTask(reread=True)
    samples = [s for s in data.load(f"spatialworld:{tmp_path / 'hs'}") if task.items(s)]
    return task, [task.example(s, task.items(s)[0], rng) for s in samples]


def test_teacher_forcing_reads_the_true_head_and_does_not_predict_placeholders(tmp_path, tiny_model):  # noqa: F811
    _, examples = _examples(tmp_path, np.random.default_rng(0))
    e = examples[0]
    assert e.target.count(REGION_TOKEN) == 1 and e.region_boxes == [e.answer.box]
    collator = Collator.for_model(tiny_model)
    batch = collator.train_batch(examples, [ex.sample.load_image() for ex in examples])
    region_id = tiny_model.region_token_id
    placeholders = batch["input_ids"] == region_id
    assert int(placeholders.sum()) == len(examples) * tiny_model.region_tokens
    assert (batch["labels"][placeholders] == IGNORE).all()
    # Every other target token is a label, the answer's text intact around the marker.
    text = tiny_model.tokenizer.decode(
        [t for t in batch["labels"][0].tolist() if t != IGNORE], skip_special_tokens=True
    )
    assert text == e.target.replace(REGION_TOKEN, "")
    loss = tiny_model(**{k: v for k, v in batch.items()}).loss
    loss.backward()
    assert tiny_model.region_encoder.proj[0].weight.grad.abs().sum() > 0  # the re-read region is used


def test_generation_inserts_the_region_of_its_own_box(tmp_path, tiny_model, monkeypatch):  # noqa: F811
    task, examples = _examples(tmp_path, None)
    collator, images = Collator.for_model(tiny_model), ImageCache()
    seen = []
    original = collator.generation_batch

    def spy(chunk, imgs):
        seen.extend((e.answer_prefix, [tuple(b) for b in e.region_boxes]) for e in chunk)
        return original(chunk, imgs)

    monkeypatch.setattr(collator, "generation_batch", spy)
    texts = generate_texts(tiny_model, collator, examples, images, max_new_tokens=40, constrain="pose")
    assert len(texts) == len(examples)
    second = seen[len(examples) :]
    for text, (prefix, boxes), e in zip(texts, second, examples):
        box_text = prefix.replace(REGION_TOKEN, "")
        assert text.startswith(box_text) and len(boxes) == 1
        parsed = formats.get("cogvlm").parse(box_text, e.sample.width, e.sample.height).boxes
        # An untrained model may write a degenerate box: the whole image is read instead.
        expected = parsed[0] if parsed else (0, 0, e.sample.width, e.sample.height)
        np.testing.assert_allclose(boxes[0], expected, atol=1e-4)
        assert re.fullmatch(r"\[\[\d{3},\d{3},\d{3},\d{3}\]\]", box_text)  # constrained: box, then angles
        assert re.fullmatch(PoseCodec.angles_pattern, text[len(box_text) :])
    torch.manual_seed(0)
    preds = predict_examples(
        tiny_model, collator, task, examples, images, 40, numeric=NumericDecoding("mean", samples=3)
    )
    assert len(preds) == len(examples) and all(p.kind in ("ok", "unparsed") for p in preds)
