"""Pinhole camera for SpatialWorld.

World frame: X right, Y forward (into the scene), Z up; the ground is ``z = 0``. Camera frame (OpenCV): x right,
y down, z forward. The camera sits at ``(0, 0, height)``, looks along +Y and is tilted down by ``tilt`` degrees.
Pixel ``(i, j)`` covers ``[j, j+1) x [i, i+1)``; its ray passes through the pixel centre.

Rays are *not* normalised: their camera-frame z component is 1, so the ray parameter ``t`` of a hit is its
z-depth in metres (the depth convention of NYU and of this package).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class Camera:
    width: int
    height: int
    fov: float  # horizontal field of view, degrees
    cam_height: float  # metres above the ground
    tilt: float  # degrees below the horizon

    @property
    def focal(self) -> float:
        """Focal length in pixels."""
        return self.width / (2.0 * math.tan(math.radians(self.fov) / 2.0))

    @property
    def position(self) -> np.ndarray:
        return np.array([0.0, 0.0, self.cam_height])

    @cached_property
    def world_from_camera(self) -> np.ndarray:
        """``R_wc``: columns are the camera's x (right), y (down), z (forward) axes in world coordinates."""
        s, c = math.sin(math.radians(self.tilt)), math.cos(math.radians(self.tilt))
        right = [1.0, 0.0, 0.0]
        down = [0.0, -s, -c]
        forward = [0.0, c, -s]
        return np.array([right, down, forward]).T

    def rays(self) -> np.ndarray:
        """World-frame ray directions ``[H, W, 3]`` (float32), camera-z component 1."""
        f = self.focal
        u = (np.arange(self.width, dtype=np.float64) + 0.5 - self.width / 2.0) / f
        v = (np.arange(self.height, dtype=np.float64) + 0.5 - self.height / 2.0) / f
        cam = np.stack(np.broadcast_arrays(u[None, :], v[:, None], np.ones((1, 1))), -1)
        return (cam @ self.world_from_camera.T).astype(np.float32)

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points ``[..., 3]`` -> camera coordinates ``[..., 3]``."""
        return (np.asarray(points, dtype=np.float64) - self.position) @ self.world_from_camera

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points ``[..., 3]`` -> (pixel ``(x, y)`` ``[..., 2]``, z-depth ``[...]``)."""
        cam = self.to_camera(points)
        z = cam[..., 2]
        safe = np.where(z > 1e-9, z, 1e-9)
        px = np.stack(
            [cam[..., 0] / safe * self.focal + self.width / 2.0, cam[..., 1] / safe * self.focal + self.height / 2.0],
            -1,
        )
        return px, z

    def screen_rect(self, corners: np.ndarray, near: float = 0.05) -> tuple[int, int, int, int] | None:
        """Pixel rectangle ``(y0, y1, x0, x1)`` covering world ``corners`` ``[K, 3]``; None if off-screen.

        If a corner lies behind the camera the whole image is returned (the shape may still be visible).
        """
        px, z = self.project(corners)
        if np.all(z <= near):
            return None
        if np.any(z <= near):
            return 0, self.height, 0, self.width
        x0 = max(math.floor(px[:, 0].min()) - 1, 0)
        x1 = min(math.ceil(px[:, 0].max()) + 1, self.width)
        y0 = max(math.floor(px[:, 1].min()) - 1, 0)
        y1 = min(math.ceil(px[:, 1].max()) + 1, self.height)
        if x0 >= x1 or y0 >= y1:
            return None
        return y0, y1, x0, x1
