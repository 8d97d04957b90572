"""Ray casting a :class:`~groundlm.data.synth.scene.Scene` into RGB, metric depth and an instance mask.

Each primitive is intersected only with the rays inside its screen-space bounding rectangle; a z-buffer keeps the
nearest hit. Shading is Lambertian, ``albedo * (ambient + light * max(0, n . l))``, with procedural textures on the
primitive's local coordinates. Besides the images, the renderer counts for every instance how many pixels it
would cover with nothing in front (its unoccluded area), from which visible fractions follow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from groundlm.data.synth.scene import Scene
from groundlm.data.synth.shapes import Primitive


@dataclass
class Rendering:
    rgb: np.ndarray  # [H, W, 3] uint8
    depth: np.ndarray  # [H, W] float32 metres (z-depth), 0 where nothing was hit (sky)
    instances: np.ndarray  # [H, W] uint16, 0 = background
    coverage: dict[int, np.ndarray]  # instance -> [H, W] bool, pixels it covers ignoring occlusion


def _texture(prim: Primitive, albedo: np.ndarray, p: np.ndarray) -> np.ndarray:
    f = prim.texture_freq
    if prim.texture == "striped":
        mask = (np.floor(p[:, 2] * f * 1.5) % 2) == 1 if prim.kind != "plane" else (np.floor(p[:, 0] * f) % 2) == 1
    elif prim.texture == "checkered":
        mask = (np.floor(p * f).sum(1) % 2) == 1
    elif prim.texture == "dotted":
        q = p * f * 1.5
        mask = np.linalg.norm(q - np.round(q), axis=1) < 0.3
    else:
        return albedo
    return np.where(mask[:, None], np.asarray(prim.texture_color, dtype=np.float32), albedo)


def render(scene: Scene) -> Rendering:
    cam = scene.camera
    h, w = cam.height, cam.width
    dirs = cam.rays()
    origin = cam.position.astype(np.float32)
    zbuf = np.full((h, w), np.inf, dtype=np.float32)
    sky = np.asarray(scene.scene_type.sky, dtype=np.float32)
    rows = np.linspace(1.0, 0.8, h, dtype=np.float32)[:, None, None]
    color = np.broadcast_to(sky * rows, (h, w, 3)).copy()
    instances = np.zeros((h, w), dtype=np.uint16)
    coverage: dict[int, np.ndarray] = {}
    light_dir = scene.light_dir.astype(np.float32)
    for prim in scene.primitives():
        if prim.kind == "plane" and not prim.bounded:
            rect = (0, h, 0, w)
        else:
            rect = cam.screen_rect(prim.corners())
            if rect is None:
                continue
        y0, y1, x0, x1 = rect
        d = dirs[y0:y1, x0:x1].reshape(-1, 3)
        t, normal, local = prim.intersect(origin, d)
        hit = np.isfinite(t)
        if prim.instance:
            cov = coverage.setdefault(prim.instance, np.zeros((h, w), dtype=bool))
            cov[y0:y1, x0:x1] |= hit.reshape(y1 - y0, x1 - x0)
        win = zbuf[y0:y1, x0:x1].reshape(-1)
        closer = t < win
        if not closer.any():
            continue
        n = normal[closer]
        lambert = np.clip(n @ light_dir, 0.0, None)
        albedo = _texture(
            prim, np.asarray(prim.albedo, dtype=np.float32)[None, :].repeat(closer.sum(), 0), local[closer]
        )
        shaded = albedo * (scene.ambient + scene.light * lambert)[:, None]
        win[closer] = t[closer]
        zbuf[y0:y1, x0:x1] = win.reshape(y1 - y0, x1 - x0)
        block = color[y0:y1, x0:x1].reshape(-1, 3)
        block[closer] = shaded
        color[y0:y1, x0:x1] = block.reshape(y1 - y0, x1 - x0, 3)
        ids = instances[y0:y1, x0:x1].reshape(-1)
        ids[closer] = prim.instance
        instances[y0:y1, x0:x1] = ids.reshape(y1 - y0, x1 - x0)
    depth = np.where(np.isfinite(zbuf), zbuf, 0.0).astype(np.float32)
    rgb = (np.clip(color, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return Rendering(rgb, depth, instances, coverage)
