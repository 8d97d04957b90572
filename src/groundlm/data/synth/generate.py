"""One SpatialWorld sample: draw a scene, render it, and label everything that is visible.

``generate(seed, index, domain, size, scene_type)`` is a pure function of its arguments: the generator is seeded
with ``(seed, index, crc32(domain), crc32(scene_type))``, so any sample can be regenerated alone, in any process,
byte for byte, and splits that differ only in domain or forced scene type do not share layouts.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from groundlm.data.sample import Head, Referring, Region, Sample, Utterance
from groundlm.data.synth import language
from groundlm.data.synth.render import Rendering, render
from groundlm.data.synth.scene import LANDMARKS_HEAD, SHOULDER, Scene, sample_scene
from groundlm.data.synth.world import SCENE_TYPES, get_domain

MIN_PIXELS = 12  # a region needs this many visible pixels to be labelled


@dataclass
class Generated:
    sample: Sample
    rendering: Rendering
    scene: Scene


def _mask_box(mask: np.ndarray) -> tuple[float, float, float, float]:
    """Tight pixel ``xyxy`` box of a boolean mask: ``x1``/``y1`` are one past the last pixel."""
    ys = np.flatnonzero(mask.any(1))
    xs = np.flatnonzero(mask.any(0))
    return float(xs[0]), float(ys[0]), float(xs[-1] + 1), float(ys[-1] + 1)


def _facing(nose_x: float, box: tuple[float, float, float, float]) -> str:
    cx, w = (box[0] + box[2]) / 2, box[2] - box[0]
    if nose_x < cx - 0.2 * w:
        return "facing left"
    if nose_x > cx + 0.2 * w:
        return "facing right"
    return "facing the camera"


def pick_scene_type(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = list(SCENE_TYPES)
    w = np.array([weights.get(n, 1.0 if not weights else 0.0) for n in names], dtype=np.float64)
    return names[int(rng.choice(len(names), p=w / w.sum()))]


def generate(
    seed: int, index: int, domain: str = "classic", size: int | tuple[int, int] = 224, scene_type: str | None = None
) -> Generated:
    """Draw, render and label sample ``index`` of the stream ``seed``. ``size`` is pixels (W, H) or a side."""
    width, height = (size, size) if isinstance(size, int) else size
    dom = get_domain(domain)
    rng = np.random.default_rng([seed, index, zlib.crc32(domain.encode()), zlib.crc32((scene_type or "").encode())])
    st_name = scene_type or pick_scene_type(rng, dom.scene_weights)
    if st_name not in SCENE_TYPES:
        raise ValueError(f"unknown scene type {st_name!r}; known: {', '.join(SCENE_TYPES)}")
    scene = sample_scene(rng, SCENE_TYPES[st_name], dom, width, height)
    rendering = render(scene)
    cam = scene.camera
    inst = rendering.instances
    regions: list[Region] = []
    heads: list[Head] = []
    entities: list[language.Entity] = []
    masks: dict[int, np.ndarray] = {}
    facing: dict[int, str] = {}

    def visible(instance: int) -> tuple[np.ndarray, float] | None:
        mask = inst == instance
        count = int(mask.sum())
        if count < MIN_PIXELS:
            return None
        return mask, count / max(int(rendering.coverage[instance].sum()), 1)

    for obj in scene.objects:
        vis = visible(obj.instance)
        if vis is None:
            continue
        mask, fraction = vis
        attrs = {"category": obj.shape, "color": obj.color, "size": obj.size, "texture": obj.texture}
        centre = cam.to_camera(obj.center)
        box = _mask_box(mask)
        idx = len(regions)
        regions.append(
            Region(
                box,
                obj.shape,
                attrs,
                [],
                language.region_tags(attrs),
                obj.instance,
                round(fraction, 4),
                geometry={
                    "x": float(centre[0]),
                    "y": float(centre[1]),
                    "z": float(centre[2]),
                    "volume": float(obj.volume),
                },
            )
        )
        masks[idx] = mask
        entities.append(language.Entity(idx, attrs, (box[0] + box[2]) / 2, float(centre[2]), obj.volume))
    for person in scene.people:
        body = visible(person.body_instance)
        head = visible(person.head_instance)
        person_idx = -1
        if body is not None:
            mask, fraction = body
            full = mask | (inst == person.head_instance)
            attrs = {"category": "person", "color": person.shirt}
            centre = cam.to_camera(person.position + np.array([0.0, 0.0, SHOULDER / 2]))
            volume = float(np.pi * 0.17 * 0.13 * SHOULDER)
            box = _mask_box(full)
            person_idx = len(regions)
            regions.append(
                Region(
                    box,
                    "person",
                    attrs,
                    [],
                    language.region_tags(attrs),
                    person.body_instance,
                    round(fraction, 4),
                    geometry={"x": float(centre[0]), "y": float(centre[1]), "z": float(centre[2]), "volume": volume},
                )
            )
            masks[person_idx] = full
            entities.append(language.Entity(person_idx, attrs, (box[0] + box[2]) / 2, float(centre[2]), volume))
        if head is not None:
            mask, fraction = head
            box = _mask_box(mask)
            landmarks = {}
            for name, local in LANDMARKS_HEAD.items():
                px, _ = cam.project(person.head_point(local))
                landmarks[name] = (round(float(px[0]), 3), round(float(px[1]), 3))
            centre = cam.to_camera(person.head_center)
            idx = len(regions)
            attrs = {"category": "head", "person": str(person_idx)}
            facing[person_idx] = _facing(landmarks["nose_tip"][0], box)
            regions.append(
                Region(
                    box,
                    "head",
                    attrs,
                    [f"the head of a person {facing[person_idx]}"],
                    language.region_tags(attrs),
                    person.head_instance,
                    round(fraction, 4),
                    geometry={"x": float(centre[0]), "y": float(centre[1]), "z": float(centre[2])},
                )
            )
            heads.append(
                Head(
                    box,
                    round(person.yaw, 4),
                    round(person.pitch, 4),
                    round(person.roll, 4),
                    landmarks,
                    region=idx,
                    person=person_idx,
                )
            )
    for e in entities:
        regions[e.index].captions = language.region_captions(e, width, facing.get(e.index), rng)
    referring = [
        Referring(text, idx, program) for idx, text, program in language.referring_expressions(entities, width, rng)
    ]
    utterances = [
        Utterance(text, start, end, trace, region)
        for text, start, end, trace, region in language.narrative(entities, masks, st_name, width, height, rng)
    ]
    caption = ", ".join(u.text for u in utterances) + "." if utterances else f"An empty {st_name}."
    sample = Sample(
        id=f"sw{seed}_{index:07d}",
        width=width,
        height=height,
        regions=regions,
        referring=referring,
        heads=heads,
        captions=[caption],
        narrative=utterances,
        scene_type=st_name,
        domain=domain,
        extra={"camera": {"fov": cam.fov, "height": cam.cam_height, "tilt": cam.tilt, "focal": cam.focal}},
    )
    rgb, depth, instances = rendering.rgb, rendering.depth, rendering.instances
    sample.image_loader = lambda: _as_image(rgb)
    sample.depth_loader = lambda: depth
    sample.mask_loader = lambda: instances
    return Generated(sample, rendering, scene)


def _as_image(rgb: np.ndarray):
    from PIL import Image

    return Image.fromarray(rgb)
