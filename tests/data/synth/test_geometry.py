"""The renderer's labels against independent geometry: SciPy rotations, analytic ray casting, masks."""

import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from groundlm.data.synth.camera import Camera
from groundlm.data.synth.generate import generate
from groundlm.data.synth.render import render
from groundlm.data.synth.scene import LANDMARKS_HEAD, Person, Scene, _head_primitives
from groundlm.data.synth.world import DOMAINS, SCENE_TYPES
from groundlm.geometry.rotations import euler_to_matrix


def _head_scene(yaw, pitch, roll, size=160):
    cam = Camera(size, size, 40.0, 1.64, 0.0)
    person = Person(
        1,
        2,
        "red",
        np.array([0.0, 0.9, 0.0]),
        yaw,
        pitch,
        roll,
        cam.world_from_camera @ euler_to_matrix(yaw, pitch, roll).numpy(),
    )
    person.primitives = _head_primitives(person, (0.87, 0.72, 0.6), (0.2, 0.1, 0.05))
    scene = Scene(
        cam, SCENE_TYPES["studio"], DOMAINS["classic"], np.array([0.3, -0.6, 0.74]), 0.8, 0.3, [], [], [person]
    )
    return cam, person, render(scene)


@pytest.mark.parametrize("pose", [(0, 0, 0), (45, 0, 0), (-60, 10, 0), (0, 30, 0), (20, -25, 15), (80, 0, -20)])
def test_nose_landmark_follows_the_rotation_convention(pose):
    yaw, pitch, roll = pose
    cam, person, r = _head_scene(yaw, pitch, roll)
    # Independent reference: SciPy's intrinsic ZYX Euler rotation applied in the camera frame.
    R = Rotation.from_euler("ZYX", [roll, yaw, pitch], degrees=True).as_matrix()
    nose_cam = cam.to_camera(person.head_center) + R @ np.array(LANDMARKS_HEAD["nose_tip"])
    u = cam.focal * nose_cam[0] / nose_cam[2] + cam.width / 2
    v = cam.focal * nose_cam[1] / nose_cam[2] + cam.height / 2
    px, z = cam.project(person.head_point(LANDMARKS_HEAD["nose_tip"]))
    assert px == pytest.approx([u, v], abs=1e-9) and z == pytest.approx(nose_cam[2])
    if abs(yaw) < 70:  # the tip is visible: pixels around it show the head, at the tip's depth
        i, j = int(v), int(u)
        window = (slice(i - 1, i + 2), slice(j - 1, j + 2))
        on_head = r.instances[window] == person.head_instance
        assert on_head.any()
        assert np.abs(r.depth[window][on_head] - nose_cam[2]).min() < 0.02
    centre_x = cam.project(person.head_center)[0][0]
    if yaw > 20:
        assert u < centre_x - 5  # positive yaw turns the face to the image left
    if yaw < -20:
        assert u > centre_x + 5


def test_pitch_and_roll_directions_in_the_picture():
    cam, person, _ = _head_scene(0, 30, 0)
    down = cam.project(person.head_point(LANDMARKS_HEAD["nose_tip"]))[0][1]
    cam, person, _ = _head_scene(0, 0, 0)
    level = cam.project(person.head_point(LANDMARKS_HEAD["nose_tip"]))[0][1]
    assert down > level + 3  # pitch > 0 tilts the face down
    cam, person, _ = _head_scene(0, 0, 30)
    left_eye, right_eye = (cam.project(person.head_point(LANDMARKS_HEAD[k]))[0] for k in ("left_eye", "right_eye"))
    assert left_eye[1] > right_eye[1]  # roll > 0 is clockwise: the image-right eye drops


def _pixel_rays(cam, xs, ys):
    """Camera-frame rays (z = 1) through pixel centres, computed here independently of Camera.rays()."""
    return np.stack(
        [(xs + 0.5 - cam.width / 2) / cam.focal, (ys + 0.5 - cam.height / 2) / cam.focal, np.ones(len(xs))], 1
    )


def _mask_box(mask):
    ys, xs = np.nonzero(mask)
    return (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)


@pytest.fixture(scope="module")
def generated():
    return [generate(7, i, domain, 128) for i, domain in enumerate(["classic", "portrait", "dusk", "vivid"] * 3)]


def test_boxes_match_instance_masks(generated):
    checked = 0
    for g in generated:
        inst = g.rendering.instances
        for r in g.sample.regions:
            mask = inst == r.mask_id
            if r.category == "person":  # a person's box covers body and head (head instance = body + 1)
                mask |= inst == r.mask_id + 1
            assert r.box == _mask_box(mask), (g.sample.id, r)
            checked += 1
    assert checked > 20


def test_depth_at_sphere_pixels_matches_analytic_ray_cast(generated):
    checked = 0
    for g in generated:
        cam = g.scene.camera
        for obj in g.scene.objects:
            if obj.shape != "sphere":
                continue
            ys, xs = np.nonzero(g.rendering.instances == obj.instance)
            if len(xs) == 0:
                continue
            # Camera-frame ray through each pixel centre (z = 1), solved against the sphere.
            d_cam = _pixel_rays(cam, xs, ys)
            c = cam.to_camera(obj.center)
            radius = obj.height / 2
            a = (d_cam**2).sum(1)
            b = -2 * d_cam @ c
            disc = b**2 - 4 * a * (c @ c - radius**2)
            t = (-b - np.sqrt(disc)) / (2 * a)
            assert np.allclose(g.rendering.depth[ys, xs], t, atol=2e-3)
            checked += len(xs)
    assert checked > 100


