import json

import numpy as np
import pytest

from splatsynth.cameras import (
    FACELIFT_FOCAL_512,
    OrbitConfig,
    mvdiffusion_cameras,
    orbit_cameras,
    rig_ring,
)


def test_gslrm_orbit_reproduces_facelift_cameras(facelift_dir):
    doc = json.loads((facelift_dir / "opencv_cameras.json").read_text())
    ours = orbit_cameras()
    assert len(ours) == len(doc["frames"]) == 32
    for frame, cam in zip(doc["frames"], ours):
        np.testing.assert_allclose(cam.w2c, np.asarray(frame["w2c"]), atol=1e-6)
        for k in ("fx", "fy", "cx", "cy", "w", "h"):
            assert getattr(cam, k) == pytest.approx(frame[k], abs=1e-9)
        np.testing.assert_allclose(cam.center, frame["blender_camera_location"], atol=1e-6)
        assert cam.file_path == frame["file_path"]


def test_orbit_camera_zero_matches_spec():
    cam = orbit_cameras()[0]
    np.testing.assert_allclose(cam.center, [2.5371700761, 0, 0.9234543870], atol=1e-9)
    np.testing.assert_allclose(cam.w2c, [[0, 1, 0, 0], [0.34202, 0, -0.93969, 0],
                                         [-0.93969, 0, -0.34202, 2.7], [0, 0, 0, 1]], atol=1e-5)


def test_mvdiffusion_layout_in_facelift_order(facelift_dir):
    doc = json.loads((facelift_dir / "mvdiffusion_6view_cameras.json").read_text())
    # FaceLift feeds its file's frames in the order [2, 1, 0, 5, 4, 3].
    expected = [doc["frames"][i] for i in (2, 1, 0, 5, 4, 3)]
    for frame, cam in zip(expected, mvdiffusion_cameras()):
        np.testing.assert_allclose(cam.w2c, np.asarray(frame["w2c"]), atol=1e-6)
    front = mvdiffusion_cameras()[0]
    np.testing.assert_allclose(front.center, [0, -2.7, 0], atol=1e-9)  # subject faces -Y


def test_orbit_parameters():
    cfg = OrbitConfig(views=8, elevation=-10, distance=4.0, size=256)
    cams = cfg.cameras()
    assert len(cams) == 8 and cams[0].w == 256
    assert cams[0].fx == pytest.approx(FACELIFT_FOCAL_512 / 2)
    for c in cams:
        assert np.linalg.norm(c.center) == pytest.approx(4.0)
        assert np.degrees(np.arcsin(c.center[2] / 4.0)) == pytest.approx(-10)
        uv, _ = c.project(np.zeros((1, 3)))
        np.testing.assert_allclose(uv[0], [128, 128], atol=1e-9)


def test_rig_ring_geometry():
    cams = rig_ring(6, elevation=30, distance=3.0, w=640, h=480)
    az = [np.degrees(np.arctan2(c.center[1], c.center[0])) % 360 for c in cams]
    np.testing.assert_allclose(np.diff(az), 60, atol=1e-9)
    assert all(c.w == 640 and c.h == 480 and c.cx == 320 for c in cams)
    assert len({c.file_path for c in cams}) == 6
