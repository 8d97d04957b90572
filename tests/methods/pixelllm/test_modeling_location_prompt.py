import math

import pytest
import torch

from groundlm.methods.pixelllm.modeling_location_prompt import FourierCodes, LocationPromptEncoder
from groundlm.models.config import HeadConfig
from groundlm.models.heads import build_head
from groundlm.models.vlm import GroundedVLM
from tests.models.conftest import tiny_config
from tests.models.test_vlm import _inputs


def test_fourier_codes_have_known_values():
    codes = FourierCodes(features=8, sigma=2.0, seed=3)
    b = codes.frequencies
    assert b.shape == (2, 4)
    centre = codes(torch.tensor([[0.5, 0.5]]))
    assert torch.equal(centre, torch.tensor([[0.0] * 4 + [1.0] * 4]))  # (2p - 1) = 0: sin 0, cos 1
    corner = codes(torch.tensor([1.0, 0.0]))  # 2p - 1 = (1, -1)
    angles = 2 * math.pi * (b[0] - b[1])
    assert torch.allclose(corner, torch.cat([angles.sin(), angles.cos()]), atol=1e-6)
    # Each (sin, cos) pair has unit length, wherever the point is.
    many = codes(torch.rand(100, 2))
    assert torch.allclose(many.pow(2).sum(-1), torch.full((100,), 4.0), atol=1e-5)
    assert torch.equal(FourierCodes(8, 2.0, 3).frequencies, b)  # fixed by the seed
    with pytest.raises(ValueError, match="even"):
        FourierCodes(features=7)


def test_location_prompt_tokens_depend_on_the_box_and_its_type():
    torch.manual_seed(0)
    enc = LocationPromptEncoder(vision_hidden=16, lm_width=24, tokens=3, width=32, heads=4, features=16).eval()
    feats = torch.randn(2, 9, 16)
    boxes = [torch.tensor([[0.0, 0.0, 16.0, 16.0], [4.0, 4.0, 28.0, 20.0]]), torch.zeros(0, 4)]
    out = enc(feats, boxes, image_size=32)
    assert out.shape == (2, 3, 24) and enc.tokens_per_region == 3
    # The same box on the same image gives the same tokens; another box other tokens.
    again = enc(feats[:1], [boxes[0][:1]], 32)
    assert torch.allclose(again[0], out[0], atol=1e-6) and not torch.allclose(out[0], out[1])
    # A zero-size box is a point: both corners carry the point type embedding.
    point = enc.prompt_tokens(torch.tensor([[8.0, 8.0, 8.0, 8.0]]), 32)
    code = enc.code_proj(enc.codes(torch.tensor([0.25, 0.25])))
    assert torch.allclose(point[0, 0], code + enc.types.weight[2], atol=1e-6)
    corners = enc.prompt_tokens(torch.tensor([[8.0, 8.0, 16.0, 24.0]]), 32)
    assert torch.allclose(corners[0, 1], enc.code_proj(enc.codes(torch.tensor([0.5, 0.75]))) + enc.types.weight[1])
    assert enc(feats, [torch.zeros(0, 4), torch.zeros(0, 4)], 32).shape == (0, 3, 24)


def test_a_location_prompt_changes_the_answer_only_through_its_tokens():
    torch.manual_seed(0)
    model = GroundedVLM(tiny_config(region_encoder="location_prompt", region_grid=2)).eval()
    assert model.region_tokens == 4
    ids, mask, pixels, boxes = _inputs(model, regions=1)
    other = [b + torch.tensor([4.0, 1.0, 6.0, 2.0]) for b in boxes]
    with torch.no_grad():
        a = model(ids, mask, pixels, region_boxes=boxes).logits
        b = model(ids, mask, pixels, region_boxes=other).logits
    first = int((ids[0] == model.region_token_id).nonzero()[0])
    # A causal LM: every position before the prompt's tokens is untouched; the prompt's tokens change the rest.
    assert torch.equal(a[:, :first], b[:, :first])
    assert not torch.allclose(a[:, first:], b[:, first:])


def test_point_head_is_a_pre_norm_mlp_into_the_unit_square():
    head = build_head(HeadConfig(kind="point", out_dim=2, loss="l1"), width=16)
    layers = [m for m in head.mlp if isinstance(m, torch.nn.Linear)]
    assert isinstance(head.mlp[0], torch.nn.LayerNorm) and len(layers) == 4
    assert sum(isinstance(m, torch.nn.GELU) for m in head.mlp) == 3
    out = head(100 * torch.randn(2, 5, 16)).detach()
    assert out.shape == (2, 5, 2) and float(out.min()) >= 0 and float(out.max()) <= 1
