"""--rig.refine: the rig's calibration refined once from the recording's keypoint tracks.

The demo recording's tracks are the toy mouse's exact keypoints; its calibration is the rig it
was filmed with. Turning two cameras of the calibration file by a degree must be undone in the
written scenes (and flagged), the exact rig must stay put, ``off`` must leave the file's
calibration, and missing or junk tracks must be a recorded refusal, never a traceback.
"""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from splatsynth.cameras import Camera
from splatsynth.demo.recording import demo_recording_cameras
from splatsynth.ingest import IngestConfig, ingest
from splatsynth.ingest.config import RigConfig
from splatsynth.ingest.rig import refine_cameras
from splatsynth.optim.pose import perturb_cameras, relative_pose_errors

from .conftest import SIZE

PERTURBED = (2, 4)
DEG = 1.0


def _copy(small_recording: Path, dst: Path) -> Path:
    return Path(shutil.copytree(small_recording, dst / small_recording.name))


def _perturb_calibration(rec: Path) -> None:
    """Turn cameras PERTURBED of new_cam.pkl by DEG about random axes through their centres
    (10 frames at 288 x 256 cannot tell a small centre error from a turn; the benchmark
    covers those)."""
    path = rec / "new_cam.pkl"
    cams = pickle.loads(path.read_bytes())
    truth = demo_recording_cameras(SIZE)
    bad = perturb_cameras(truth, PERTURBED, DEG, 0.0, np.zeros(3), seed=3)
    for i in PERTURBED:
        cams[i]["R"], cams[i]["T"] = bad[i].R.copy(), bad[i].t.copy()
    path.write_bytes(pickle.dumps(cams))


def _ingest(rec: Path, out: Path, **rig) -> object:
    # Labels a quarter of the real rig's 3 px at a quarter of its frame size.
    rig.setdefault("noise_px", 0.75)
    cfg = IngestConfig(frames="0:2", size=96, progress=False, cross_view=False,
                       rig=RigConfig(**rig))
    return ingest("markerless", rec, out, cfg)


def _scene_rotations(scene: Path) -> list[np.ndarray]:
    doc = json.loads((scene / "cameras.json").read_text())
    return [np.asarray(f["w2c"])[:3, :3] for f in doc["frames"]]


def _angles(Ra: list[np.ndarray], Rb: list[np.ndarray]) -> np.ndarray:
    return np.degrees([np.arccos(np.clip((np.trace(a @ b.T) - 1) / 2, -1, 1))
                       for a, b in zip(Ra, Rb)])


@pytest.fixture(scope="module")
def perturbed(small_recording, tmp_path_factory):
    rec = _copy(small_recording, tmp_path_factory.mktemp("bad_rig"))
    _perturb_calibration(rec)
    return rec


def test_perturbed_rig_is_recovered_recorded_and_flagged(perturbed, tmp_path):
    s = _ingest(perturbed, tmp_path / "scenes")
    truth = [c.R for c in demo_recording_cameras(SIZE)]
    assert s.rig is not None and s.rig.applied, s.rig.reason
    for scene in s.written:
        err = _angles(_scene_rotations(scene), truth)
        assert err.max() < 0.2, err  # the crop does not turn a camera
    assert sorted(s.rig.suspect) == [f"cam{i}" for i in PERTURBED]
    src = json.loads((s.written[0] / "source.json").read_text())["rig"]
    assert src["applied"] and src["report"] == "rig_toy_mouse_walk.json"
    for i in PERTURBED:
        assert abs(src["rotation_deg"][f"cam{i}"] - DEG) < 0.25
        assert src["shift_px"][f"cam{i}"] > 1.0
    assert src["residual_px_after"]["median"] < src["residual_px_before"]["median"] / 5
    report = json.loads((s.out / "rig_toy_mouse_walk.json").read_text())
    assert [c["suspect"] for c in report["cameras"]] == [i in PERTURBED for i in range(6)]
    assert len(report["frames"]) == 10  # every frame of the recording, not just the selected
    text = str(s)
    assert "WARNING: camera cam2" in text and "WARNING: camera cam4" in text


