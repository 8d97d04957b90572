import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from groundlm.models import heads as heads_module
from groundlm.models.vlm import GroundedVLM
from groundlm.tasks import TASKS
from groundlm.tasks.refer import ReferTask
from groundlm.train.config import load_config
from groundlm.train.loop import train

from .conftest import tiny_train_config


class CentreOffset(nn.Module):
    """A dummy head kind: a linear map plus a learned offset."""

    def __init__(self, width: int, out_dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(width, out_dim)
        self.offset = nn.Parameter(torch.zeros(out_dim))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.linear(hidden) + self.offset


class ReferWithCentre(ReferTask):
    """Refer, with the referred box's centre (normalised) as the target of the answer's first token."""

    name = "refer_centre"

    def example(self, sample, item, rng):
        ex = super().example(sample, item, rng)
        x0, y0, x1, y1 = sample.regions[item.region].box
        ex.targets = {"centre": np.array([[(x0 + x1) / 2 / sample.width, (y0 + y1) / 2 / sample.height]])}
        return ex


@pytest.fixture
def dummy_head(monkeypatch):
    monkeypatch.setitem(heads_module.HEADS, "centre_offset", lambda cfg, width: CentreOffset(width, cfg.out_dim))
    monkeypatch.setitem(TASKS, "refer_centre", ReferWithCentre)


def test_two_steps_with_a_registered_head_and_loss_weight_then_reload_from_config(tmp_path, tiny_split, dummy_head):
    path = tiny_train_config(
        tmp_path,
        tiny_split,
        tasks=[{"name": "refer_centre"}],
        max_steps=2,
        save_every=2,
        eval_every=0,
        loss_weights={"lm": 1.0, "centre": 0.5},
    )
    cfg = load_config(path, ["model.heads={centre: {kind: centre_offset, out_dim: 2, loss: mse}}"])
    train(cfg, progress=False)

    rows = [r for r in csv.DictReader((Path(cfg.run_dir) / "metrics.csv").open()) if r["kind"] == "train"]
    for step in ("1", "2"):
        values = {r["key"]: float(r["value"]) for r in rows if r["step"] == step}
        assert values["loss/centre"] > 0 and values["loss/lm"] > 0
        assert values["loss"] == pytest.approx(values["loss/lm"] + 0.5 * values["loss/centre"], rel=1e-5)

    final = Path(cfg.run_dir) / "final"
    loaded = GroundedVLM.from_pretrained(final)  # config.json alone names the head
    assert isinstance(loaded.heads["centre"], CentreOffset)
    assert loaded.config.heads["centre"].loss == "mse"
    trained = GroundedVLM.from_pretrained(Path(cfg.run_dir) / "checkpoints" / "step-2")
    assert float(trained.heads["centre"].offset.detach().abs().sum()) > 0  # the head's loss reached it
    for k, v in trained.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k]), k


def test_a_loss_weight_for_a_loss_the_model_lacks_is_refused(tmp_path, tiny_split):
    from groundlm.errors import UserError

    cfg = load_config(tiny_train_config(tmp_path, tiny_split, loss_weights={"lm": 1.0, "depth": 1.0}))
    with pytest.raises(UserError, match="no loss named depth"):
        train(cfg, progress=False)
