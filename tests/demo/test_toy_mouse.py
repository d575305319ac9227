"""The toy mouse's ray caster and keypoints, checked against independent geometry."""

from __future__ import annotations

import numpy as np
import pytest

from splatsynth.cameras import Camera, camera_on_sphere, look_at_w2c, orbit_cameras
from splatsynth.demo import TOY_MOUSE_KEYPOINTS, keypoint_visibility, render_toy_mouse
from splatsynth.demo.toy_mouse import TOY_MOUSE


def _points_inside(n: int, seed: int = 0) -> np.ndarray:
    """[n', 3] random points inside the mouse's primitives (shrunk a little, so they are not on
    the silhouette), by sampling each ellipsoid's unit ball."""
    rng = np.random.default_rng(seed)
    per = max(n // len(TOY_MOUSE.centers), 4)
    out = []
    for c, A, r in zip(TOY_MOUSE.centers, TOY_MOUSE.axes, TOY_MOUSE.radii):
        u = rng.normal(size=(per, 3))
        u *= (rng.random(per) ** (1 / 3) / np.linalg.norm(u, axis=1))[:, None] * 0.8
        out.append(c + (u * r) @ A.T)
    return np.concatenate(out)


@pytest.fixture(scope="module")
def small_views():
    cams = orbit_cameras(views=4, size=96) + [camera_on_sphere(30.0, 70.0, 2.7, 96)]
    rgb, alpha = render_toy_mouse(cams)
    return cams, rgb, alpha


def test_points_inside_the_mouse_project_inside_its_mask(small_views):
    cams, _, alpha = small_views
    pts = _points_inside(3000)
    for cam, a in zip(cams, alpha):
        uv, z = cam.project(pts)
        assert (z > 0).all()
        ij = np.floor(uv).astype(int)
        # The thin tail end is under a pixel wide here, so its 2x2 samples may fall beside it:
        # ask for coverage within one pixel.
        grown = np.pad(a, 1)
        grown = np.max([grown[dy:dy + a.shape[0], dx:dx + a.shape[1]]
                        for dy in range(3) for dx in range(3)], axis=0)
        assert grown[ij[:, 1], ij[:, 0]].min() > 0.0, cam.file_path
        assert (a[ij[:, 1], ij[:, 0]] > 0).mean() > 0.99, cam.file_path


def test_mask_is_no_bigger_than_the_projected_primitives(small_views):
    """Every covered pixel lies within the projected bounding circle of some primitive."""
    cams, _, alpha = small_views
    for cam, a in zip(cams, alpha):
        uv, z = cam.project(TOY_MOUSE.centers)
        rad = TOY_MOUSE.radii.max(1) * cam.fx / (z - TOY_MOUSE.radii.max(1)) + 1.0
        jj, ii = np.nonzero(a > 0)
        px = np.stack([ii + 0.5, jj + 0.5], 1)
        d = np.linalg.norm(px[:, None, :] - uv[None], axis=-1) - rad[None]
        assert (d.min(1) <= 0).all(), cam.file_path


def test_alpha_is_antialiased_coverage_and_colour_is_straight(small_views):
    _, rgb, alpha = small_views
    assert rgb.dtype == np.float32 and alpha.dtype == np.float32
    assert 0.0 <= alpha.min() and alpha.max() == 1.0
    edge = (alpha > 0) & (alpha < 1)
    assert edge.any()
    assert set(np.unique(alpha * 4).tolist()) <= {0.0, 1.0, 2.0, 3.0, 4.0}  # 2x2 samples
    assert (rgb[alpha == 0] == 0).all()
    # Straight colour: edge pixels are as bright as the surface, not darkened by coverage.
    assert np.median(rgb[edge].mean(-1)) > 0.5 * np.median(rgb[alpha == 1].mean(-1))
    _, a1 = render_toy_mouse([orbit_cameras(views=1, size=48)[0]], supersample=1)
    assert set(np.unique(a1).tolist()) == {0.0, 1.0}


def test_render_is_deterministic():
    cam = orbit_cameras(views=1, size=64)[0]
    a = render_toy_mouse([cam])
    b = render_toy_mouse([cam])
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_lighting_is_fixed_in_the_world():
    """The key light comes from the mouse's right (-X): seen face on, the right flank is
    brighter than the left one, and each flank looks the same from two different cameras."""
    cams = [camera_on_sphere(az, 10.0, 2.7, 128) for az in (170.0, 190.0, -10.0, 10.0)]
    rgb, alpha = render_toy_mouse(cams)
    flanks = np.array([[-0.40, 0.15, -0.05]] * 2 + [[0.40, 0.15, -0.05]] * 2)
    patch = []
    for cam, im, a, p in zip(cams, rgb, alpha, flanks):
        (u, v), = cam.project(p[None])[0]
        u, v = int(u), int(v)
        assert a[v - 2:v + 3, u - 2:u + 3].min() == 1.0
        patch.append(im[v - 2:v + 3, u - 2:u + 3].mean())
    right, left = np.mean(patch[:2]), np.mean(patch[2:])
    assert right > 1.1 * left  # 0.52 vs 0.43 of the albedo from the two lights
    assert abs(patch[0] - patch[1]) < 0.15 * right and abs(patch[2] - patch[3]) < 0.15 * left


def _camera_facing(point: np.ndarray, direction: np.ndarray, size: int = 96) -> Camera:
    eye = point + 2.7 * direction / np.linalg.norm(direction)
    return Camera(look_at_w2c(eye, point), fx=110.0, fy=110.0, cx=size / 2, cy=size / 2,
                  w=size, h=size)


@pytest.mark.parametrize("name, towards, hidden_from", [
    ("nose", (0, -1, 0.3), (0, 1, 0.2)),
    ("ear_left", (1, 0, 0.5), (-1, 0, -0.6)),
    ("tail_tip", (1, 0.2, 0.6), (-1, -0.2, 0.1)),
    ("paw_front_right", (-1, -0.3, 0.0), (1, 0.3, 0.3)),
])
def test_keypoint_visibility_follows_occlusion(name, towards, hidden_from):
    k = TOY_MOUSE_KEYPOINTS.names.index(name)
    p = TOY_MOUSE_KEYPOINTS.points[k]
    centre = np.array([0.0, 0.0, 0.0])
    assert keypoint_visibility(_camera_facing(centre, np.array(towards, float)))[k]
    assert not keypoint_visibility(_camera_facing(centre, np.array(hidden_from, float)))[k], p


def test_keypoints_are_named_and_inside_the_mouse():
    names = TOY_MOUSE_KEYPOINTS.names
    assert {"nose", "ear_left", "ear_right", "tail_base", "tail_tip", "paw_front_left",
            "paw_front_right", "paw_hind_left", "paw_hind_right"} == set(names)
    pts = TOY_MOUSE_KEYPOINTS.points
    assert pts.shape == (len(names), 3)
    # Anatomy in the demo frame: facing -Y, left is +X, +Z up.
    P = dict(zip(names, pts))
    assert P["nose"][1] < P["ear_left"][1] < P["tail_base"][1]
    assert P["ear_left"][0] > 0 > P["ear_right"][0]
    assert P["paw_front_left"][0] > 0 > P["paw_front_right"][0]
    assert min(P[n][2] for n in names if n.startswith("paw")) < P["nose"][2] < P["ear_left"][2]
    assert np.linalg.norm(P["tail_tip"] - P["tail_base"]) > 0.5
