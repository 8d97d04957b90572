import pytest
import torch
from torch import nn

from groundlm.models import region as region_module
from groundlm.models.config import HeadConfig, VLMConfig
from groundlm.models.heads import build_head
from groundlm.models.losses import IGNORE, regression_loss_sum, token_loss_sum
from groundlm.models.region import RoIRegionEncoder
from groundlm.models.vlm import GroundedVLM

from .conftest import tiny_config
from .test_vlm import _inputs


def test_heads_are_built_from_the_config_and_unknown_names_list_the_known():
    assert isinstance(build_head(HeadConfig("linear", out_dim=3), 16), nn.Linear)
    mlp = build_head(HeadConfig("mlp", out_dim=2, hidden=8), 16)
    assert mlp(torch.zeros(4, 5, 16)).shape == (4, 5, 2)
    with pytest.raises(ValueError, match="known: linear, mlp"):
        build_head(HeadConfig("nope"), 16)
    with pytest.raises(ValueError, match="head loss"):
        build_head(HeadConfig("linear", loss="huber-ish"), 16)
    # The config round-trips through its dict form, heads included.
    cfg = tiny_config(heads={"depth": HeadConfig("linear", out_dim=1)})
    again = VLMConfig.from_dict(cfg.to_dict())
    assert again.heads == cfg.heads and isinstance(again.heads["depth"], HeadConfig)


def test_forward_returns_named_losses():
    torch.manual_seed(0)
    model = GroundedVLM(tiny_config(heads={"point": HeadConfig("linear", out_dim=2)}))
    ids, mask, pixels, _ = _inputs(model)
    labels = ids.clone()
    labels[:, : model.image_tokens] = IGNORE
    target = torch.full((*ids.shape, 2), float("nan"))
    target[0, 3] = torch.tensor([0.25, 0.75])
    target[1, 5] = torch.tensor([0.5, 0.5])
    out = model(ids, mask, pixels, labels=labels, head_targets={"point": target})
    assert set(out.losses) == {"lm", "point"} and out.head_outputs["point"].shape == (*ids.shape, 2)
    n_tokens = int((labels[:, 1:] != IGNORE).sum())
    torch.testing.assert_close(out.losses["lm"], token_loss_sum(out.logits, labels) / n_tokens)
    # NaN rows are not scored: the head loss is the mean L1 over the two rows that hold a point.
    expected = regression_loss_sum(out.head_outputs["point"], target) / 2
    torch.testing.assert_close(out.losses["point"], expected)
    by_hand = (out.head_outputs["point"][0, 3] - target[0, 3]).abs().sum()
    by_hand = by_hand + (out.head_outputs["point"][1, 5] - target[1, 5]).abs().sum()
    torch.testing.assert_close(out.losses["point"], by_hand / 2)
    # A caller's normaliser replaces the batch count (the training loop gives global counts).
    halved = model(ids, mask, pixels, labels=labels, normalizers={"lm": 2.0 * n_tokens}).losses["lm"]
    torch.testing.assert_close(halved, out.losses["lm"] / 2)
    out.loss.backward()
    assert model.heads["point"].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="not a head"):
        model(ids, mask, pixels, head_targets={"depth": target})


def test_region_encoders_come_from_a_registry_and_see_the_pixels(monkeypatch):
    seen = {}

    class PixelPeek(RoIRegionEncoder):
        def forward(self, patch_features, boxes, image_size, pixels=None, **_):
            seen["pixels"] = pixels
            return super().forward(patch_features, boxes, image_size, pixels)

    monkeypatch.setitem(
        region_module.REGION_ENCODERS, "peek", lambda cfg, vision, width: PixelPeek(vision, width, cfg.region_grid)
    )
    torch.manual_seed(0)
    model = GroundedVLM(tiny_config(region_encoder="peek"))
    ids, mask, pixels, boxes = _inputs(model, regions=1)
    model(ids, mask, pixels, region_boxes=boxes)
    assert torch.equal(seen["pixels"], pixels)
    with pytest.raises(ValueError, match=r"known: .*roi"):
        GroundedVLM(tiny_config(region_encoder="nope"))


def test_from_pretrained_rebuilds_heads_and_region_encoder_from_config_alone(tmp_path):
    torch.manual_seed(0)
    model = GroundedVLM(tiny_config(region_grid=3, heads={"depth": HeadConfig("mlp", out_dim=1, hidden=8)})).eval()
    path = model.save_pretrained(tmp_path / "m")
    loaded = GroundedVLM.from_pretrained(path).eval()
    assert loaded.region_tokens == 9 and isinstance(loaded.heads["depth"], nn.Sequential)
    ids, mask, pixels, boxes = _inputs(model, regions=1)
    a = model(ids, mask, pixels, region_boxes=boxes)
    b = loaded(ids, mask, pixels, region_boxes=boxes)
    assert torch.equal(a.logits, b.logits) and torch.equal(a.head_outputs["depth"], b.head_outputs["depth"])
