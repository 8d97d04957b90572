"""Head-pose rotations.

Convention (docs/architecture.md, section 3, as in the 300W-LP/AFLW2000 tooling and 6DRepNet): angles are degrees,
ordered ``(yaw, pitch, roll)``, and the rotation is

    R = Rz(roll) @ Ry(yaw) @ Rx(pitch)

with right-handed elementary rotations about the camera axes (x right, y down, z forward). In SciPy terms this
is ``Rotation.from_euler("ZYX", [roll, yaw, pitch], degrees=True)`` (intrinsic). Flipping an image horizontally
negates yaw and roll. All functions are batched over leading dimensions and differentiable.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

_DEG = math.pi / 180.0


def _as_tensor(x: Tensor | float) -> Tensor:
    if isinstance(x, Tensor):
        return x if x.is_floating_point() else x.double()
    return torch.as_tensor(x, dtype=torch.float64)


def euler_to_matrix(yaw: Tensor | float, pitch: Tensor | float, roll: Tensor | float) -> Tensor:
    """Rotation matrices ``[..., 3, 3]`` from ``(yaw, pitch, roll)`` in degrees (broadcast over ``...``)."""
    y, p, r = torch.broadcast_tensors(_as_tensor(yaw), _as_tensor(pitch), _as_tensor(roll))
    y, p, r = y * _DEG, p * _DEG, r * _DEG
    cy, sy = torch.cos(y), torch.sin(y)
    cp, sp = torch.cos(p), torch.sin(p)
    cr, sr = torch.cos(r), torch.sin(r)
    # Rz(r) @ Ry(y) @ Rx(p), multiplied out.
    rows = [
        [cr * cy, cr * sy * sp - sr * cp, cr * sy * cp + sr * sp],
        [sr * cy, sr * sy * sp + cr * cp, sr * sy * cp - cr * sp],
        [-sy, cy * sp, cy * cp],
    ]
    return torch.stack([torch.stack(row, -1) for row in rows], -2)


def matrix_to_euler(R: Tensor, eps: float = 1e-6) -> tuple[Tensor, Tensor, Tensor]:
    """``(yaw, pitch, roll)`` in degrees from rotation matrices ``[..., 3, 3]``.

    The inverse of :func:`euler_to_matrix` with yaw in ``[-90, 90]`` and pitch, roll in ``(-180, 180]``.
    At gimbal lock (``|yaw| = 90``) roll is set to 0 and pitch absorbs the remaining rotation.
    """
    if R.shape[-2:] != (3, 3):
        raise ValueError(f"expected rotation matrices [..., 3, 3], got {tuple(R.shape)}")
    sy = torch.sqrt(R[..., 0, 0] ** 2 + R[..., 1, 0] ** 2)  # = |cos(yaw)|
    locked = sy < eps
    yaw = torch.atan2(-R[..., 2, 0], sy)
    pitch = torch.where(locked, torch.atan2(-R[..., 1, 2], R[..., 1, 1]), torch.atan2(R[..., 2, 1], R[..., 2, 2]))
    roll = torch.where(locked, torch.zeros_like(sy), torch.atan2(R[..., 1, 0], R[..., 0, 0]))
    return yaw / _DEG, pitch / _DEG, roll / _DEG


def sixd_to_matrix(x: Tensor) -> Tensor:
    """Rotation matrices ``[..., 3, 3]`` from the 6D representation ``[..., 6]`` (Zhou et al. 2019; 6DRepNet).

    With ``a1 = x[..., :3]`` and ``a2 = x[..., 3:]``: ``c1 = a1/|a1|``, ``c3 = (c1 x a2)/|c1 x a2|``,
    ``c2 = c3 x c1``, and ``R = [c1 c2 c3]`` as columns.
    """
    if x.shape[-1] != 6:
        raise ValueError(f"expected a 6D representation [..., 6], got {tuple(x.shape)}")
    c1 = torch.nn.functional.normalize(x[..., :3], dim=-1)
    c3 = torch.nn.functional.normalize(torch.cross(c1, x[..., 3:], dim=-1), dim=-1)
    c2 = torch.cross(c3, c1, dim=-1)
    return torch.stack([c1, c2, c3], dim=-1)


def matrix_to_sixd(R: Tensor) -> Tensor:
    """The 6D representation ``[..., 6]`` of rotations ``[..., 3, 3]``: the first two columns, concatenated."""
    return torch.cat([R[..., :, 0], R[..., :, 1]], dim=-1)


def geodesic_distance(R1: Tensor, R2: Tensor, eps: float = 1e-7) -> Tensor:
    """Angle in radians of ``R1 @ R2^T``: ``arccos(clamp((tr - 1) / 2, -1 + eps, 1 - eps))`` (6DRepNet's loss).

    The clamp keeps the gradient finite at 0 and pi; it costs about ``sqrt(2 * eps)`` radians of accuracy there.
    """
    trace = torch.einsum("...ij,...ij->...", R1, R2)  # tr(R1 R2^T)
    return torch.arccos(torch.clamp((trace - 1) / 2, -1 + eps, 1 - eps))


def flip_horizontal(yaw: Tensor | float, pitch: Tensor | float, roll: Tensor | float) -> tuple:
    """The pose seen in the horizontally mirrored image: ``(-yaw, pitch, -roll)``."""
    return -yaw, pitch, -roll
