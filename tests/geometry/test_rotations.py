import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from groundlm.geometry import rotations as R


def _random_angles(n, seed=0, yaw_max=89.0):
    rng = np.random.default_rng(seed)
    return (
        rng.uniform(-yaw_max, yaw_max, n),
        rng.uniform(-179.0, 179.0, n),
        rng.uniform(-179.0, 179.0, n),
    )


def test_euler_to_matrix_matches_scipy_intrinsic_zyx():
    yaw, pitch, roll = _random_angles(200)
    ours = R.euler_to_matrix(torch.tensor(yaw), torch.tensor(pitch), torch.tensor(roll)).numpy()
    ref = Rotation.from_euler("ZYX", np.stack([roll, yaw, pitch], 1), degrees=True).as_matrix()
    assert np.allclose(ours, ref, atol=1e-12)


def test_elementary_rotations_are_right_handed():
    # Pitch alone rotates about x: the y axis goes towards +z for positive pitch.
    m = R.euler_to_matrix(0.0, 90.0, 0.0).numpy()
    assert np.allclose(m @ [0, 1, 0], [0, 0, 1], atol=1e-12)
    # Yaw alone rotates about y: z goes towards +x.
    m = R.euler_to_matrix(90.0, 0.0, 0.0).numpy()
    assert np.allclose(m @ [0, 0, 1], [1, 0, 0], atol=1e-12)
    # Roll alone rotates about z: x goes towards +y.
    m = R.euler_to_matrix(0.0, 0.0, 90.0).numpy()
    assert np.allclose(m @ [1, 0, 0], [0, 1, 0], atol=1e-12)


def test_matrix_to_euler_inverts_and_matches_scipy():
    yaw, pitch, roll = _random_angles(200, seed=1)
    m = R.euler_to_matrix(torch.tensor(yaw), torch.tensor(pitch), torch.tensor(roll))
    y2, p2, r2 = (t.numpy() for t in R.matrix_to_euler(m))
    assert np.allclose(y2, yaw, atol=1e-9) and np.allclose(p2, pitch, atol=1e-9) and np.allclose(r2, roll, atol=1e-9)
    ref = Rotation.from_matrix(m.numpy()).as_euler("ZYX", degrees=True)  # roll, yaw, pitch
    assert np.allclose(ref[:, 1], y2, atol=1e-9) and np.allclose(ref[:, 0], r2, atol=1e-9)


def test_gimbal_lock_still_reconstructs_the_matrix():
    m = R.euler_to_matrix(torch.tensor([90.0, -90.0]), torch.tensor([30.0, -20.0]), torch.tensor([10.0, 40.0]))
    y, p, r = R.matrix_to_euler(m)
    assert np.allclose(R.euler_to_matrix(y, p, r).numpy(), m.numpy(), atol=1e-6)


def test_sixd_round_trip_and_orthonormality():
    yaw, pitch, roll = _random_angles(50, seed=2)
    m = R.euler_to_matrix(torch.tensor(yaw), torch.tensor(pitch), torch.tensor(roll))
    assert torch.allclose(R.sixd_to_matrix(R.matrix_to_sixd(m)), m, atol=1e-12)
    # Any non-degenerate 6D vector maps to a proper rotation.
    x = torch.randn(100, 6, dtype=torch.float64)
    out = R.sixd_to_matrix(x)
    eye = torch.eye(3, dtype=torch.float64).expand(100, 3, 3)
    assert torch.allclose(out @ out.transpose(-1, -2), eye, atol=1e-12)
    assert torch.allclose(torch.linalg.det(out), torch.ones(100, dtype=torch.float64), atol=1e-12)
    # The first column is the normalised first vector.
    assert torch.allclose(out[..., 0], torch.nn.functional.normalize(x[:, :3], dim=-1))


def test_geodesic_distance_matches_scipy_and_has_gradients():
    a = _random_angles(100, seed=3)
    b = _random_angles(100, seed=4)
    m1 = R.euler_to_matrix(*(torch.tensor(v) for v in a))
    m2 = R.euler_to_matrix(*(torch.tensor(v) for v in b))
    ours = R.geodesic_distance(m1, m2).numpy()
    ref = (Rotation.from_matrix(m1.numpy()) * Rotation.from_matrix(m2.numpy()).inv()).magnitude()
    assert np.allclose(ours, ref, atol=1e-6)
    x = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    loss = R.geodesic_distance(R.sixd_to_matrix(x), m1[:4]).mean()
    loss.backward()
    assert torch.isfinite(x.grad).all()
    # Identical rotations: the clamp keeps the value near 0 and the gradient finite.
    same = R.geodesic_distance(m1[:1], m1[:1])
    assert same.item() == pytest.approx(0.0, abs=1e-3)


def test_horizontal_flip_negates_yaw_and_roll():
    yaw, pitch, roll = 30.0, -15.0, 20.0
    m = R.euler_to_matrix(yaw, pitch, roll).numpy()
    mirror = np.diag([-1.0, 1.0, 1.0])
    flipped = R.euler_to_matrix(*R.flip_horizontal(yaw, pitch, roll)).numpy()
    assert np.allclose(mirror @ m @ mirror, flipped, atol=1e-12)
