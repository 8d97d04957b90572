import numpy as np
import pytest
import torch

from groundlm.geometry.roi_align import roi_align
from groundlm.geometry.views import view_boxes
from groundlm.methods.dynrefer.modeling_encoder import (
    MultiViewRegionEncoder,
    ViewAlignment,
    box_in_view,
    view_boxes_tensor,
    view_crops,
)
from groundlm.models.config import ViewsConfig
from groundlm.models.vlm import GroundedVLM
from tests.models.conftest import tiny_config


def test_zero_initialised_alignment_is_the_identity():
    torch.manual_seed(0)
    align = ViewAlignment(6)
    x_t, x_0 = torch.randn(3, 6, 4, 5), torch.randn(3, 6, 4, 5)
    assert torch.allclose(align(x_t, x_0), x_t, atol=1e-6)
    # Once the offsets are trained away from zero, the features move.
    torch.nn.init.normal_(align.offset.bias, std=0.5)
    assert not torch.allclose(align(x_t, x_0), x_t, atol=1e-3)


def test_view_boxes_tensor_matches_the_geometry_module():
    box, ts = [10.0, 20.0, 50.0, 44.0], [0.0, 0.3, 1.0]
    got = view_boxes_tensor(torch.tensor([box]), torch.tensor([ts]), 100, 80)[0]
    assert np.allclose(got.numpy(), view_boxes(box, 100, 80, ts))


def test_a_view_box_of_the_output_size_on_the_pixel_grid_is_the_direct_crop():
    images = torch.randn(2, 3, 24, 30)
    boxes = torch.tensor([[3.0, 5.0, 11.0, 13.0], [10.0, 0.0, 18.0, 8.0]])
    crops = view_crops(images, boxes, torch.tensor([0, 1]), 8)
    assert torch.allclose(crops[0], images[0, :, 5:13, 3:11], atol=1e-6)
    assert torch.allclose(crops[1], images[1, :, 0:8, 10:18], atol=1e-6)


def test_roi_align_in_a_view_equals_roi_align_on_the_image_where_the_view_is_not_resampled():
    torch.manual_seed(1)
    image = torch.randn(1, 4, 32, 32)
    region = torch.tensor([[8.0, 8.0, 16.0, 16.0]])
    view = view_boxes_tensor(region, torch.tensor([[0.5]]), 32, 32)  # [4, 4, 24, 24]: 20 pixels wide
    crop = view_crops(image, view[:, 0], torch.tensor([0]), 20)
    inside = box_in_view(region, view, 20)[:, 0]
    assert torch.allclose(inside, torch.tensor([[4.0, 4.0, 12.0, 12.0]]))
    direct = roi_align(image, [region], 4, sampling_ratio=2)
    in_view = roi_align(crop, [inside], 4, sampling_ratio=2)
    assert torch.allclose(direct, in_view, atol=1e-5)


def test_box_in_view_is_the_whole_view_for_the_region_alone_and_scaled_for_the_whole_image():
    region = torch.tensor([[10.0, 20.0, 30.0, 60.0]])
    views = view_boxes_tensor(region, torch.tensor([[0.0, 1.0]]), 100, 80)
    inside = box_in_view(region, views, 16)[0]
    assert torch.allclose(inside[0], torch.tensor([0.0, 0.0, 16.0, 16.0]))
    assert torch.allclose(inside[1], torch.tensor([10 * 0.16, 20 * 0.2, 30 * 0.16, 60 * 0.2]))


def _encoder(n: int, **kw) -> tuple[MultiViewRegionEncoder, GroundedVLM]:
    torch.manual_seed(0)
    cfg = ViewsConfig(n=n, fixed=(0.5, 1.0)[: n - 1], queries=3, width=16, layers=1, roi_grid=2, **kw)
    model = GroundedVLM(tiny_config(region_encoder="dynrefer", views=cfg)).eval()
    return model.region_encoder, model


