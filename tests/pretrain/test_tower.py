import json

import numpy as np
import pytest
import torch
import yaml

from groundlm import data
from groundlm.data.synth.writer import write_split
from groundlm.geometry.rotations import euler_to_matrix
from groundlm.models.backbones import is_tower_dir, read_tower
from groundlm.models.config import VisionConfig, VLMConfig
from groundlm.models.depth_losses import silog_loss
from groundlm.models.vlm import GroundedVLM
from groundlm.pretrain.heads import LOSSES, DenseHeads, dense_losses
from groundlm.pretrain.targets import CLASSES, COLORS, TEXTURES, dense_targets, flip_targets
from groundlm.pretrain.tower import TowerPretrainConfig, load_pretrain_config, preset, pretrain_tower
from groundlm.train.config import SplitSpec

from ..conftest import tiny_language, tiny_vision


@pytest.fixture(scope="module")
def heads_split(tmp_path_factory):
    root = tmp_path_factory.mktemp("pre")
    write_split(root / "hs", 6, seed=3, size=64, domain="headshot", progress=False)
    return root / "hs"


def test_dense_targets_pool_the_pixel_labels(heads_split):
    sample = next(s for s in data.load(f"spatialworld:{heads_split}") if s.heads)
    t = dense_targets(sample, 64, 8)
    assert t.category.shape == (len(CLASSES), 8, 8) and t.rotation.shape == (9, 8, 8)
    np.testing.assert_allclose(t.category.sum(0), 1.0, atol=1e-5)
    # Where the depth is known, the cell value is the mean log depth of its 8x8 pixels.
    depth = sample.load_depth()
    cell = depth[:8, :8]
    if (cell > 0).all():
        assert t.log_depth[0, 0] == pytest.approx(np.log(cell).mean(), abs=1e-5)
    head = sample.heads[0]
    covered = t.head_cover > 0.3
    assert covered.any()
    R = euler_to_matrix(head.yaw, head.pitch, head.roll).reshape(9).numpy()
    np.testing.assert_allclose(t.rotation[:, covered].T, np.broadcast_to(R, (covered.sum(), 9)), atol=1e-5)
    assert (t.rotation[:, t.head_cover == 0] == 0).all()
    # The nose landmark's heatmap peaks in the cell that holds it.
    x, y = head.landmarks["nose_tip"]
    peak = np.unravel_index(t.landmarks[0].argmax(), (8, 8))
    assert peak == (int(y * 8 / sample.height), int(x * 8 / sample.width))


def test_colour_and_texture_targets_name_what_covers_each_cell(tmp_path):
    write_split(tmp_path / "p", 3, seed=5, size=64, domain="portrait", progress=False)
    for sample in data.load(f"spatialworld:{tmp_path / 'p'}"):
        t = dense_targets(sample, 64, 64)  # one pixel per cell: shares are one-hot
        mask = sample.load_mask()
        np.testing.assert_allclose(t.color.sum(0), 1.0, atol=1e-5)
        np.testing.assert_allclose(t.texture.sum(0), 1.0, atol=1e-5)
        for region in sample.regions:
            pixels = mask == region.mask_id
            if region.mask_id == 0 or not pixels.any():
                continue
            colour = region.attributes.get("color")
            expected = COLORS.index(colour) if colour in COLORS else len(COLORS)
            assert (t.color[expected][pixels] == 1).all()
            texture = region.attributes.get("texture")
            expected = TEXTURES.index(texture) if texture in TEXTURES else len(TEXTURES)
            assert (t.texture[expected][pixels] == 1).all()
        assert (t.color[-1][mask == 0] == 1).all()


def test_flipping_targets_mirrors_maps_eyes_and_pose(heads_split):
    sample = next(s for s in data.load(f"spatialworld:{heads_split}") if s.heads)
    t = {k: torch.from_numpy(v)[None] for k, v in dense_targets(sample, 64, 8).as_dict().items()}
    f = flip_targets(t, torch.tensor([True]))
    torch.testing.assert_close(f["log_depth"][0], t["log_depth"][0].flip(-1))
    torch.testing.assert_close(f["landmarks"][0, 1], t["landmarks"][0, 2].flip(-1))
    head = sample.heads[0]
    mirrored = euler_to_matrix(-head.yaw, head.pitch, -head.roll).reshape(9).float()
    cells = f["head_cover"][0] > 0.3
    torch.testing.assert_close(f["rotation"][0][:, cells].T, mirrored.expand(int(cells.sum()), 9), atol=1e-5, rtol=0)
    unchanged = flip_targets(t, torch.tensor([False]))
    assert all(torch.equal(unchanged[k], t[k]) for k in t)


