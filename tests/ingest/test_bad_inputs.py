"""Every bad-input class is refused before any scene is written: exit 1, a message naming the
file, no traceback."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from splatsynth.cli import main

from .conftest import SIZE, write_video


@pytest.fixture
def rec(small_recording, tmp_path) -> Path:
    """A private copy of the small recording to break."""
    return Path(shutil.copytree(small_recording, tmp_path / "rec"))


def _frames(n: int, size=SIZE, gray=False) -> list[np.ndarray]:
    shape = (size[1], size[0]) if gray else (size[1], size[0], 3)
    return [np.full(shape, 40 + 10 * i, np.uint8) for i in range(n)]


def _run(capsys, *args) -> tuple[int, str]:
    code = main(["ingest", *map(str, args), "--no-progress"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def _break(rec: Path, kind: str) -> str:
    """Break the recording one way; return the file the message must name."""
    v = rec / "videos_undist"
    if kind == "frame counts differ":
        write_video(v / "3.mp4", _frames(7))
        return "3.mp4"
    if kind == "rates differ":
        write_video(v / "2.mp4", _frames(10), fps=25)
        return "2.mp4"
    if kind == "unreadable video":
        (v / "1.mp4").write_bytes(b"not a video at all" * 100)
        return "1.mp4"
    if kind == "truncated video":
        data = (v / "4.mp4").read_bytes()
        (v / "4.mp4").write_bytes(data[: len(data) // 2])
        return "4.mp4"
    if kind == "camera count differs":
        cams = pickle.loads((rec / "new_cam.pkl").read_bytes())
        (rec / "new_cam.pkl").write_bytes(pickle.dumps(cams[:5]))
        return "new_cam.pkl"
    if kind == "mask size differs":
        write_video(rec / "simpleclick_undist" / "0.mp4", _frames(10, (144, 128), gray=True))
        return "simpleclick_undist/0.mp4"
    if kind == "missing video":
        (v / "5.mp4").unlink()
        return "videos_undist"
    if kind == "malicious pickle":
        (rec / "new_cam.pkl").write_bytes(pickle.dumps(shutil.rmtree))
        return "new_cam.pkl"
    if kind == "bad rotation":
        cams = pickle.loads((rec / "new_cam.pkl").read_bytes())
        cams[2]["R"] = cams[2]["R"] * 2
        (rec / "new_cam.pkl").write_bytes(pickle.dumps(cams))
        return "new_cam.pkl camera 2"
    if kind == "short keypoint track":
        p = rec / "keypoints2d_undist" / "result_view_0.pkl"
        p.write_bytes(pickle.dumps(pickle.loads(p.read_bytes())[:4]))
        return "keypoint track"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", [
    "frame counts differ", "rates differ", "unreadable video", "truncated video",
    "camera count differs", "mask size differs", "missing video", "malicious pickle",
    "bad rotation", "short keypoint track",
])
def test_bad_recording_exits_1_naming_the_file(rec, tmp_path, capsys, kind):
    name = _break(rec, kind)
    code, err = _run(capsys, "markerless", rec, "--out", tmp_path / "scenes")
    assert code == 1, err
    assert name in err, err
    assert not list((tmp_path / "scenes").glob("*_f*")) if (tmp_path / "scenes").exists() else True


@pytest.mark.parametrize("args, what", [
    (["--frames", "5:99"], "ends at frame 99"),
    (["--frames", "10:"], "starts at frame 10"),
    (["--skip", "3,12"], "beyond"),
    (["--masks", "videos"], "no mask videos"),
])
def test_frames_out_of_range_and_missing_masks(rec, tmp_path, capsys, args, what):
    if "videos" in args:
        shutil.rmtree(rec / "simpleclick_undist")
    code, err = _run(capsys, "markerless", rec, "--out", tmp_path / "s", *args)
    assert code == 1 and what in err and str(rec) in err, err


def test_truncated_video_whose_header_claims_more_frames(rec, tmp_path, capsys):
    # A header that promises 10 frames over data for 6: decoding stops early.
    import av

    src = rec / "videos_undist" / "0.mp4"
    with av.open(str(src)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    write_video(src, frames[:6])
    from splatsynth.ingest.video import VideoFile

    v = VideoFile(src)
    v.n_frames = 10  # as a damaged index would claim
    from splatsynth.errors import SplatsynthError

    with pytest.raises(SplatsynthError, match="0.mp4: truncated"):
        list(v.read(range(8)))


def test_dannce_and_manifest_errors_name_files(tmp_path, capsys):
    code, err = _run(capsys, "dannce", tmp_path, "--out", tmp_path / "s")
    assert code == 1 and "no calibration" in err and str(tmp_path) in err
    bad = tmp_path / "m.yaml"
    bad.write_text("cameras: [{video: nope.mp4, K: [[1,0,0],[0,1,0],[0,0,1]]}]\n")
    code, err = _run(capsys, "manifest", bad, "--out", tmp_path / "s")
    assert code == 1 and "nope.mp4" in err
    bad.write_text("cameras: {a: 1}\n")
    code, err = _run(capsys, "manifest", bad, "--out", tmp_path / "s")
    assert code == 1 and "m.yaml" in err
