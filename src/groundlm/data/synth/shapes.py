"""Analytic primitives for ray casting.

Each primitive is a canonical unit shape in its local frame, placed in the world by a rotation ``R`` (world from
local), a per-axis ``scale`` and a ``center``: ``p_world = center + R @ (scale * p_local)``. A ray is mapped into
the local frame with the same ``t``, so hit distances need no conversion. Canonical shapes:

* ``ellipsoid``: the unit sphere;
* ``box``: the cube ``[-1, 1]^3``;
* ``cylinder``: ``x^2 + y^2 <= 1``, ``|z| <= 1``;
* ``cone``: apex at ``z = 1``, base disc of radius 1 at ``z = -1``;
* ``plane``: ``z = 0`` in local coordinates, optionally bounded by ``|x| <= 1``, ``|y| <= 1``.

``intersect`` returns, for rays with origin ``o`` ``[3]`` and directions ``d`` ``[N, 3]`` (float32): the hit
parameter ``t`` ``[N]`` (``inf`` on a miss), the world unit normal ``[N, 3]`` and the local hit point ``[N, 3]``
(for procedural textures).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Kind = Literal["ellipsoid", "box", "cylinder", "cone", "plane"]
INF = np.float32(np.inf)
EPS = 1e-4


@dataclass
class Primitive:
    kind: Kind
    center: np.ndarray
    scale: np.ndarray
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))
    instance: int = 0  # value in the instance mask
    albedo: tuple[float, float, float] = (0.5, 0.5, 0.5)  # linear RGB in [0, 1]
    texture: str = "solid"  # solid | striped | checkered | dotted
    texture_color: tuple[float, float, float] = (1.0, 1.0, 1.0)
    texture_freq: float = 3.0
    bounded: bool = False  # planes: limit to the unit square
    clip_face: bool = False  # ellipsoids: drop hits on the face side (hair)

    def corners(self) -> np.ndarray:
        """World corners ``[8, 3]`` of the local bounding cube (for screen-space culling)."""
        signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64)
        return self.center + (signs * self.scale) @ self.rotation.T

    def intersect(self, origin: np.ndarray, dirs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        inv_rs = (self.rotation / self.scale[None, :]).T.astype(np.float32)  # local = diag(1/s) R^T world
        o = ((origin - self.center) @ inv_rs.T).astype(np.float32)
        d = dirs @ inv_rs.T
        t, n_local = _CANONICAL[self.kind](self, o, d)
        p_local = o[None, :] + t[:, None] * d
        hit = np.isfinite(t)
        p_local[~hit] = 0.0
        # Normals transform with the inverse transpose: R @ diag(1/s).
        n = n_local @ (self.rotation / self.scale[None, :]).T.astype(np.float32)
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
        return t, n, p_local


def _smallest_positive(t0: np.ndarray, t1: np.ndarray) -> np.ndarray:
    t = np.where(t0 > EPS, t0, t1)
    return np.where(t > EPS, t, INF)


def _sphere(prim: Primitive, o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.einsum("ij,ij->i", d, d)
    b = d @ o
    c = float(o @ o) - 1.0
    disc = b * b - a * c
    ok = disc >= 0
    sq = np.sqrt(np.where(ok, disc, 0))
    t0, t1 = (-b - sq) / a, (-b + sq) / a
    if prim.clip_face:
        # Keep only hits on the top/back of the head: local y < -0.1 (above the brow) or z > 0.1 (behind the ears).
        def keep(t):
            p = o[None, :] + t[:, None] * d
            return (p[:, 1] < -0.1) | (p[:, 2] > 0.1)

        t0 = np.where(keep(t0), t0, -1.0)
        t1 = np.where(keep(t1), t1, -1.0)
    t = np.where(ok, _smallest_positive(t0, t1), INF)
    n = o[None, :] + np.where(np.isfinite(t), t, 0)[:, None] * d
    return t.astype(np.float32), n


def _box(prim: Primitive, o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / d
        ta = (-1.0 - o[None, :]) * inv
        tb = (1.0 - o[None, :]) * inv
    tmin = np.minimum(ta, tb)
    tmax = np.maximum(ta, tb)
    tmin = np.where(np.isnan(tmin), -INF, tmin)
    tmax = np.where(np.isnan(tmax), INF, tmax)
    t_near = tmin.max(1)
    t_far = tmax.min(1)
    ok = (t_near <= t_far) & (t_far > EPS)
    t = np.where(ok, np.where(t_near > EPS, t_near, t_far), INF)
    axis = np.where(t_near > EPS, tmin.argmax(1), tmax.argmin(1))
    n = np.zeros_like(d)
    rows = np.arange(len(d))
    p = o[None, :] + np.where(np.isfinite(t), t, 0)[:, None] * d
    n[rows, axis] = np.sign(p[rows, axis])
    return t.astype(np.float32), n


def _disc(o: np.ndarray, d: np.ndarray, z: float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (z - o[2]) / d[:, 2]
    p = o[None, :2] + t[:, None] * d[:, :2]
    ok = (t > EPS) & (np.einsum("ij,ij->i", p, p) <= 1.0)
    return np.where(ok, t, INF)


def _cylinder(prim: Primitive, o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = d[:, 0] ** 2 + d[:, 1] ** 2
    b = d[:, 0] * o[0] + d[:, 1] * o[1]
    c = o[0] ** 2 + o[1] ** 2 - 1.0
    disc = b * b - a * c
    ok = (disc >= 0) & (a > 1e-12)
    sq = np.sqrt(np.where(ok, disc, 0))
    safe_a = np.where(a > 1e-12, a, 1.0)
    t_side = INF * np.ones(len(d), dtype=np.float32)
    for root in ((-b - sq) / safe_a, (-b + sq) / safe_a):
        z = o[2] + root * d[:, 2]
        good = ok & (root > EPS) & (np.abs(z) <= 1.0)
        t_side = np.where(good & (root < t_side), root, t_side)
    t_top, t_bot = _disc(o, d, 1.0), _disc(o, d, -1.0)
    t = np.minimum(t_side, np.minimum(t_top, t_bot))
    p = o[None, :] + np.where(np.isfinite(t), t, 0)[:, None] * d
    n = np.stack([p[:, 0], p[:, 1], np.zeros_like(p[:, 0])], 1)
    n = np.where((t == t_top)[:, None], np.array([0, 0, 1], dtype=np.float32), n)
    n = np.where((t == t_bot)[:, None], np.array([0, 0, -1], dtype=np.float32), n)
    return t.astype(np.float32), n


def _cone(prim: Primitive, o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Side: x^2 + y^2 = ((1 - z) / 2)^2 for z in [-1, 1].
    k = 0.25
    oz, dz = 1.0 - o[2], -d[:, 2]
    a = d[:, 0] ** 2 + d[:, 1] ** 2 - k * dz * dz
    b = d[:, 0] * o[0] + d[:, 1] * o[1] - k * oz * dz
    c = o[0] ** 2 + o[1] ** 2 - k * oz * oz
    disc = b * b - a * c
    ok = (disc >= 0) & (np.abs(a) > 1e-12)
    sq = np.sqrt(np.where(ok, disc, 0))
    safe_a = np.where(np.abs(a) > 1e-12, a, 1.0)
    t_side = INF * np.ones(len(d), dtype=np.float32)
    for root in ((-b - sq) / safe_a, (-b + sq) / safe_a):
        z = o[2] + root * d[:, 2]
        good = ok & (root > EPS) & (z >= -1.0) & (z <= 1.0)
        t_side = np.where(good & (root < t_side), root, t_side)
    t_base = _disc(o, d, -1.0)
    t = np.minimum(t_side, t_base)
    p = o[None, :] + np.where(np.isfinite(t), t, 0)[:, None] * d
    radial = np.sqrt(p[:, 0] ** 2 + p[:, 1] ** 2) + 1e-12
    n = np.stack([p[:, 0] / radial, p[:, 1] / radial, np.full_like(radial, 0.5)], 1)
    n = np.where((t == t_base)[:, None], np.array([0, 0, -1], dtype=np.float32), n)
    return t.astype(np.float32), n


def _plane(prim: Primitive, o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -o[2] / d[:, 2]
    ok = t > EPS
    if prim.bounded:
        p = o[None, :2] + t[:, None] * d[:, :2]
        ok &= (np.abs(p[:, 0]) <= 1.0) & (np.abs(p[:, 1]) <= 1.0)
    t = np.where(ok, t, INF)
    n = np.zeros_like(d)
    n[:, 2] = np.where(o[2] >= 0, 1.0, -1.0)  # face the camera side
    return t.astype(np.float32), n


_CANONICAL = {"ellipsoid": _sphere, "box": _box, "cylinder": _cylinder, "cone": _cone, "plane": _plane}


def rotation_z(angle_deg: float) -> np.ndarray:
    """Rotation about the world up axis (Z) by ``angle_deg`` degrees."""
    a = np.radians(angle_deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def frame(x_axis, y_axis, z_axis) -> np.ndarray:
    """Rotation matrix whose columns are the given local axes in world coordinates."""
    return np.stack([np.asarray(x_axis, float), np.asarray(y_axis, float), np.asarray(z_axis, float)], 1)
