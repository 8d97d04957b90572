import csv
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from groundlm import data
from groundlm.data.sample import Sample, Utterance
from groundlm.inference.collate import Collator
from groundlm.methods.pixelllm.task_narrate import NarrateTask, narrative_text, word_points
from groundlm.models.tokenizer import load_tokenizer
from tests.train.conftest import tiny_split, tiny_train_config  # noqa: F401  (the fixture)


def _sample() -> Sample:
    first = Utterance("a red cube", 0.0, 3.0, [(0.1, 0.2, 0.4), (0.5, 0.5, 1.6), (0.9, 0.8, 2.6)])
    second = Utterance("then sky", 3.0, 4.0, [])
    return Sample(id="s", width=10, height=10, narrative=[first, second])


def test_each_word_takes_the_trace_point_nearest_its_moment():
    u = _sample().narrative[0]
    # Three words over 0-3 s: moments 0.5, 1.5 and 2.5 s -> trace points at 0.4, 1.6 and 2.6 s.
    assert word_points(u, 3) == [(0.1, 0.2), (0.5, 0.5), (0.9, 0.8)]
    assert word_points(_sample().narrative[1], 2) == [None, None]
    text, spans, points, regions = narrative_text(_sample().narrative)
    assert text == "a red cube, then sky."
    assert [text[a:b] for a, b in spans] == ["a", "red", "cube", "then", "sky"]
    assert points == [(0.1, 0.2), (0.5, 0.5), (0.9, 0.8), None, None] and regions == [-1] * 5


def test_every_token_of_a_word_gets_its_point_and_the_rest_none():
    task = NarrateTask(point_head="point")
    ex = task.example(_sample(), 0, None)
    collator = Collator(load_tokenizer(None), image_size=32, image_tokens=4, region_tokens=4)
    rows = collator._span_rows(ex.target, ex.targets["point"])
    enc = collator.tokenizer(ex.target, add_special_tokens=False, return_offsets_mapping=True)
    assert rows.shape == (len(enc.input_ids) + 1, 2) and bool(rows[-1].isnan().all())  # the end token has none
    for (a, b), row in zip(enc.offset_mapping, rows):
        piece = ex.target[a:b].strip(" ,.")
        expected = {"a": (0.1, 0.2), "red": (0.5, 0.5), "cube": (0.9, 0.8)}.get(piece)
        if expected is None:
            assert bool(row.isnan().all()), piece
        else:
            assert tuple(round(float(v), 4) for v in row) == expected, piece


def test_narrate_trains_its_point_head(tmp_path, tiny_split):  # noqa: F811
    from groundlm.train.config import load_config
    from groundlm.train.loop import train

    ds = data.load(f"spatialworld:{tiny_split / 'train'}")
    assert NarrateTask().items(ds[0]) == [0]
    path = tiny_train_config(
        tmp_path,
        tiny_split,
        tasks=[{"name": "narrate", "options": {"point_head": "point"}}],
        max_steps=6,
        save_every=0,
        eval_every=0,
        max_new_tokens=4,
        loss_weights={"lm": 1.0, "point": 0.1},
    )
    cfg = load_config(
        path, ["model.heads={point: {kind: point, out_dim: 2, loss: l1}}", "model.language.max_positions=512"]
    )
    train(cfg, progress=False)
    rows = [r for r in csv.DictReader((Path(cfg.run_dir) / "metrics.csv").open()) if r["kind"] == "train"]
    point = [float(r["value"]) for r in rows if r["key"] == "loss/point"]
    assert len(point) == 6 and all(math.isfinite(v) and v > 0 for v in point)
    assert np.mean(point[-2:]) < np.mean(point[:2])


def test_span_targets_must_match_their_spans():
    from groundlm.tasks.base import SpanTargets

    with pytest.raises(ValueError, match="2 spans for 1"):
        SpanTargets([(0, 1), (2, 3)], np.zeros((1, 2)))


def test_word_points_are_read_as_the_mean_over_each_words_tokens(tiny_split):  # noqa: F811
    from torch import nn

    from groundlm.inference.images import ImageCache
    from groundlm.inference.points import span_outputs
    from groundlm.models.config import HeadConfig
    from groundlm.models.vlm import GroundedVLM
    from tests.models.conftest import tiny_config

    class Position(nn.Module):  # outputs each position's index, twice
        def forward(self, hidden):
            t = torch.arange(hidden.shape[1], dtype=hidden.dtype)
            return t[None, :, None].expand(hidden.shape[0], -1, 2)

    torch.manual_seed(0)
    model = GroundedVLM(tiny_config(heads={"point": HeadConfig(kind="point", out_dim=2)}))
    model.heads["point"] = Position()
    task = NarrateTask(point_head="point")
    ds = data.load(f"spatialworld:{tiny_split / 'val'}")
    examples = [task.example(s, 0, None) for s in ds if task.items(s)][:2]
    collator = Collator.for_model(model)
    collator.max_length = 10_000
    read = span_outputs(model, collator, examples, ImageCache(), "point")
    for ex, points in zip(examples, read):
        owners = collator.span_tokens(ex.target, ex.targets["point"].spans)
        start = collator.prompt_length(ex) - 1
        for k in range(len(points)):
            positions = [start + j for j, o in enumerate(owners) if o == k]
            assert points[k, 0] == pytest.approx(np.mean(positions)), k
    metrics = task.trace_score(read, examples)
    assert metrics["words"] == sum(len(ex.targets["point"].spans) for ex in examples)
