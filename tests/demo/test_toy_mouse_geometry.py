"""Ground-truth depth and normals of the toy mouse, checked against closed-form geometry."""

from __future__ import annotations

import numpy as np
import pytest

from splatsynth.cameras import Camera, look_at_w2c, orbit_cameras
from splatsynth.demo import render_toy_mouse, render_toy_mouse_geometry
from splatsynth.demo.toy_mouse import TOY_MOUSE


def _eye_camera(dist: float, size: int = 17) -> tuple[Camera, np.ndarray, np.ndarray]:
    """A camera on the outward ray from the left eye's centre (a sphere), aimed at that centre
    so the middle pixel's centre ray is the optical axis through it."""
    i = TOY_MOUSE.part.index("eye_left")
    centre = TOY_MOUSE.centers[i]
    out = np.array([1.0, -0.6, 0.3])
    out /= np.linalg.norm(out)
    c = size / 2.0  # pixel (size // 2) has its centre here
    cam = Camera(look_at_w2c(centre + dist * out, centre), fx=400.0, fy=400.0, cx=c, cy=c,
                 w=size, h=size)
    return cam, centre, out


def test_depth_and_normal_of_a_known_sphere_point():
    cam, _, out = _eye_camera(1.5)
    radius = TOY_MOUSE.radii[TOY_MOUSE.part.index("eye_left")][0]
    depth, normals, alpha = render_toy_mouse_geometry([cam])
    m = cam.w // 2
    # The axis meets the eye sphere (nothing is in front of it from this side) one radius
    # before its centre; there the outward normal is the axis direction itself.
    assert depth[0, m, m] == pytest.approx(1.5 - radius, abs=1e-9)
    np.testing.assert_allclose(normals[0, m, m], out, atol=1e-9)
    assert alpha[0, m, m] == 1.0
    # Depth is camera z, not ray length: an off-axis pixel's depth times its z = 1 ray lands
    # on the eye sphere (read as a ray length it would miss the sphere by ~7e-5).
    d = np.array([(m + 4.5 - cam.cx) / cam.fx, (m + 0.5 - cam.cy) / cam.fy, 1.0])
    p = cam.center + depth[0, m, m + 4] * (cam.R.T @ d)
    assert np.linalg.norm(p - TOY_MOUSE.centers[TOY_MOUSE.part.index("eye_left")]) \
        == pytest.approx(radius, abs=1e-9)


@pytest.fixture(scope="module")
def orbit_geometry():
    cams = orbit_cameras(views=3, size=64)
    return cams, render_toy_mouse_geometry(cams)


def test_normals_are_unit_and_face_the_camera(orbit_geometry):
    cams, (depth, normals, _) = orbit_geometry
    for cam, z, n in zip(cams, depth, normals):
        hit = z > 0
        assert hit.sum() > 200
        np.testing.assert_allclose(np.linalg.norm(n[hit], axis=-1), 1.0, atol=1e-9)
        assert (n[~hit] == 0).all() and np.isfinite(z).all()
        jj, ii = np.nonzero(hit)
        rays = np.stack([(ii + 0.5 - cam.cx) / cam.fx, (jj + 0.5 - cam.cy) / cam.fy,
                         np.ones(len(ii))], -1) @ cam.R  # world directions
        assert ((n[hit] * rays).sum(-1) < 0).all()


def test_hits_lie_on_a_primitive_and_nothing_is_nearer(orbit_geometry):
    """Every first hit is on some ellipsoid's surface, and no primitive is entered before it
    (checked with plain quadric algebra, not the caster's screen-space shortcuts)."""
    cams, (depth, _, _) = orbit_geometry
    m = TOY_MOUSE.to_unit
    for cam, z in zip(cams, depth):
        jj, ii = np.nonzero(z > 0)
        d = np.stack([(ii + 0.5 - cam.cx) / cam.fx, (jj + 0.5 - cam.cy) / cam.fy,
                      np.ones(len(ii))], -1) @ cam.R
        p = cam.center + z[jj, ii, None] * d
        r = np.linalg.norm(np.einsum("pij,npj->npi", m, p[:, None] - TOY_MOUSE.centers), axis=-1)
        assert np.abs(r - 1.0).min(1).max() < 1e-6
        # 1% short of the hit, the point is outside every primitive.
        p_before = cam.center + 0.99 * z[jj, ii, None] * d
        r = np.linalg.norm(np.einsum("pij,npj->npi", m, p_before[:, None] - TOY_MOUSE.centers),
                           axis=-1)
        assert r.min() > 1.0


def test_coverage_matches_the_rgb_renderer_and_misses_have_no_depth(orbit_geometry):
    cams, (depth, _, alpha) = orbit_geometry
    _, ref = render_toy_mouse(cams)
    assert np.array_equal(alpha, ref)
    assert (depth[alpha == 0] == 0).all()
    assert (depth[alpha == 1] > 0).mean() > 0.99  # a fully covered pixel's centre ray hits