def test_off_keeps_the_calibration_as_given(perturbed, tmp_path):
    s = _ingest(perturbed, tmp_path / "scenes", refine="off")
    given = [np.asarray(d["R"]) for d in pickle.loads((perturbed / "new_cam.pkl").read_bytes())]
    assert _angles(_scene_rotations(s.written[0]), given).max() < 2e-3  # written rounded
    assert json.loads((s.written[0] / "source.json").read_text())["rig"]["refine"] == "off"
    assert "--rig.refine off" in str(s)


def test_exact_rig_stays(small_recording, tmp_path):
    s = _ingest(_copy(small_recording, tmp_path), tmp_path / "scenes")
    truth = [c.R for c in demo_recording_cameras(SIZE)]
    assert _angles(_scene_rotations(s.written[0]), truth).max() < 0.01
    assert s.rig.suspect == [] and "WARNING" not in str(s)


def test_missing_tracks_are_a_recorded_refusal(small_recording, tmp_path):
    rec = _copy(small_recording, tmp_path)
    shutil.rmtree(rec / "keypoints2d_undist")
    s = _ingest(rec, tmp_path / "scenes")
    src = json.loads((s.written[0] / "source.json").read_text())["rig"]
    assert src["applied"] is False and "no keypoint tracks" in src["reason"]
    assert "not refined from keypoint tracks: the recording has no keypoint tracks" in str(s)


def test_junk_tracks_are_a_recorded_refusal(perturbed, tmp_path):
    rec = _copy(perturbed, tmp_path)
    rng = np.random.default_rng(0)
    for k in range(6):  # labels scattered anywhere in the frame: no rig agrees with them
        p = rec / "keypoints2d_undist" / f"result_view_{k}.pkl"
        t = pickle.loads(p.read_bytes())
        t[..., 0] = rng.uniform(0, SIZE[0], t.shape[:2])
        t[..., 1] = rng.uniform(0, SIZE[1], t.shape[:2])
        p.write_bytes(pickle.dumps(t))
    s = _ingest(rec, tmp_path / "scenes")
    given = [np.asarray(d["R"]) for d in pickle.loads((rec / "new_cam.pkl").read_bytes())]
    if s.rig.applied:  # junk may fit with a turn; the turn must then be flagged, not silent
        assert s.rig.suspect
    else:
        assert s.rig.reason
        assert _angles(_scene_rotations(s.written[0]), given).max() < 2e-3  # written rounded


def test_unseen_tracks_refuse_with_a_reason():
    cams = demo_recording_cameras(SIZE)
    r = refine_cameras(cams, np.zeros((6, 4, 9, 3)), RigConfig())
    assert not r.applied and "gauge view 0" in r.reason
    r = refine_cameras(cams, np.zeros((5, 4, 9, 3)), RigConfig())
    assert not r.applied and "no usable keypoint tracks" in r.reason
    assert r.cameras == cams


@pytest.mark.parametrize("knob,value", [("frames", 0), ("noise_px", 0.0), ("centre_sigma", -1.0),
                                        ("warn_deg", 0.0), ("refine", "bundle")])
def test_rig_knobs_are_checked(knob, value):
    from splatsynth.errors import SplatsynthError

    with pytest.raises(SplatsynthError, match=f"ingest.rig.{knob}"):
        RigConfig(**{knob: value})


def test_relative_errors_agree_with_the_angles():
    """The helper the tests judge by measures what relative_pose_errors does for gauge 0."""
    cams = demo_recording_cameras(SIZE)
    bad = perturb_cameras(cams, (1,), 0.7, 0.0, np.zeros(3), seed=1)
    rot, _ = relative_pose_errors(bad, cams, 0)
    assert abs(rot[1] - _angles([bad[1].R], [cams[1].R])[0]) < 1e-6
    assert isinstance(bad[1], Camera)
