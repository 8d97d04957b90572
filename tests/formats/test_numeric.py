import math

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import LogitsProcessor

from groundlm.data.sample import Head, Sample
from groundlm.formats.numeric import NumericDecoding, combine
from groundlm.inference.collate import Collator
from groundlm.methods.hpe_cogvlm.task_pose import PosePrediction, PoseTask
from groundlm.tasks import ReferTask
from groundlm.tasks.base import Example
from groundlm.train.evaluate import predict_examples
from groundlm.train.stream import ImageCache

from ..models.conftest import tiny_model  # noqa: F401


def test_combine_is_elementwise_and_skips_failed_answers():
    values = [(0, 10, 4), None, (2, 20, 5), (4, 90, 6)]
    assert combine(values, "mean") == pytest.approx((2, 40, 5))
    assert combine(values, "median") == pytest.approx((2, 20, 5))
    assert combine(values, "greedy") == (0, 10, 4)
    assert combine([None, None], "mean") is None
    with pytest.raises(ValueError):
        combine(values, "mode")
    with pytest.raises(ValueError):
        NumericDecoding("average")
    with pytest.raises(ValueError):
        NumericDecoding("mean", samples=0)


def test_tasks_combine_ok_answers_only():
    ok = [
        PosePrediction((0, 0, 10, 10), (10.0, 0.0, 0.0), "ok"),
        PosePrediction((2, 2, 12, 12), (30.0, 2.0, 4.0), "ok"),
    ]
    bad = PosePrediction((5, 5, 6, 6), None, "blended", "missing_pose")
    got = PoseTask().combine([bad, *ok], "mean")
    assert got.kind == "ok" and got.pose == pytest.approx((20.0, 1.0, 2.0)) and got.box == pytest.approx((1, 1, 11, 11))
    assert PoseTask().combine([bad], "mean") is bad
    assert ReferTask().combine([None, (0, 0, 4, 4), (2, 2, 6, 6)], "median") == pytest.approx((1, 1, 5, 5))


class ScriptedAnswer(LogitsProcessor):
    """A constructed model: whatever the network computes, the next token follows one answer string, except at
    one digit, which is drawn from a known distribution."""

    def __init__(self, tokenizer, template: str, digits: dict[str, float]) -> None:
        self.rows = {d: tokenizer(template.format(d), add_special_tokens=False).input_ids for d in digits}
        first = next(iter(self.rows.values()))
        assert all(len(r) == len(first) for r in self.rows.values())
        self.slot = next(i for i in range(len(first)) if len({r[i] for r in self.rows.values()}) > 1)
        self.digits = {self.rows[d][self.slot]: p for d, p in digits.items()}
        self.tokens = [*first, tokenizer.eos_token_id]

    def __call__(self, input_ids, scores):
        t = input_ids.shape[1]
        out = torch.full_like(scores, -math.inf)
        if t == self.slot:
            for token, p in self.digits.items():
                out[:, token] = math.log(p)
        else:
            out[:, self.tokens[min(t, len(self.tokens) - 1)]] = 0.0
        return out


def test_sampled_decoding_recovers_the_mean_and_median_of_a_known_digit_distribution(tiny_model):  # noqa: F811
    # The yaw's tens digit is 1 with probability 0.6 and 7 with 0.4: yaw 10 or 70. Greedy writes the mode (10),
    # the mean of samples estimates the expectation (34) and the median the median (10).
    template = "[[100,100,500,500]] yaw:+{}0.0 pitch:-05.0 roll:+02.0"
    scripted = ScriptedAnswer(tiny_model.tokenizer, template, {"1": 0.6, "7": 0.4})
    sample = Sample(id="s", width=32, height=32, image_loader=lambda: Image.new("RGB", (32, 32)))
    head = Head((3.2, 3.2, 16.0, 16.0), 34.0, -5.0, 2.0)
    examples = [Example("<image>the head pose of the person", "", sample, answer=head)] * 2
    collator, images = Collator.for_model(tiny_model), ImageCache()

    def run(numeric):
        torch.manual_seed(0)
        return predict_examples(
            tiny_model, collator, PoseTask(), examples, images, 40, numeric=numeric, processors=[scripted]
        )

    greedy = run(NumericDecoding())
    assert [p.pose for p in greedy] == [(10.0, -5.0, 2.0)] * 2
    means = run(NumericDecoding("mean", samples=400))
    for p in means:
        assert p.kind == "ok" and abs(p.pose[0] - 34.0) < 6.0 and p.pose[1:] == pytest.approx((-5.0, 2.0))
        assert p.box == pytest.approx((3.2, 3.2, 16.0, 16.0))
    medians = run(NumericDecoding("median", samples=401))
    assert [p.pose[0] for p in medians] == [10.0, 10.0]
    assert np.isclose(PoseTask().score(means, examples)["yaw"], np.mean([abs(p.pose[0] - 34.0) for p in means]))
