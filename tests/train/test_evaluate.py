import torch

from groundlm.data import load
from groundlm.inference.collate import Collator
from groundlm.models.losses import token_loss_sum
from groundlm.models.vlm import GroundedVLM
from groundlm.tasks import build_task
from groundlm.train.evaluate import image_dependence
from groundlm.train.stream import ImageCache, evaluation_examples

from ..models.conftest import tiny_config


def _setup(tiny_split, **config):
    torch.manual_seed(0)
    model = GroundedVLM(tiny_config(**config)).eval()
    split = load(f"spatialworld:{tiny_split / 'train'}")
    examples = evaluation_examples(split, build_task("refer"), 6)
    return model, Collator.for_model(model), examples


def test_image_dependence_loss_is_the_teacher_forced_loss(tiny_split):
    model, collator, examples = _setup(tiny_split, patch_position="sincos")
    images = ImageCache()
    out = image_dependence(model, collator, examples, images)
    batch = collator.train_batch(examples, [images.get(e.sample) for e in examples])
    labels = batch.pop("labels")
    with torch.no_grad():
        total = token_loss_sum(model(**batch).logits, labels)
    assert abs(out["loss"] - float(total) / int((labels[:, 1:] != -100).sum())) < 1e-5
    assert out["image_gain"] == out["loss_other_image"] - out["loss"]
    assert abs(out["image_gain"]) > 0  # a random model's answers already move with the image


def test_image_dependence_is_zero_when_the_image_cannot_matter(tiny_split):
    model, collator, examples = _setup(tiny_split)
    with torch.no_grad():
        model.projector[-1].weight.zero_()
        model.projector[-1].bias.zero_()  # every image becomes the same (zero) tokens
    out = image_dependence(model, collator, examples, ImageCache())
    assert abs(out["image_gain"]) < 1e-6
    assert image_dependence(model, collator, examples[:1], ImageCache()) == {}