def test_the_encoder_gives_queries_tokens_per_region_from_the_views_it_is_given():
    enc, model = _encoder(3)
    pixels = torch.randn(2, 3, 64, 64)
    boxes = [torch.tensor([[4.0, 4.0, 20.0, 28.0]]), torch.tensor([[0.0, 0.0, 32.0, 32.0], [10.0, 2.0, 14.0, 9.0]])]
    with torch.no_grad():
        default = enc(None, boxes, 32, pixels, vision=model.vision)
        given = enc(None, boxes, 32, pixels, vision=model.vision, views=torch.tensor([[0.0, 0.5, 1.0]] * 3))
        other = enc(None, boxes, 32, pixels, vision=model.vision, views=torch.tensor([[0.0, 0.1, 0.2]] * 3))
    assert default.shape == (3, 3, model.lm.config.hidden_size)
    assert torch.allclose(default, given)  # no views given: t = 0 and the fixed ones
    assert not torch.allclose(given, other, atol=1e-4)
    with pytest.raises(ValueError, match="coefficients"):
        enc(None, boxes, 32, pixels, vision=model.vision, views=torch.zeros(3, 2))


def test_the_region_alone_does_not_see_outside_its_box():
    enc, model = _encoder(1)
    torch.manual_seed(3)
    pixels = torch.randn(1, 3, 64, 64)
    boxes = [torch.tensor([[8.0, 8.0, 20.0, 24.0]])]  # on the 32-pixel input: 16..40 x 16..48 of the 64 source
    changed = pixels.clone()
    changed[..., :, :12] = 5.0  # far from the box (more than a pixel)
    changed[..., 52:, :] = -5.0
    with torch.no_grad():
        a = enc(None, boxes, 32, pixels, vision=model.vision)
        b = enc(None, boxes, 32, changed, vision=model.vision)
        enc3, model3 = _encoder(3)
        c = enc3(None, boxes, 32, pixels, vision=model3.vision)
        d = enc3(None, boxes, 32, changed, vision=model3.vision)
    assert torch.allclose(a, b, atol=1e-6)
    assert not torch.allclose(c, d, atol=1e-4)  # the context views do


def test_a_dynrefer_model_runs_without_the_whole_image_in_the_prompt():
    _, model = _encoder(2, tags=("cube", "red"), contrastive=True)
    tok = model.tokenizer
    prompt = "Describe <region>" + "<region>" * (model.region_tokens - 1)
    ids = torch.tensor([[tok.bos_token_id, *tok(prompt, add_special_tokens=False).input_ids]])
    out = model(ids, torch.ones_like(ids), torch.randn(1, 3, 32, 32), region_boxes=[torch.tensor([[2.0, 2, 20, 20]])])
    assert out.logits.shape[:2] == ids.shape
    assert model.loss_names == ["lm", "tag", "rtc"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_the_multi_view_model_gives_the_same_losses_on_cuda_as_on_the_cpu():
    _, model = _encoder(3, tags=("cube", "red"), contrastive=True)
    tok = model.tokenizer
    prompt = "Describe <region>" + "<region>" * (model.region_tokens - 1)
    ids = torch.tensor([[tok.bos_token_id, *tok(prompt + " a red cube", add_special_tokens=False).input_ids]] * 2)
    labels = ids.clone()
    labels[:, : ids.shape[1] - 4] = -100
    inputs = dict(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        pixel_values=torch.randn(2, 3, 32, 32),
        labels=labels,
        region_boxes=[torch.tensor([[2.0, 2, 20, 20]]), torch.tensor([[8.0, 4, 30, 31]])],
        region_inputs={
            "views": torch.tensor([[0.0, 0.3, 0.9], [0.0, 0.5, 1.0]]),
            "pixels": torch.randn(2, 3, 64, 64),
            "targets": {
                "tag": torch.tensor([[1.0, 0.0], [0.0, 1.0]]),
                "text_ids": ids[:, -3:],
                "text_mask": torch.ones(2, 3, dtype=torch.bool),
            },
        },
    )
    cpu = model(**inputs).losses
    gpu_model = model.to("cuda")
    moved = {k: v.cuda() if torch.is_tensor(v) else v for k, v in inputs.items()}
    moved["region_boxes"] = [b.cuda() for b in inputs["region_boxes"]]
    region = inputs["region_inputs"]
    moved["region_inputs"] = {
        "views": region["views"].cuda(),
        "pixels": region["pixels"].cuda(),
        "targets": {k: v.cuda() for k, v in region["targets"].items()},
    }
    gpu = gpu_model(**moved).losses
    assert set(cpu) == set(gpu) == {"lm", "tag", "rtc"}
    for name in cpu:
        assert abs(float(cpu[name]) - float(gpu[name])) < 1e-3 * max(1.0, abs(float(cpu[name])))
    sum(gpu.values()).backward()
