import numpy as np
import torch
from PIL import Image

from groundlm.baselines.crop_pose import CropPoseConfig, CropPoseNet, loose_crop, predict_crop_pose, train_crop_pose
from groundlm.data.dataset import SampleDataset
from groundlm.data.synth.generate import generate
from groundlm.geometry.rotations import euler_to_matrix, geodesic_distance


def test_loose_crop_is_a_square_around_the_box_with_the_margin():
    image = Image.new("RGB", (100, 80))
    pixels = np.zeros((80, 100, 3), np.uint8)
    pixels[30:50, 40:50] = 255  # a 10 x 20 box
    image = Image.fromarray(pixels)
    crop = loose_crop(image, (40, 30, 50, 50), margin=0.5, size=40)
    # Side = 20 * 2 = 40 px around the centre (45, 40): the white box fills x 15..25, y 10..30 of the crop.
    a = np.asarray(crop)[..., 0]
    assert crop.size == (40, 40)
    assert a[20, 20] == 255 and a[20, 10] == 0 and a[5, 20] == 0 and a[20, 24] == 255 and a[20, 27] == 0
    # Outside the image is black, not an error.
    assert loose_crop(image, (0, 0, 10, 10), 1.0, 16).size == (16, 16)


def test_starts_at_identity_and_learns_to_fit_a_few_heads(tmp_path):
    cfg = CropPoseConfig(crop_size=32, width=32, blocks=2, steps=60, batch_size=16, lr=3e-3, flip=False)
    model = CropPoseNet(cfg).eval()
    eye = model(torch.zeros(2, 3, 32, 32))
    assert torch.allclose(eye, torch.eye(3).expand(2, 3, 3), atol=0.05)
    ds = SampleDataset([generate(2, i, "headshot", 96).sample for i in range(6)], "tiny")
    heads = [(s, h) for s in ds for h in s.heads]

    def error(m):
        errs = []
        for s, h in heads:
            (pred,) = predict_crop_pose(m, s.load_image(), [h.box])
            r = euler_to_matrix(*torch.tensor([pred, (h.yaw, h.pitch, h.roll)]).unbind(1))
            errs.append(float(torch.rad2deg(geodesic_distance(r[0], r[1]))))
        return float(np.mean(errs))

    before = error(model)
    trained = train_crop_pose(ds, cfg, progress=False)
    after = error(trained)
    assert after < 0.6 * before
    trained.save(tmp_path / "cnn")
    again = CropPoseNet.load(tmp_path / "cnn")
    assert error(again) == after


def test_training_resumes_exactly(tmp_path):
    cfg = CropPoseConfig(crop_size=32, width=16, blocks=2, steps=4, batch_size=8)
    ds = SampleDataset([generate(2, i, "headshot", 64).sample for i in range(2)], "tiny")
    straight = train_crop_pose(ds, cfg, progress=False)
    train_crop_pose(ds, cfg, progress=False, run_dir=tmp_path, save_every=2, stop_after=2)
    resumed = train_crop_pose(ds, cfg, progress=False, run_dir=tmp_path, save_every=2, resume=True)
    a, b = straight.state_dict(), resumed.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
