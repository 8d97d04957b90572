"""A picture of one sample for a person to check (``groundlm data show``).

Left: the image with every region's box and category, head-pose axes (x red, y green, z blue: the head frame's
axes in the camera frame, see :mod:`groundlm.data.synth.scene`), and landmarks. Right (when present): depth as a
colour map (near = warm, far = cool; black = unknown). The narrative trace is coloured by word: each utterance's
time span is split evenly over its words (word-level times are not recorded), and the words below the picture
carry the same colours. Below: the referring expressions and the narrative.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from groundlm.data.sample import Sample
from groundlm.geometry.rotations import euler_to_matrix

PALETTE = [
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (250, 190, 212),
]
# Anchors of a perceptually ordered map from near (0) to far (1).
_ANCHORS = np.array(
    [[180, 4, 38], [244, 109, 67], [253, 219, 130], [171, 221, 164], [50, 136, 189], [54, 40, 120]], dtype=np.float64
)


def colorize_depth(depth: np.ndarray) -> np.ndarray:
    """Depth ``[H, W]`` (metres, 0 = unknown) -> RGB ``[H, W, 3]`` uint8 scaled to the 2nd..98th percentile."""
    valid = depth > 0
    out = np.zeros((*depth.shape, 3), dtype=np.uint8)
    if not valid.any():
        return out
    lo, hi = np.percentile(depth[valid], [2, 98])
    x = np.clip((depth - lo) / max(hi - lo, 1e-6), 0, 1) * (len(_ANCHORS) - 1)
    i = np.minimum(np.floor(x).astype(int), len(_ANCHORS) - 2)
    f = (x - i)[..., None]
    rgb = _ANCHORS[i] * (1 - f) + _ANCHORS[i + 1] * f
    out[valid] = rgb[valid].astype(np.uint8)
    return out


def pose_axis_ends(
    center: tuple[float, float], yaw: float, pitch: float, roll: float, size: float
) -> list[tuple[float, float]]:
    """Image points (pixels) where the head frame's x, y and z axes, ``size`` pixels long and drawn from ``center``,
    end: the columns of ``euler_to_matrix(yaw, pitch, roll)`` (degrees) projected orthographically onto the image
    (camera frame: x right, y down)."""
    R = euler_to_matrix(yaw, pitch, roll).numpy()
    return [(center[0] + float(R[0, axis]) * size, center[1] + float(R[1, axis]) * size) for axis in range(3)]


def draw_pose_axes(
    draw: ImageDraw.ImageDraw, center: tuple[float, float], yaw: float, pitch: float, roll: float, size: float
) -> None:
    """Draw the head frame's axes from ``center`` (x red, y green, z blue; see :func:`pose_axis_ends`)."""
    ends = pose_axis_ends(center, yaw, pitch, roll, size)
    for end, color in zip(ends, ((255, 0, 0), (0, 200, 0), (0, 80, 255))):
        draw.line([center, end], fill=color, width=2)


def render_sample(sample: Sample, scale: int = 2) -> Image.Image:
    image = sample.load_image().convert("RGB")
    w, h = image.size
    big = image.resize((w * scale, h * scale), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(big)
    font = ImageFont.load_default()
    for k, r in enumerate(sample.regions):
        color = PALETTE[k % len(PALETTE)]
        x0, y0, x1, y1 = (v * scale for v in r.box)
        draw.rectangle([x0, y0, x1 - 1, y1 - 1], outline=color, width=2)
        label = r.category
        if r.attributes.get("color") and r.category != "head":
            label = f"{r.attributes['color']} {label}"
        draw.text((x0 + 2, max(y0 - 11, 0)), label, fill=color, font=font)
    for head in sample.heads:
        x0, y0, x1, y1 = (v * scale for v in head.box)
        draw_pose_axes(draw, ((x0 + x1) / 2, (y0 + y1) / 2), head.yaw, head.pitch, head.roll, max(x1 - x0, 12) * 0.9)
        for x, y in head.landmarks.values():
            draw.ellipse([x * scale - 2, y * scale - 2, x * scale + 2, y * scale + 2], outline=(255, 255, 255))
    word_colors = []
    for u in sample.narrative:
        colors = [PALETTE[(len(word_colors) + j) % len(PALETTE)] for j in range(len(u.text.split()))]
        word_colors.append(colors)
        if not sample.width or len(u.trace) < 2 or not colors:
            continue
        span = max(u.end - u.start, 1e-6)
        for (x0, y0, t0), (x1, y1, _) in zip(u.trace, u.trace[1:]):
            word = min(int((t0 - u.start) / span * len(colors)), len(colors) - 1)
            draw.line([(x0 * w * scale, y0 * h * scale), (x1 * w * scale, y1 * h * scale)], fill=colors[word], width=2)
    panels = [big]
    depth = sample.load_depth()
    if depth is not None:
        panels.append(Image.fromarray(colorize_depth(depth)).resize(big.size, Image.Resampling.NEAREST))
    black = (0, 0, 0)
    # Each line is a list of (text, colour) pieces.
    lines = [[(f"{sample.id}  scene: {sample.scene_type or '-'}  domain: {sample.domain or '-'}", black)]]
    lines += [[(f"[{r.region}] {r.text}", black)] for r in sample.referring[:6]]
    for k, (u, colors) in enumerate(zip(sample.narrative[:4], word_colors)):
        lines.append([(f"({k})", black), *zip(u.text.split(), colors)])
    lines += [[(f"head: yaw {hd.yaw:+.1f} pitch {hd.pitch:+.1f} roll {hd.roll:+.1f}", black)] for hd in sample.heads]
    width = sum(p.width for p in panels)
    canvas = Image.new("RGB", (width, big.height + 12 * len(lines) + 6), (255, 255, 255))
    x = 0
    for p in panels:
        canvas.paste(p, (x, 0))
        x += p.width
    draw = ImageDraw.Draw(canvas)
    for k, pieces in enumerate(lines):
        x = 4
        for text, color in pieces:
            if x > width - 8:
                break
            draw.text((x, big.height + 3 + 12 * k), text, fill=color, font=font)
            x += draw.textlength(text + " ", font=font)
    return canvas
