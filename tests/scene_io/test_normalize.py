"""Canonical frame: the similarity transform, the visual hull, and normalizing scenes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from splatsynth.cameras import Camera, orbit_cameras, rig_ring
from splatsynth.demo import render_toy_mouse, toy_mouse_scene
from splatsynth.errors import SceneError, SplatsynthError
from splatsynth.scene_io.normalize import (
    NormalizeConfig,
    Similarity,
    canonical_frame,
    carve_visual_hull,
    nearest_point_to_axes,
    normalize_scene,
    rotation_between,
)
from splatsynth.scene_io.scene import Scene, View


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def _random_similarity(rng: np.random.Generator, scale: float | None = None) -> Similarity:
    s = scale if scale is not None else float(np.exp(rng.uniform(-2, 2)))
    return Similarity(s, _random_rotation(rng), rng.normal(size=3) * 5)


# --- Similarity ------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(3))
def test_similarity_inverse_and_compose(seed):
    rng = np.random.default_rng(seed)
    a, b = _random_similarity(rng), _random_similarity(rng)
    x = rng.normal(size=(20, 3))
    np.testing.assert_allclose(a.inverse().apply_points(a.apply_points(x)), x, atol=1e-9)
    np.testing.assert_allclose(a.compose(b).apply_points(x), a.apply_points(b.apply_points(x)),
                               atol=1e-9)
    ident = a.compose(a.inverse())
    np.testing.assert_allclose(ident.matrix, np.eye(4), atol=1e-12)
    np.testing.assert_allclose((np.c_[x, np.ones(20)] @ a.matrix.T)[:, :3], a.apply_points(x),
                               atol=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_camera_to_canonical_preserves_projections(seed):
    rng = np.random.default_rng(seed)
    sim = _random_similarity(rng)
    cam = rig_ring(6, 30.0, 2.9, 200, 150, azimuth_offset=float(rng.uniform(0, 360)))[2]
    x = rng.normal(size=(50, 3)) * 0.5
    uv, z = cam.project(x)
    canon = sim.camera_to_canonical(cam)
    uv2, z2 = canon.project(sim.apply_points(x))
    np.testing.assert_allclose(uv2, uv, atol=1e-8)
    np.testing.assert_allclose(z2, sim.scale * z, rtol=1e-10)  # depths scale with the world
    np.testing.assert_allclose(canon.center, sim.apply_points(cam.center[None])[0], atol=1e-9)
    R = canon.R
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    back = sim.camera_from_canonical(canon)
    np.testing.assert_allclose(back.w2c, cam.w2c, atol=1e-9)
    assert back.file_path == cam.file_path and back.K.tolist() == cam.K.tolist()


def test_similarity_dict_round_trip_and_validation():
    sim = _random_similarity(np.random.default_rng(7), scale=37.0)
    doc = json.loads(json.dumps(sim.to_dict()))
    back = Similarity.from_dict(doc)
    assert back.scale == sim.scale
    np.testing.assert_array_equal(back.R, sim.R)
    np.testing.assert_array_equal(back.t, sim.t)
    for bad in ({"scale": 1.0, "R": np.diag([1, 1, -1]).tolist(), "t": [0, 0, 0]},
                {"scale": -2.0, "R": np.eye(3).tolist(), "t": [0, 0, 0]},
                {"scale": 1.0, "R": (2 * np.eye(3)).tolist(), "t": [0, 0, 0]},
                {"scale": 1.0, "R": np.eye(3).tolist(), "t": [0, 0]},
                {"R": np.eye(3).tolist(), "t": [0, 0, 0]}):
        with pytest.raises(SplatsynthError, match="normalization record"):
            Similarity.from_dict(bad)


@pytest.mark.parametrize("a, b", [((0, 0, 1), (0, 0, 1)), ((0, 0, -1), (0, 0, 1)),
                                  ((1, 2, 3), (0, 0, 1)), ((-1, 0, 0.01), (1, 0, 0))])
def test_rotation_between(a, b):
    R = rotation_between(np.array(a, float), np.array(b, float))
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)
    np.testing.assert_allclose(R @ (np.array(a) / np.linalg.norm(a)),
                               np.array(b) / np.linalg.norm(b), atol=1e-12)


# --- visual hull -----------------------------------------------------------------------------
SPHERE_C, SPHERE_R = np.array([0.1, -0.2, 0.05]), 0.5


def _sphere_mask(cam: Camera) -> np.ndarray:
    o, d = cam.pixel_rays()
    v = SPHERE_C - o
    along = (v * d).sum(-1)
    return (np.linalg.norm(v - along[..., None] * d, axis=-1) < SPHERE_R).astype(np.float32)


def test_visual_hull_of_a_sphere_contains_it_and_is_not_much_larger():
    cams = rig_ring(6, 30.0, 2.7, 128, 128)
    hull = carve_visual_hull(cams, [_sphere_mask(c) for c in cams], grid=64)
    dist = np.linalg.norm(hull.points - SPHERE_C, axis=1)
    # Contains the sphere: every voxel centre well inside it is kept.
    lo = hull.bounds[0]
    idx = np.argwhere(np.ones(hull.occupancy.shape, bool))
    centres = lo + (idx + 0.5) * hull.voxel_size
    inner = np.linalg.norm(centres - SPHERE_C, axis=1) < SPHERE_R - 1.5 * hull.voxel_size
    assert inner.sum() > 1000
    assert hull.occupancy.reshape(-1)[inner].all()
    # Not much larger: six views at 30 deg leave a little wedge under it, nothing more.
    volume = len(hull.points) * hull.voxel_size**3
    assert volume < 1.15 * 4 / 3 * math.pi * SPHERE_R**3
    assert dist.max() < 1.3 * SPHERE_R
    # The automatic box is tight round the hull.
    assert np.all(hull.bounds[0] > SPHERE_C - 1.8 * SPHERE_R)
    assert np.all(hull.bounds[1] < SPHERE_C + 1.8 * SPHERE_R)


def test_visual_hull_surface_flag_marks_voxels_with_a_free_neighbour():
    cams = rig_ring(6, 30.0, 2.7, 96, 96)
    hull = carve_visual_hull(cams, [_sphere_mask(c) for c in cams], grid=24)
    occ = np.pad(hull.occupancy, 1)
    free_nb = np.zeros_like(occ)
    for axis in range(3):
        for s in (-1, 1):
            free_nb |= ~np.roll(occ, s, axis)
    want = (occ & free_nb)[1:-1, 1:-1, 1:-1][hull.occupancy]
    np.testing.assert_array_equal(hull.surface, want)
    assert 0 < hull.surface.sum() < len(hull.points)
    np.testing.assert_allclose(
        hull.points, hull.bounds[0] + (np.argwhere(hull.occupancy) + 0.5) * hull.voxel_size)


def test_views_that_do_not_see_a_voxel_do_not_carve_it():
    cams = rig_ring(6, 30.0, 2.7, 128, 128)
    # One camera sees only the left third of its image: the sphere leaves its frame.
    cams[0] = cams[0].cropped(0, 0, 50, 128)
    masks = [_sphere_mask(c) for c in cams]
    assert masks[0].sum() > 0
    bounds = np.stack([SPHERE_C - 0.8, SPHERE_C + 0.8])
    hull = carve_visual_hull(cams, masks, grid=40, bounds=bounds)
    lo = hull.bounds[0]
    idx = np.argwhere(np.ones(hull.occupancy.shape, bool))
    centres = lo + (idx + 0.5) * hull.voxel_size
    inner = np.linalg.norm(centres - SPHERE_C, axis=1) < SPHERE_R - 1.5 * hull.voxel_size
    assert hull.occupancy.reshape(-1)[inner].all()


def test_visual_hull_checks_mask_sizes():
    cams = rig_ring(3, 30.0, 2.7, 64, 64)
    masks = [np.ones((64, 64))] * 2 + [np.ones((32, 64))]
    with pytest.raises(SplatsynthError, match="view_002.png: mask is"):
        carve_visual_hull(cams, masks)


def test_nearest_point_to_axes():
    cams = rig_ring(5, 25.0, 3.0, 64, 64)
    shift = np.array([0.3, -0.1, 0.2])
    moved = [Similarity(1.0, np.eye(3), shift).camera_to_canonical(c) for c in cams]
    np.testing.assert_allclose(nearest_point_to_axes(moved), shift, atol=1e-9)


# --- canonical frame on the demo mouse -------------------------------------------------------
@pytest.fixture(scope="module")
def mouse() -> Scene:
    return toy_mouse_scene(size=160)


def _moved(scene: Scene, sim: Similarity) -> Scene:
    """The same capture described in another world frame: x_new = sim(x_old)."""
    views = [View(sim.camera_to_canonical(v.camera), v.image, v.mask, v.keypoints)
             for v in scene.views]
    return Scene(scene.scene_id, views, scene.keypoint_names)


def test_mouse_is_centred_and_scaled(mouse):
    sim = canonical_frame(mouse, NormalizeConfig(grid=64))
    np.testing.assert_allclose(sim.R, np.eye(3))  # the rig agrees that +Z is up
    kp = sim.apply_points(mouse.extras["keypoints_3d"])
    # The body (not the tail) spans about the unit sphere, centred at the origin.
    body = kp[[n != "tail_tip" for n in mouse.keypoint_names]]
    assert np.abs(body.mean(0)).max() < 0.35
    assert 0.8 < np.linalg.norm(body, axis=1).max() < 1.3
    assert 0.85 < sim.scale < 1.2  # the demo world is already nearly canonical


def test_robust_extent_ignores_the_tail_sphere_does_not(mouse):
    sphere = canonical_frame(mouse, NormalizeConfig(extent="sphere", grid=64))
    bare = canonical_frame(mouse, NormalizeConfig(extent="robust", grid=64, thin_room=1.0))
    robust = canonical_frame(mouse, NormalizeConfig(extent="robust", grid=64))
    # Without room for the tail, the body alone sets the scale; with the default room the
    # frame zooms out just enough for the curled tail, still closer than the bounding sphere.
    assert bare.scale > 1.15 * sphere.scale
    assert bare.scale > robust.scale > 1.03 * sphere.scale
    # The bounding sphere keeps every keypoint (tail tip included) inside the radius.
    kp = sphere.apply_points(mouse.extras["keypoints_3d"])
    assert np.linalg.norm(kp, axis=1).max() < 1.0
    radius2 = canonical_frame(mouse, NormalizeConfig(extent="robust", grid=64, radius=2.0,
                                                     thin_room=1.0))
    assert radius2.scale == pytest.approx(2 * bare.scale)


def test_default_frame_keeps_the_whole_mouse_in_the_orbit_views(mouse):
    sim = canonical_frame(mouse, NormalizeConfig())
    cams = [sim.camera_from_canonical(c) for c in orbit_cameras(size=64)]
    _, alpha = render_toy_mouse(cams)
    border = np.concatenate([alpha[:, 0], alpha[:, -1], alpha[:, :, 0], alpha[:, :, -1]], 1)
    assert border.max() == 0
    assert (alpha > 0.5).mean() > 0.14  # and it fills the views


def _ball_and_tail_mask(cam: Camera) -> np.ndarray:
    """A ball of radius 0.5 with a straight tail (a capsule of radius 0.035) 1.5 long."""
    c, r, a, b, rt = np.array([-0.4, 0, 0]), 0.5, np.array([0.05, 0, -0.3]), \
        np.array([1.5, 0.2, -0.35]), 0.035
    o, d = cam.pixel_rays()
    v = c - o
    ball = np.linalg.norm(v - (v * d).sum(-1)[..., None] * d, axis=-1) < r
    # Closest points between each ray (o + s d, s >= 0) and the segment a + t (b - a).
    u, w0 = b - a, o - a
    B, C, D, E = d @ u, u @ u, (d * w0).sum(-1), w0 @ u
    t = np.clip((E - B * D) / (C - B * B), 0, 1)
    s_ = np.maximum(t * B - D, 0)
    gap = np.linalg.norm(o + s_[..., None] * d - (a + t[..., None] * u), axis=-1)
    return (ball | (gap < rt)).astype(np.float32)


def test_robust_extent_on_a_ball_with_a_long_tail():
    cams = rig_ring(6, 30.0, 3.2, 128, 128)
    views = [View(c, np.zeros((128, 128, 3), np.float32), _ball_and_tail_mask(c)) for c in cams]
    scene = Scene("ball_tail", views)
    sphere = canonical_frame(scene, NormalizeConfig(extent="sphere", grid=64))
    robust = canonical_frame(scene, NormalizeConfig(extent="robust", grid=64, thin_room=1.0))
    roomy = canonical_frame(scene, NormalizeConfig(extent="robust", grid=64))
    assert 1 / sphere.scale > 1.15  # the tail sets the bounding sphere
    assert 0.5 < 1 / robust.scale < 0.65  # the ball (and the hull's wedge under it)
    np.testing.assert_allclose(robust.apply_points(np.array([[-0.4, 0, 0]])), 0, atol=0.1)
    # Room for the tail zooms out by at most thin_room (1.25): the ball stays large.
    assert robust.scale / 1.25 - 1e-9 <= roomy.scale < robust.scale


def test_a_millimetre_rig_in_a_rotated_frame_normalizes_back(mouse):
    """Scale the world by 37 (mm), rotate and translate it: the canonical frame found from
    the moved scene puts every point where the original's does, up to a turn about +Z
    (nothing in the masks fixes the heading)."""
    cfg = NormalizeConfig(grid=64)
    sim0 = canonical_frame(mouse, cfg)
    rng = np.random.default_rng(3)
    S = Similarity(37.0, _random_rotation(rng), np.array([120.0, -40.0, 300.0]))
    sim1 = canonical_frame(_moved(mouse, S), cfg)
    total = sim1.compose(S)  # old world -> canonical, through the mm frame
    assert total.scale == pytest.approx(sim0.scale, rel=0.03)
    up0, up1 = sim0.R @ [0, 0, 1.0], total.R @ [0, 0, 1.0]
    assert np.degrees(np.arccos(np.clip(up0 @ up1, -1, 1))) < 3.0
    kp0 = sim0.apply_points(mouse.extras["keypoints_3d"])
    kp1 = total.apply_points(mouse.extras["keypoints_3d"])
    np.testing.assert_allclose(kp1[:, 2], kp0[:, 2], atol=0.05)
    np.testing.assert_allclose(np.linalg.norm(kp1[:, :2], axis=1),
                               np.linalg.norm(kp0[:, :2], axis=1), atol=0.05)


def test_scaled_and_shifted_rig_normalizes_back_exactly(mouse):
    """Without a rotation, up="z" recovers the whole transform."""
    cfg = NormalizeConfig(grid=64, up="z")
    sim0 = canonical_frame(mouse, cfg)
    S = Similarity(37.0, np.eye(3), np.array([120.0, -40.0, 300.0]))
    total = canonical_frame(_moved(mouse, S), cfg).compose(S)
    kp = mouse.extras["keypoints_3d"]
    np.testing.assert_allclose(total.apply_points(kp), sim0.apply_points(kp), atol=0.04)
    np.testing.assert_allclose(total.R, np.eye(3), atol=1e-12)


def test_up_modes(mouse):
    rng = np.random.default_rng(11)
    S = Similarity(1.0, _random_rotation(rng), np.zeros(3))
    moved = _moved(mouse, S)
    keep = canonical_frame(moved, NormalizeConfig(grid=32, up="z"))
    np.testing.assert_allclose(keep.R, np.eye(3))
    cams = canonical_frame(moved, NormalizeConfig(grid=32, up="cameras"))
    # The world's +Z, rotated by S, comes back to +Z (within the rig's tilt jitter).
    up = cams.R @ S.R @ np.array([0, 0, 1.0])
    assert up[2] > math.cos(math.radians(3.0))


def test_without_masks_the_cameras_set_the_frame():
    cams = orbit_cameras(views=8)
    shift = Similarity(1.0, np.eye(3), np.array([5.0, -2.0, 1.0]))
    views = [View(shift.camera_to_canonical(c), np.zeros((512, 512, 3), np.float32))
             for c in cams]
    sim = canonical_frame(Scene("nomask", views), NormalizeConfig())
    # A subject framed like a radius-1 subject in the default orbit gets radius 1.
    assert sim.scale == pytest.approx(1.0, rel=1e-6)
    np.testing.assert_allclose(sim.apply_points(np.array([[5.0, -2.0, 1.0]])), 0, atol=1e-6)


def test_empty_hull_is_a_scene_error():
    cams = rig_ring(4, 30.0, 2.7, 64, 64)
    masks = [np.zeros((64, 64), np.float32) for _ in cams]
    masks[0][20:40, 20:40] = 1.0
    views = [View(c, np.zeros((64, 64, 3), np.float32), m) for c, m in zip(cams, masks)]
    with pytest.raises(SceneError, match="visual hull is empty"):
        canonical_frame(Scene("empty", views), NormalizeConfig(grid=16))


def test_bad_config_values_are_user_errors():
    for kw in ({"radius": 0.0}, {"percentile": 0.0}, {"grid": 2}, {"extent": "box"},
               {"up": "y"}, {"thin": 1.0}, {"thin_room": 0.5}):
        with pytest.raises(SplatsynthError):
            NormalizeConfig(**kw)


def test_normalize_scene_moves_cameras_and_keeps_projections(mouse):
    sim = canonical_frame(mouse, NormalizeConfig(grid=48))
    out = normalize_scene(mouse, sim)
    assert out.scene_id == mouse.scene_id and out.keypoint_names == mouse.keypoint_names
    assert Similarity.from_dict(out.extras["normalization"]).scale == sim.scale
    kp3 = out.extras["keypoints_3d"]
    np.testing.assert_allclose(kp3, sim.apply_points(mouse.extras["keypoints_3d"]))
    for v0, v1 in zip(mouse.views, out.views):
        assert v1.image is v0.image and v1.mask is v0.mask and v1.keypoints is v0.keypoints
        uv, _ = v1.camera.project(kp3)
        np.testing.assert_allclose(uv, v0.keypoints[:, :2], atol=1e-8)
    # Undo: the recorded transform brings the cameras back.
    back = Similarity.from_dict(out.extras["normalization"])
    for v0, v1 in zip(mouse.views, out.views):
        np.testing.assert_allclose(back.camera_from_canonical(v1.camera).w2c, v0.camera.w2c,
                                   atol=1e-9)
    # Normalizing the normalized scene again changes (almost) nothing.
    again = canonical_frame(out, NormalizeConfig(grid=48))
    assert again.scale == pytest.approx(1.0, abs=0.03)
    np.testing.assert_allclose(again.t, 0, atol=0.03)
