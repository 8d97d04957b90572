"""Browser tests drive the served page in headless Chromium (Debian's chromium and chromedriver). ``make
browser-test`` installs what they need and runs them; ``make test`` does not collect them."""

import os

import numpy as np
import pytest
import torch
from PIL import Image

from groundlm.data.sample import Sample
from groundlm.inference.collate import Collator
from groundlm.inference.model import GroundedModel
from groundlm.inference.predict import AnswerOptions, Query, predict_batch
from groundlm.models.vlm import GroundedVLM
from groundlm.serve import ModelService, create_app, running_server
from groundlm.serve.browser import headless_chromium
from groundlm.serve.samples import built_in_samples
from groundlm.tasks import ReferTask
from groundlm.tasks.base import Example

from ..models.conftest import tiny_config

TAUGHT_ANSWER = "[[150,200,650,800]]"  # CogVLM's 000-999 box syntax


# Collected only under `make browser-test`, which installs selenium and the browser first.
if os.environ.get("GROUNDLM_BROWSER_TESTS") != "1":
    collect_ignore_glob = ["test_*.py"]


def taught_model() -> GroundedVLM:
    """A tiny model taught one refer answer, :data:`TAUGHT_ANSWER`, whatever it is asked: a real model whose
    answer the page must draw in a known place."""
    torch.manual_seed(0)
    model = GroundedVLM(tiny_config())
    collator = Collator.for_model(model)
    task = ReferTask("cogvlm", query_first=True)
    rng = np.random.default_rng(0)
    noise = [Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)) for _ in range(12)]
    noise += [Image.new("RGB", (32, 32), tuple(int(v) for v in rng.integers(0, 256, 3))) for _ in range(12)]
    words = ["the", "a", "red", "green", "white", "cube", "sphere", "person", "left", "right", "largest", "shirt"]
    # Queries of many lengths, so that the answer does not hang on where the prompt ends.
    queries = [" ".join(rng.choice(words, size=int(rng.integers(1, 9)))) for _ in noise]
    examples = [
        Example(task.prompt(q), TAUGHT_ANSWER, Sample(id=str(i), width=32, height=32)) for i, q in enumerate(queries)
    ]
    batch = collator.train_batch(examples, noise)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(200):
        loss = model(**batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    unseen = [Query(Image.new("RGB", (160, 120), (200, 30, 30)), "refer", "something else")]
    unseen.append(Query(noise[0], "refer", "a"))
    check = predict_batch(model, unseen, AnswerOptions(query_first=True))
    assert [c["text"] for c in check] == [TAUGHT_ANSWER] * 2, check
    return model


@pytest.fixture(scope="package")
def page_url():
    trained = {"refer": {"format": "cogvlm", "query_first": True}, "region_caption": {}}
    service = ModelService(GroundedModel.of(taught_model(), trained), "taught-tiny")
    app = create_app(service, max_batch=4, wait_ms=5, samples=built_in_samples(size=128))
    with running_server(app) as url:
        yield url


@pytest.fixture
def browser(tmp_path):
    try:
        driver = headless_chromium(tmp_path / "chromium")
    except FileNotFoundError as err:
        pytest.fail(str(err))
    try:
        yield driver
    finally:
        driver.quit()