def test_silog_is_the_scale_invariant_log_error():
    target = torch.log(torch.tensor([[1.0, 2.0, 4.0, 8.0]]))
    valid = torch.ones(1, 4)
    # A constant factor is a constant log shift: invisible to the loss with lambda 1.
    assert float(silog_loss(target + 0.7, target, valid, lam=1.0)) < 2e-3
    g = torch.tensor([[0.1, -0.2, 0.3, 0.0]])
    expected = 10 * torch.sqrt((g**2).mean() - 0.85 * g.mean() ** 2)
    assert float(silog_loss(target + g, target, valid)) == pytest.approx(float(expected), rel=1e-5)
    # Invalid entries are ignored.
    assert float(silog_loss(target + g, target, torch.tensor([[1.0, 1.0, 1.0, 0.0]]))) != pytest.approx(float(expected))


def test_dense_losses_are_named_and_reach_the_tower():
    heads = DenseHeads(16, hidden=8)
    feats = torch.randn(2, 16, 4, 4, requires_grad=True)
    rot = euler_to_matrix(30.0, 0.0, 0.0).reshape(9, 1, 1).float().expand(9, 4, 4)
    targets = {
        "log_depth": torch.zeros(2, 4, 4),
        "depth_valid": torch.ones(2, 4, 4),
        "category": torch.full((2, len(CLASSES), 4, 4), 1 / len(CLASSES)),
        "boundary": torch.zeros(2, 4, 4),
        "landmarks": torch.zeros(2, 3, 4, 4),
        "color": torch.full((2, len(COLORS) + 1, 4, 4), 1 / (len(COLORS) + 1)),
        "texture": torch.full((2, len(TEXTURES) + 1, 4, 4), 1 / (len(TEXTURES) + 1)),
        "rotation": rot[None].repeat(2, 1, 1, 1),
        "head_cover": torch.ones(2, 4, 4),
    }
    losses = dense_losses(heads(feats), targets)
    assert set(losses) == set(LOSSES)
    sum(losses.values()).backward()
    assert feats.grad is not None and feats.grad.abs().sum() > 0


def _tiny_cfg(tmp_path, split, kind="resnet", steps=3, **kw) -> TowerPretrainConfig:
    vision = tiny_vision(kind=kind, image_size=64, num_layers=2)
    return TowerPretrainConfig(
        out=str(tmp_path / "tower"),
        vision=vision,
        data=[SplitSpec(f"spatialworld:{split}")],
        val=[SplitSpec(f"spatialworld:{split}")],
        steps=steps,
        batch_size=4,
        head_hidden=16,
        **kw,
    )


@pytest.mark.parametrize("kind", ["resnet", "vit"])
def test_pretrained_tower_loads_into_a_vlm_frozen_and_survives_without_its_folder(tmp_path, heads_split, kind):
    summary = pretrain_tower(_tiny_cfg(tmp_path, heads_split, kind), progress=False)
    tower_dir = tmp_path / "tower"
    assert is_tower_dir(tower_dir) and summary["domains"] == ["headshot"]
    val = summary["val"][f"spatialworld:{heads_split}"]
    assert val["pose_heads"] > 0 and 0 <= val["category_acc"] <= 1 and np.isfinite(val["pose_mae"])
    assert 0 <= val["color_acc"] <= 1
    arch, info = read_tower(tower_dir)
    assert arch.kind == kind and arch.patch_size == 8 and info["steps"] == 3

    lang = tiny_language(num_layers=1, max_positions=128)
    model = GroundedVLM(VLMConfig(vision=VisionConfig(path=str(tower_dir), freeze=True), language=lang))
    # The architecture comes from the tower directory, the weights too.
    assert model.config.vision.kind == kind and model.vision.grid == 8
    from safetensors.torch import load_file

    stored = load_file(str(tower_dir / "tower.safetensors"))
    assert all(torch.equal(v, stored[k]) for k, v in model.vision.model.state_dict().items())
    assert not any(p.requires_grad for p in model.vision.parameters())
    model.train()
    assert not model.vision.model.training and model.projector.training  # frozen: batch-norm statistics fixed

    model.save_pretrained(tmp_path / "vlm")
    (tower_dir / "tower.json").unlink()  # the saved VLM describes its tower completely
    again = GroundedVLM.from_pretrained(tmp_path / "vlm")
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in model.state_dict().items())
    assert not any(p.requires_grad for p in again.vision.parameters())


