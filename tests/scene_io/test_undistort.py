"""The OpenCV distortion model, its inverse, and image resampling (with skew removal)."""

from __future__ import annotations

import numpy as np
import pytest

from splatsynth.scene_io.undistort import (
    distort,
    distort_points,
    pinhole_K,
    undistort,
    undistort_image,
    undistort_points,
)

DISTS = [
    [-0.15926, 0.94034, -0.00109, -0.00379, -2.71164],  # DANNCE markerless_mouse_1 camera 1
    [-0.3, 0.1, 0.001, 0.002, 0.0],  # strong barrel, typical wide-angle
    [0.05, 0.0, 0.0, 0.0, 0.0],  # mild pincushion
]


def test_distort_matches_hand_computed_value():
    k1, k2, p1, p2, k3 = 0.1, -0.02, 0.003, -0.004, 0.005
    x, y = 0.3, -0.2
    r2 = x * x + y * y
    rad = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    xd = x * rad + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * rad + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    np.testing.assert_allclose(distort(np.array([x, y]), [k1, k2, p1, p2, k3]), [xd, yd],
                               rtol=0, atol=1e-15)


@pytest.mark.parametrize("dist", DISTS)
def test_undistort_inverts_distort(dist):
    g = np.linspace(-0.4, 0.4, 41)
    xy = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    back = undistort(distort(xy, dist), dist)
    assert np.isfinite(back).all()
    np.testing.assert_allclose(back, xy, rtol=0, atol=1e-12)


def test_points_round_trip_with_skew():
    K_src = np.array([[1667.66, -5.8153, 603.38], [0, 1674.17, 492.47], [0, 0, 1]])
    uv = np.random.default_rng(0).uniform([0, 0], [1152, 1024], (200, 2))
    und = undistort_points(uv, K_src, DISTS[0])
    K_dst = pinhole_K(K_src)
    assert K_dst[0, 1] == 0 and K_dst[0, 0] == K_src[0, 0] and K_dst[1, 2] == K_src[1, 2]
    np.testing.assert_allclose(distort_points(und, K_dst, DISTS[0], K_src), uv, atol=1e-9)


def _pattern(xy: np.ndarray) -> np.ndarray:
    """A smooth function of normalized camera coordinates (what the scene 'looks like')."""
    return 0.5 + 0.25 * np.sin(9 * xy[..., 0]) * np.cos(7 * xy[..., 1]) + 0.2 * xy[..., 0]


@pytest.mark.parametrize("skew", [0.0, 3.0])
def test_undistort_image_matches_the_ideal_pinhole_image(skew):
    """Render the pattern through a distorted, skewed camera; undistorting must give the
    pattern as the pinhole camera sees it (bilinear sampling error only)."""
    w, h = 160, 120
    K_src = np.array([[150.0, skew, 81.3], [0.0, 148.0, 58.9], [0.0, 0.0, 1.0]])
    dist = DISTS[1]
    # Distorted image: pixel centre -> distorted normalized -> undistort -> pattern.
    i, j = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5, indexing="xy")
    uv = np.stack([i, j], -1)
    yd = (uv[..., 1] - K_src[1, 2]) / K_src[1, 1]
    xd = (uv[..., 0] - K_src[0, 2] - skew * yd) / K_src[0, 0]
    src = _pattern(undistort(np.stack([xd, yd], -1), dist)).astype(np.float32)
    out = undistort_image(src, K_src, dist)
    K = pinhole_K(K_src)
    ideal = _pattern(np.stack([(i - K[0, 2]) / K[0, 0], (j - K[1, 2]) / K[1, 1]], -1))
    interior = (slice(10, -10), slice(10, -10))
    err = np.abs(out - ideal)[interior]
    assert err.max() < 0.01, err.max()
    # and the identity would be far off (the test can fail)
    assert np.abs(src - ideal)[interior].max() > 0.05


def test_undistort_image_fills_outside_and_keeps_channels():
    img = np.ones((20, 30, 3), np.float32)
    K = np.array([[20.0, 0, 15], [0, 20.0, 10], [0, 0, 1]])
    out = undistort_image(img, K, [0.4, 0, 0, 0, 0], fill=0.0)  # pincushion: corners see outside
    assert out.shape == (20, 30, 3)
    assert out[0, 0].max() == 0.0 and out[10, 15].min() == 1.0
    same = undistort_image(img[..., 0], K, None)
    assert same.shape == (20, 30) and np.allclose(same, 1.0)
