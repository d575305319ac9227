"""The demo recording: the real DANNCE rig's numbers match the fixture calibration; the
recording's layout, cameras and truth agree."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from splatsynth.demo.recording import (
    RIG_SCALE,
    demo_recording_cameras,
    true_silhouette,
    walk_poses,
)
from splatsynth.demo.rigs import DANNCE_MOUSE_1, DANNCE_MOUSE_1_ARENA, DANNCE_MOUSE_1_SIZE
from splatsynth.scene_io.validate import border_cut_fraction

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dannce"


@pytest.mark.skipif(not (FIXTURES / "kyle_cam1_params.mat").is_file(),
                    reason="DANNCE fixture calibration absent")
def test_rig_numbers_are_the_fixture_calibration():
    from splatsynth.scene_io.importers.dannce import read_dannce
    from splatsynth.scene_io.normalize import nearest_point_to_axes

    cams = [c.pinhole(*DANNCE_MOUSE_1_SIZE) for c in read_dannce(FIXTURES).cameras]
    assert len(cams) == len(DANNCE_MOUSE_1)
    for cam, rc in zip(cams, DANNCE_MOUSE_1):
        np.testing.assert_allclose(np.asarray(rc.R), cam.R, atol=1e-9)
        np.testing.assert_allclose(rc.center, cam.center, atol=1e-7)
        np.testing.assert_allclose([rc.fx, rc.fy, rc.cx, rc.cy],
                                   [cam.fx, cam.fy, cam.cx, cam.cy], atol=1e-7)
    np.testing.assert_allclose(DANNCE_MOUSE_1_ARENA[:2], nearest_point_to_axes(cams)[:2],
                               atol=1e-7)


def test_rig_in_the_toy_world_keeps_the_geometry():
    cams = demo_recording_cameras((288, 256))
    full = demo_recording_cameras()
    for a, b, rc in zip(cams, full, DANNCE_MOUSE_1):
        np.testing.assert_allclose(a.R, np.asarray(rc.R))
        assert a.fx == pytest.approx(b.fx / 4) and a.cy == pytest.approx(b.cy / 4)
        dist_mm = np.linalg.norm(np.asarray(rc.center) - DANNCE_MOUSE_1_ARENA)
        assert np.linalg.norm(b.center[:2]) == pytest.approx(
            RIG_SCALE * np.linalg.norm(np.asarray(rc.center[:2]) - DANNCE_MOUSE_1_ARENA[:2]))
        assert 250 < dist_mm < 450  # about 30 cm from the arena centre, as the real rig


@pytest.fixture(scope="module")
def tiny_recording(tmp_path_factory) -> Path:
    from splatsynth.demo.recording import make_demo_recording

    return make_demo_recording(tmp_path_factory.mktemp("rec"), size=(288, 256), frames=4)


def test_recording_layout_and_truth(tiny_recording):
    rec = tiny_recording
    for sub in ("videos_undist", "simpleclick_undist"):
        assert sorted(p.name for p in (rec / sub).iterdir()) == [f"{k}.mp4" for k in range(6)]
    cams = pickle.loads((rec / "new_cam.pkl").read_bytes())
    truth = demo_recording_cameras((288, 256))
    for d, c in zip(cams, truth):
        np.testing.assert_allclose(d["K"][:2, 2] + 0.5, [c.cx, c.cy])
        np.testing.assert_allclose(d["R"] @ np.ones(3) + d["T"], c.R @ np.ones(3) + c.t)
    track = pickle.loads((rec / "keypoints2d_undist" / "result_view_0.pkl").read_bytes())
    assert track.shape == (4, 9, 3)
    for f in range(4):
        for k in range(6):
            sil = true_silhouette(rec, k, f)
            assert sil.sum() > 500 and border_cut_fraction(sil) == 0.0


def test_walk_turns_and_translates():
    P = walk_poses(60)
    assert np.ptp(P[:, 0, 3]) > 2.5 and np.ptp(P[:, 1, 3]) > 2.5
    yaw = np.unwrap(np.arctan2(P[:, 1, 0], P[:, 0, 0]))
    assert yaw[-1] - yaw[0] > np.radians(300)
