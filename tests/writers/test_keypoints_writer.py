"""Keypoint projection with occlusion, keypoints_2d.json and heatmaps."""

from __future__ import annotations

import json

import numpy as np
import pytest

from splatsynth.cameras import Camera, orbit_cameras
from splatsynth.writers import (
    keypoint_heatmaps,
    project_keypoints,
    write_heatmaps_npz,
    write_keypoints_json,
)


def _front_camera(size=64) -> Camera:
    """At (0, 0, -3) looking down +Z (identity rotation): z_cam = z_world + 3."""
    w2c = np.eye(4)
    w2c[2, 3] = 3.0
    return Camera(w2c, fx=50.0, fy=50.0, cx=size / 2, cy=size / 2, w=size, h=size)


def test_projection_visibility_cases():
    cam = _front_camera()
    pts = np.array([
        [0.0, 0.0, 0.0],      # 0 centre: visible (depth map surface at its depth)
        [0.3, 0.0, 0.5],      # 1 behind a surface at depth 3.0 -> occluded
        [10.0, 0.0, 0.0],     # 2 outside the image
        [0.0, 0.0, -5.0],     # 3 behind the camera
        [np.nan, 0.0, 0.0],   # 4 unknown
        [0.0, 0.3, 0.02],     # 5 within tol of the surface -> visible
        [-1.2, -1.2, 1.0],    # 6 where nothing was rendered (depth 0): visible
    ])
    depth = np.full((1, 64, 64), 3.0, np.float32)
    depth[0, :20, :20] = 0.0  # background region
    kp = project_keypoints(pts, [cam], depth, tol=0.05)
    assert kp.shape == (1, 7, 3)
    np.testing.assert_array_equal(kp[0, :, 2], [1, 0, 0, 0, 0, 1, 1])
    np.testing.assert_allclose(kp[0, 0, :2], [32.0, 32.0])
    np.testing.assert_allclose(kp[0, 1, :2], [32 + 50 * 0.3 / 3.5, 32.0])  # kept when occluded
    assert np.isfinite(kp[0, 2, :2]).all()
    assert np.isnan(kp[0, 3, :2]).all() and np.isnan(kp[0, 4, :2]).all()
    # Without depth maps only geometry decides.
    np.testing.assert_array_equal(project_keypoints(pts, [cam])[0, :, 2], [1, 1, 0, 0, 0, 1, 1])


def test_occlusion_uses_the_pixel_containing_the_point():
    cam = _front_camera(8)
    # The point projects to x = 4 + 50 * 0.05 / 3 = 4.83 -> pixel column 4, not 5.
    p = np.array([[0.05, 0.0, 0.0]])
    depth = np.full((1, 8, 8), 10.0)
    depth[0, :, 5] = 1.0
    assert project_keypoints(p, [cam], depth)[0, 0, 2] == 1
    depth[0, :, 4] = 1.0
    assert project_keypoints(p, [cam], depth)[0, 0, 2] == 0


def test_keypoints_json_roundtrip(tmp_path):
    cams = orbit_cameras(views=3, size=64)
    pts = np.array([[0.0, 0.0, 0.0], [np.nan] * 3])
    kp = project_keypoints(pts, cams, None)
    write_keypoints_json(tmp_path, ["snout", "tail"], {c.file_path: k for c, k in zip(cams, kp)})
    doc = json.loads((tmp_path / "keypoints_2d.json").read_text())
    assert doc["names"] == ["snout", "tail"]
    assert list(doc["views"]) == ["images/cam_000.png", "images/cam_001.png", "images/cam_002.png"]
    assert doc["views"]["images/cam_001.png"] == [[32.0, 32.0, 1], [None, None, 0]]
    back = np.array(doc["views"]["images/cam_000.png"], dtype=float)
    assert np.isnan(back[1, 0])
    with pytest.raises(Exception, match="expected \\[2, 3\\]"):
        write_keypoints_json(tmp_path, ["a", "b"], {"x": np.zeros((3, 3))})


def test_heatmaps_peak_at_keypoints(tmp_path):
    kp = np.array([[[10.5, 20.5, 1.0], [3.0, 3.0, 0.0]],
                   [[40.2, 7.7, 1.0], [np.nan, np.nan, 0.0]]])
    hm = keypoint_heatmaps(kp, (32, 64), sigma=1.5)
    assert hm.shape == (2, 2, 32, 64)
    assert np.unravel_index(np.argmax(hm[0, 0]), (32, 64)) == (20, 10)
    assert hm[0, 0, 20, 10] == pytest.approx(1.0)
    assert np.unravel_index(np.argmax(hm[1, 0]), (32, 64)) == (7, 40)
    assert hm[0, 1].max() == 0 and hm[1, 1].max() == 0
    # Half resolution: keypoint (10.5, 20.5) in a 64x128 image lands at (5.25, 10.25).
    small = keypoint_heatmaps(kp, (32, 64), sigma=1.5, image_size=(64, 128))
    # Nearest pixel centres (i + 0.5): x 5.25 -> column 5, y 10.25 -> row 10.
    assert np.unravel_index(np.argmax(small[0, 0]), (32, 64)) == (10, 5)
    assert small[0, 0, 10, 5] == pytest.approx(np.exp(-(0.25**2 + 0.25**2) / (2 * 1.5**2)))
    p = write_heatmaps_npz(tmp_path, kp, (32, 64), sigma=1.5)
    with np.load(p) as z:
        assert z["heatmaps"].dtype == np.float16 and z["heatmaps"].shape == (2, 2, 32, 64)
        np.testing.assert_allclose(z["heatmaps"], hm, atol=1e-3)