def test_pretraining_learns_orientation(tmp_path, heads_split):
    torch.manual_seed(0)
    summary = pretrain_tower(_tiny_cfg(tmp_path, heads_split, steps=60, jitter=0.0, lr=3e-3), progress=False)
    rows = [r.split(",") for r in (tmp_path / "tower" / "metrics.csv").read_text().splitlines()[1:]]
    rotation = [float(v) for _, kind, key, v in rows if key == "rotation"]
    assert np.mean(rotation[-10:]) < 0.8 * np.mean(rotation[:10])
    assert summary["final_losses"]["rotation"] < rotation[0]


def test_quick_yaml_is_the_quick_preset():
    cfg = load_pretrain_config("configs/tower-quick.yaml")
    assert cfg == preset("quick")
    assert "headshot-dusk" not in {s.generate["domain"] for s in cfg.data}
    assert "portrait" not in {s.generate["domain"] for s in cfg.data}


def test_bad_pretrain_configs_are_user_errors(tmp_path):
    from groundlm.errors import UserError

    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump({"data": ["x"], "loss_weights": {"dept": 1.0}}))
    with pytest.raises(UserError, match="dept"):
        load_pretrain_config(path)
    path.write_text(yaml.safe_dump({"data": ["x"], "vision": {"kind": "resnet", "stride": 8}}))
    with pytest.raises(UserError, match="stride"):
        load_pretrain_config(path)
    assert json.dumps(preset("demo").to_dict())  # presets serialise


def test_ensure_tower_reuses_a_cached_tower_and_rebuilds_a_stale_one(tmp_path, heads_split, monkeypatch):
    from groundlm.pretrain import tower as tower_module

    tiny = _tiny_cfg(tmp_path, heads_split, steps=1)
    fields = {k: getattr(tiny, k) for k in ("vision", "data", "val", "steps", "batch_size", "head_hidden")}
    monkeypatch.setitem(tower_module.PRESETS, "tiny", fields)
    out = tmp_path / "cached"
    tower_module.ensure_tower(out, "tiny", progress=False)
    stamp = (out / "tower.safetensors").stat().st_mtime_ns
    tower_module.ensure_tower(out, "tiny", progress=False)
    assert (out / "tower.safetensors").stat().st_mtime_ns == stamp  # reused
    monkeypatch.setitem(tower_module.PRESETS, "tiny", {**fields, "steps": 2})
    tower_module.ensure_tower(out, "tiny", progress=False)
    assert read_tower(out)[1]["steps"] == 2  # the preset changed: pretrained again
    stamp = (out / "tower.safetensors").stat().st_mtime_ns
    tower_module.ensure_tower(out, "quick", progress=False)  # a tower of another preset is used as it is
    assert (out / "tower.safetensors").stat().st_mtime_ns == stamp


def test_a_missing_tower_path_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="groundlm pretrain"):
        GroundedVLM(VLMConfig(vision=VisionConfig(path=str(tmp_path / "nope"))))


def test_pretraining_resumes_exactly(tmp_path, heads_split, capsys):
    from safetensors.torch import load_file

    from groundlm.cli import main
    from groundlm.errors import UserError

    straight, broken = (_tiny_cfg(tmp_path / name, heads_split, steps=4, save_every=2) for name in "ab")
    straight.val = broken.val = []
    pretrain_tower(straight, progress=False)
    assert pretrain_tower(broken, progress=False, stop_after=2) == {"interrupted_at": 2}
    with pytest.raises(UserError, match="--resume"):
        pretrain_tower(broken, progress=False)
    # groundlm pretrain --resume continues it.
    vision = {"kind": "resnet", "image_size": 64, "patch_size": 8, "hidden_size": 32, "num_layers": 2}
    tree = {"out": broken.out, "vision": {**vision, "num_heads": 2, "intermediate_size": 64}, "steps": 4}
    tree.update(data=[f"spatialworld:{heads_split}"], val=[], batch_size=4, head_hidden=16, save_every=2)
    path = tmp_path / "tower.yaml"
    path.write_text(yaml.safe_dump(tree))
    assert main(["pretrain", str(path), "--resume"]) == 0
    capsys.readouterr()
    a = load_file(str(tmp_path / "a" / "tower" / "tower.safetensors"))
    b = load_file(str(tmp_path / "b" / "tower" / "tower.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    summary_a = json.loads((tmp_path / "a" / "tower" / "summary.json").read_text())
    summary_b = json.loads((tmp_path / "b" / "tower" / "summary.json").read_text())
    assert summary_a["final_losses"] == summary_b["final_losses"]
