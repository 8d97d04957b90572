"""Sampling a SpatialWorld scene: layout, objects, people and light, all from one seeded generator.

People have a body (cylinder), a neck and a head made of a skull, hair (top and back), a nose, two eyes, two ears
and a mouth. The head is modelled in a *head frame* that equals the camera frame at zero pose (x right, y down,
z away from the camera; the face looks along -z), and is rotated by ``R = euler_to_matrix(yaw, pitch, roll)``
(:mod:`groundlm.geometry.rotations`) in the camera frame: its pose label is the camera-relative pose by
construction. In the picture: yaw > 0 turns the face to the image left, pitch > 0 tilts it down, roll > 0
turns it clockwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from groundlm.data.synth.camera import Camera
from groundlm.data.synth.shapes import Primitive, frame, rotation_z
from groundlm.data.synth.world import SHAPES, SIZE_METRES, SIZES, Domain, SceneType
from groundlm.geometry.rotations import euler_to_matrix

# Head geometry in the head frame (metres). Landmarks are points on the visible surface.
SKULL_RADII = (0.078, 0.105, 0.095)
NOSE_CENTER, NOSE_RADII = (0.0, 0.025, -0.088), (0.014, 0.022, 0.03)
EYE_OFFSET = (0.032, -0.012)
EYE_RADIUS = 0.013
LANDMARKS_HEAD = {
    "nose_tip": (0.0, 0.025, -0.118),
    "left_eye": (0.032, -0.012, -0.086 - EYE_RADIUS / 2),  # the person's left: image right in a frontal view
    "right_eye": (-0.032, -0.012, -0.086 - EYE_RADIUS / 2),
}
SHOULDER = 1.45  # body cylinder top, metres
HEAD_CENTER_Z = 1.64


@dataclass
class SceneObject:
    instance: int
    shape: str
    color: str
    size: str
    texture: str
    position: np.ndarray  # world centre of the footprint on the floor (z = 0)
    height: float
    radius: float  # footprint radius (for placement and "largest")
    primitives: list[Primitive] = field(default_factory=list)

    @property
    def center(self) -> np.ndarray:
        return self.position + np.array([0.0, 0.0, self.height / 2])

    @property
    def volume(self) -> float:
        return math.pi * self.radius**2 * self.height


@dataclass
class Person:
    body_instance: int
    head_instance: int
    shirt: str
    position: np.ndarray
    yaw: float
    pitch: float
    roll: float
    head_rotation: np.ndarray  # world from head frame
    primitives: list[Primitive] = field(default_factory=list)

    @property
    def head_center(self) -> np.ndarray:
        return self.position + np.array([0.0, 0.0, HEAD_CENTER_Z])

    def head_point(self, local: tuple[float, float, float]) -> np.ndarray:
        """World position of a point given in the head frame."""
        return self.head_center + self.head_rotation @ np.asarray(local, dtype=np.float64)


@dataclass
class Scene:
    camera: Camera
    scene_type: SceneType
    domain: Domain
    light_dir: np.ndarray  # unit vector towards the light
    light: float
    ambient: float
    background: list[Primitive]
    objects: list[SceneObject]
    people: list[Person]

    def primitives(self) -> list[Primitive]:
        out = list(self.background)
        for o in self.objects:
            out += o.primitives
        for p in self.people:
            out += p.primitives
        return out


def _uniform(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    return float(rng.uniform(*lo_hi))


def _background(st: SceneType, domain: Domain) -> list[Primitive]:
    tint = np.array(domain.tint)
    floor = tuple(np.clip(np.array(st.floor) * tint, 0, 1))
    floor_alt = tuple(np.clip(np.array(st.floor_alt) * tint, 0, 1))
    wall = tuple(np.clip(np.array(st.wall) * tint, 0, 1))
    prims = [
        Primitive(
            "plane",
            np.zeros(3),
            np.ones(3),
            albedo=floor,
            texture=st.floor_texture,
            texture_color=floor_alt,
            texture_freq=1.5,
        )
    ]
    h = st.wall_height
    bounded = h is not None
    half = (h or 2.0) / 2.0
    walls = [
        (np.array([-st.half_width, 0.0, half]), frame([0, 1, 0], [0, 0, 1], [1, 0, 0])),
        (np.array([st.half_width, 0.0, half]), frame([0, -1, 0], [0, 0, 1], [-1, 0, 0])),
        (np.array([0.0, st.depth, half]), frame([1, 0, 0], [0, 0, 1], [0, -1, 0])),
    ]
    for center, rot in walls:
        scale = np.array([100.0, half if bounded else 100.0, 1.0])
        prims.append(Primitive("plane", center, scale, rot, albedo=wall, bounded=bounded))
    return prims


def _object_primitives(obj: SceneObject, domain: Domain, rng: np.random.Generator) -> list[Primitive]:
    albedo = domain.palette[obj.color]
    alt = (0.95, 0.95, 0.95) if obj.color not in ("white", "yellow") else (0.1, 0.1, 0.1)
    rot = rotation_z(float(rng.uniform(0, 90)))
    r, h = obj.radius, obj.height
    if obj.shape == "sphere":
        kind, scale, rot = "ellipsoid", np.array([r, r, r]), np.eye(3)
    elif obj.shape == "cube":
        kind, scale = "box", np.array([r / math.sqrt(2), r / math.sqrt(2), h / 2])
    elif obj.shape == "cylinder":
        kind, scale = "cylinder", np.array([r, r, h / 2])
    else:
        kind, scale = "cone", np.array([r, r, h / 2])
    return [
        Primitive(
            kind,
            obj.center,
            scale,
            rot,
            instance=obj.instance,
            albedo=albedo,
            texture=obj.texture,
            texture_color=alt,
            texture_freq=2.0,
        )
    ]


def _head_primitives(person: Person, skin, hair) -> list[Primitive]:
    R = person.head_rotation
    c = person.head_center
    inst = person.head_instance

    def part(kind, local_center, radii, albedo, **kw):
        return Primitive(
            kind,
            c + R @ np.asarray(local_center, float),
            np.asarray(radii, float),
            R,
            instance=inst,
            albedo=albedo,
            **kw,
        )

    eye = (0.04, 0.03, 0.03)
    ex, ey = EYE_OFFSET
    return [
        part("ellipsoid", (0, 0, 0), SKULL_RADII, skin),
        part("ellipsoid", (0, -0.004, 0.004), np.array(SKULL_RADII) + 0.009, hair, clip_face=True),
        part("ellipsoid", NOSE_CENTER, NOSE_RADII, tuple(0.92 * np.array(skin))),
        part("ellipsoid", (ex, ey, -0.086 + EYE_RADIUS / 2), (EYE_RADIUS,) * 3, eye),
        part("ellipsoid", (-ex, ey, -0.086 + EYE_RADIUS / 2), (EYE_RADIUS,) * 3, eye),
        part("ellipsoid", (0.078, 0.005, 0.005), (0.014, 0.032, 0.022), skin),
        part("ellipsoid", (-0.078, 0.005, 0.005), (0.014, 0.032, 0.022), skin),
        part("ellipsoid", (0.0, 0.062, -0.078), (0.024, 0.007, 0.012), (0.55, 0.18, 0.18)),
    ]


def _place(rng, st: SceneType, domain: Domain, cam: Camera, radius: float, taken: list, dist=None) -> np.ndarray | None:
    lo, hi = dist or domain.distance
    hi = min(hi, st.depth - radius - 0.3)
    half_fov = math.radians(cam.fov) / 2
    for _ in range(30):
        y = float(rng.uniform(lo, max(lo + 0.1, hi)))
        x_lim = min(y * math.tan(half_fov) * 0.85, st.half_width - radius - 0.1)
        if x_lim <= 0:
            continue
        x = float(rng.uniform(-x_lim, x_lim))
        p = np.array([x, y, 0.0])
        if all(np.linalg.norm(p[:2] - q[:2]) > radius + r + 0.12 for q, r in taken):
            taken.append((p, radius))
            return p
    return None


def sample_scene(rng: np.random.Generator, st: SceneType, domain: Domain, width: int, height: int) -> Scene:
    """Draw one scene; the same generator state gives the same scene."""
    cam_height, tilt = domain.cam_height or st.cam_height, domain.tilt or st.tilt
    cam = Camera(width, height, _uniform(rng, st.fov), _uniform(rng, cam_height), _uniform(rng, tilt))
    elevation = math.radians(rng.uniform(35, 70))
    azimuth = math.radians(rng.uniform(-150, -30))
    light_dir = np.array(
        [math.cos(elevation) * math.cos(azimuth), math.cos(elevation) * math.sin(azimuth), math.sin(elevation)]
    )
    taken: list = []
    instance = 1
    people = []
    n_people = domain.people or st.n_people
    person_distance = domain.person_distance or (max(1.2, domain.distance[0]), 3.2)
    for _ in range(int(rng.integers(n_people[0], n_people[1] + 1))):
        pos = _place(rng, st, domain, cam, 0.25, taken, dist=person_distance)
        if pos is None:
            continue
        yaw = float(rng.uniform(-domain.yaw, domain.yaw))
        pitch = float(rng.uniform(-domain.pitch, domain.pitch))
        roll = float(rng.uniform(-domain.roll, domain.roll))
        r_pose = euler_to_matrix(yaw, pitch, roll).numpy()
        person = Person(
            instance,
            instance + 1,
            str(rng.choice(list(domain.palette))),
            pos,
            yaw,
            pitch,
            roll,
            cam.world_from_camera @ r_pose,
        )
        instance += 2
        skin = domain.skin[int(rng.integers(len(domain.skin)))]
        hair = domain.hair[int(rng.integers(len(domain.hair)))]
        body = Primitive(
            "cylinder",
            pos + np.array([0, 0, SHOULDER / 2]),
            np.array([0.17, 0.13, SHOULDER / 2]),
            rotation_z(float(rng.uniform(-30, 30))),
            instance=person.body_instance,
            albedo=domain.palette[person.shirt],
        )
        neck = Primitive(
            "cylinder",
            pos + np.array([0, 0, SHOULDER + 0.06]),
            np.array([0.045, 0.045, 0.07]),
            instance=person.body_instance,
            albedo=skin,
        )
        person.primitives = [body, neck, *_head_primitives(person, skin, hair)]
        people.append(person)
    objects = []
    names = list(domain.textures)
    weights = np.array([domain.textures[n] for n in names])
    n_objects = domain.objects or st.n_objects
    for _ in range(int(rng.integers(n_objects[0], n_objects[1] + 1))):
        size = SIZES[int(rng.integers(len(SIZES)))]
        h = float(rng.uniform(*SIZE_METRES[size]))
        shape = SHAPES[int(rng.integers(len(SHAPES)))]
        radius = h / 2 if shape == "sphere" else h * float(rng.uniform(0.35, 0.6))
        pos = _place(rng, st, domain, cam, radius, taken)
        if pos is None:
            continue
        texture = str(rng.choice(names, p=weights / weights.sum()))
        obj = SceneObject(instance, shape, str(rng.choice(list(domain.palette))), size, texture, pos, h, radius)
        obj.primitives = _object_primitives(obj, domain, rng)
        objects.append(obj)
        instance += 1
    return Scene(
        cam,
        st,
        domain,
        light_dir,
        _uniform(rng, domain.light),
        _uniform(rng, domain.ambient),
        _background(st, domain),
        objects,
        people,
    )