def test_depth_of_floor_pixels_is_the_plane_distance(generated):
    g = generated[0]
    cam = g.scene.camera
    ys, xs = np.nonzero((g.rendering.instances == 0) & (g.rendering.depth > 0))
    d_world = _pixel_rays(cam, xs, ys) @ cam.world_from_camera.T
    t_floor = -cam.cam_height / d_world[:, 2]
    on_floor = np.abs(g.rendering.depth[ys, xs] - t_floor) < 1e-3
    assert on_floor.mean() > 0.3  # the rest are walls


# --- referring expressions, re-evaluated from the Sample alone ------------------------------------------------


def _entity_ok(region, noun):
    return all(region.attributes.get(k) == v for k, v in noun.items())


def _select(program, sample):
    """An independent evaluator over Sample.regions: image x from boxes, depth and volume from geometry."""
    idx = [i for i, r in enumerate(sample.regions) if r.category != "head" and _entity_ok(r, program["noun"])]
    cx = {i: (sample.regions[i].box[0] + sample.regions[i].box[2]) / 2 for i in range(len(sample.regions))}
    z = {i: sample.regions[i].geometry.get("z") for i in range(len(sample.regions))}
    vol = {i: sample.regions[i].geometry.get("volume") for i in range(len(sample.regions))}
    rel = program.get("relation")
    if rel:
        (lm,) = _select(rel["landmark"], sample)
        test = {
            "left_of": lambda i: cx[i] < cx[lm] - 0.04 * sample.width,
            "right_of": lambda i: cx[i] > cx[lm] + 0.04 * sample.width,
            "in_front_of": lambda i: z[i] < z[lm] - 0.25,
            "behind": lambda i: z[i] > z[lm] + 0.25,
        }[rel["type"]]
        idx = [i for i in idx if i != lm and test(i)]
    sup = program.get("superlative")
    if sup:
        key = {
            "nearest": lambda i: z[i],
            "farthest": lambda i: -z[i],
            "largest": lambda i: -vol[i],
            "smallest": lambda i: vol[i],
        }[sup]
        idx = sorted(idx, key=key)[:1]
    return idx


def test_every_expression_selects_exactly_its_region(generated):
    n = 0
    for g in generated:
        for ref in g.sample.referring:
            assert _select(ref.program, g.sample) == [ref.region], (g.sample.id, ref.text)
            assert g.sample.regions[ref.region].category in ref.text or "person" in ref.text
            n += 1
    assert n > 30


def test_narrative_traces_lie_on_the_described_object(generated):
    n = 0
    for g in generated:
        inst = g.rendering.instances
        for u in g.sample.narrative:
            region = g.sample.regions[u.region]
            allowed = {region.mask_id} | ({region.mask_id + 1} if region.category == "person" else set())
            assert u.start < u.end and all(u.start <= t <= u.end for _, _, t in u.trace)
            for x, y, _ in u.trace:
                assert inst[int(y * g.sample.height), int(x * g.sample.width)] in allowed
                n += 1
    assert n > 100


def test_same_seed_same_sample_and_visible_fractions(generated):
    a, b = generate(7, 1, "portrait", 128), generated[1]
    assert np.array_equal(a.rendering.rgb, b.rendering.rgb) and a.sample.to_json() == b.sample.to_json()
    for g in generated:
        for r in g.sample.regions:
            assert 0 < r.visible_fraction <= 1
    assert not np.array_equal(generate(8, 1, "portrait", 128).rendering.rgb, b.rendering.rgb)


def test_all_scene_types_and_errors():
    for st in SCENE_TYPES:
        g = generate(1, 0, "classic", 64, scene_type=st)
        assert g.sample.scene_type == st and g.rendering.rgb.shape == (64, 64, 3)
    with pytest.raises(ValueError, match="unknown domain"):
        generate(0, 0, "noir")
    with pytest.raises(ValueError, match="unknown scene type"):
        generate(0, 0, "classic", 64, scene_type="castle")


def test_camera_rays_have_unit_forward_component():
    cam = Camera(32, 24, 60.0, 1.5, 15.0)
    forward = cam.world_from_camera[:, 2]
    assert np.allclose(cam.rays().reshape(-1, 3) @ forward, 1.0, atol=1e-6)
    assert cam.focal == pytest.approx(16 / math.tan(math.radians(30)))


def test_headshot_domains_frame_people_close_up():
    from groundlm.data.synth.generate import generate

    for domain in ("headshot", "headshot-dusk"):
        gens = [generate(4, i, domain, 96) for i in range(6)]
        assert all(len(g.scene.people) == 1 for g in gens)
        assert all(0.35 <= p.position[1] <= 0.55 for g in gens for p in g.scene.people)
        heads = [h for g in gens for h in g.sample.heads]
        assert heads and np.median([h.box[2] - h.box[0] for h in heads]) > 96 / 4  # over a quarter of the width
    dusk = generate(4, 0, "headshot-dusk", 96)
    assert dusk.sample.scene_type in ("courtyard", "corridor", "warehouse")
    assert all(abs(h.yaw) <= 75 and abs(h.pitch) <= 35 and abs(h.roll) <= 25 for h in dusk.sample.heads)


def test_sparse_domain_has_one_or_two_objects_and_no_people():
    gens = [generate(i, 3, "sparse", 64) for i in range(8)]
    assert all(not g.scene.people and 1 <= len(g.scene.objects) <= 2 for g in gens)
    assert {len(g.scene.objects) for g in gens} == {1, 2}
    assert sum(bool(g.sample.referring) for g in gens) >= 6  # an expression needs an unambiguous visible object
