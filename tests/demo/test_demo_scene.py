"""The demo scene folder: layout, determinism, ground truth consistent with the cameras."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from splatsynth.cameras import Camera, orbit_cameras
from splatsynth.demo import (
    DEMO_SCENE_ID,
    TOY_MOUSE_KEYPOINTS,
    demo_rig_cameras,
    make_contact_sheet,
    make_demo_scene,
    render_toy_mouse,
    toy_mouse_scene,
)

SIZE = 128


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def scene_dir(tmp_path_factory) -> Path:
    return make_demo_scene(tmp_path_factory.mktemp("demo"), size=SIZE)


def _cameras(path: Path) -> list[Camera]:
    return [Camera.from_frame(f) for f in json.loads(path.read_text())["frames"]]


def _alpha(path: Path) -> np.ndarray:
    im = np.asarray(Image.open(path))
    assert im.ndim == 3 and im.shape[2] == 4, f"{path} is not RGBA"
    return im[..., 3].astype(np.float64) / 255.0


def test_layout(scene_dir: Path):
    assert scene_dir.name == DEMO_SCENE_ID
    doc = json.loads((scene_dir / "cameras.json").read_text())
    assert doc["id"] == DEMO_SCENE_ID
    paths = [f["file_path"] for f in doc["frames"]]
    assert paths == [f"images/view_{i:03d}.png" for i in range(6)]
    for p in paths:
        assert Image.open(scene_dir / p).size == (SIZE, SIZE)
    kp = json.loads((scene_dir / "keypoints.json").read_text())
    assert kp["names"] == list(TOY_MOUSE_KEYPOINTS.names)
    assert sorted(kp["views"]) == paths
    gt = json.loads((scene_dir / "gt" / "keypoints_3d.json").read_text())
    assert gt["names"] == kp["names"]
    np.testing.assert_allclose(gt["points"], TOY_MOUSE_KEYPOINTS.points)
    orbit = json.loads((scene_dir / "gt" / "orbit" / "opencv_cameras.json").read_text())
    assert len(orbit["frames"]) == 32
    for f in orbit["frames"]:
        assert Image.open(scene_dir / "gt" / "orbit" / f["file_path"]).mode == "RGBA"
    # Nothing left behind by the atomic write.
    assert [p.name for p in scene_dir.parent.iterdir()] == [DEMO_SCENE_ID]


def test_orbit_ground_truth_cameras_are_the_gslrm_orbit(scene_dir: Path):
    got = _cameras(scene_dir / "gt" / "orbit" / "opencv_cameras.json")
    want = orbit_cameras(size=SIZE)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.w2c, w.w2c, atol=1e-12)
        assert (g.fx, g.fy, g.cx, g.cy, g.w, g.h) == (w.fx, w.fy, w.cx, w.cy, w.w, w.h)
        assert g.file_path == w.file_path


def test_written_cameras_are_the_rig(scene_dir: Path):
    got = _cameras(scene_dir / "cameras.json")
    want = demo_rig_cameras(size=SIZE)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.w2c, w.w2c, atol=1e-12)
        np.testing.assert_allclose(g.K, w.K)
    # A jittered ring at ~30 deg elevation looking at the mouse.
    elev = [np.degrees(np.arcsin(c.center[2] / np.linalg.norm(c.center))) for c in got]
    assert all(25 < e < 36 for e in elev)
    az = np.sort(np.degrees(np.arctan2([c.center[1] for c in got], [c.center[0] for c in got])))
    gaps = np.diff(np.concatenate([az, az[:1] + 360]))
    assert 40 < gaps.min() and gaps.max() < 80 and gaps.std() > 0.5


def test_keypoints_are_projections_of_the_3d_keypoints(scene_dir: Path):
    cams = _cameras(scene_dir / "cameras.json")
    kp = json.loads((scene_dir / "keypoints.json").read_text())
    pts = np.asarray(json.loads((scene_dir / "gt" / "keypoints_3d.json").read_text())["points"])
    n_visible = np.zeros(len(pts), int)
    for cam in cams:
        xyc = np.asarray(kp["views"][cam.file_path])
        uv, z = cam.project(pts)
        np.testing.assert_allclose(xyc[:, :2], uv, atol=1e-9)
        assert set(xyc[:, 2].tolist()) <= {0.0, 1.0}
        n_visible += xyc[:, 2].astype(int)
    # Every keypoint is seen somewhere; a ring round the mouse loses the nose, tail tip and
    # paws behind the body in some views (only the ears stick up into every view).
    assert (n_visible >= 1).all(), n_visible
    for name, n in zip(kp["names"], n_visible):
        if not name.startswith("ear"):
            assert n < len(cams), name


def test_visible_keypoints_lie_inside_their_masks(scene_dir: Path):
    kp = json.loads((scene_dir / "keypoints.json").read_text())
    for path, rows in kp["views"].items():
        alpha = _alpha(scene_dir / path)
        for name, (x, y, conf) in zip(kp["names"], rows):
            if conf > 0:
                assert alpha[int(y), int(x)] > 0.5, (path, name)


def test_subject_is_framed_in_every_view(scene_dir: Path):
    for p in sorted(scene_dir.rglob("*.png")):
        a = _alpha(p)
        assert a[:2].max() == 0 and a[-2:].max() == 0, p
        assert a[:, :2].max() == 0 and a[:, -2:].max() == 0, p
        assert 0.04 < (a > 0.5).mean() < 0.5, p


def test_deterministic_bytes_and_seed_changes_the_rig(tmp_path: Path):
    a = make_demo_scene(tmp_path / "a", size=48, n_views=3, seed=5)
    b = make_demo_scene(tmp_path / "b", size=48, n_views=3, seed=5)
    assert _digest(a) == _digest(b)
    # Writing again over an existing folder replaces it in place.
    again = make_demo_scene(tmp_path / "a", size=48, n_views=3, seed=5)
    assert _digest(again) == _digest(b)
    c = make_demo_scene(tmp_path / "c", size=48, n_views=3, seed=6)
    assert _digest(c)["cameras.json"] != _digest(a)["cameras.json"]
    assert _digest(c)["gt/orbit/images/cam_007.png"] == _digest(a)["gt/orbit/images/cam_007.png"]


def test_in_memory_scene_matches_the_folder(scene_dir: Path):
    scene = toy_mouse_scene(size=SIZE)
    assert scene.has_masks and scene.has_keypoints
    for v in scene.views:
        a = _alpha(scene_dir / v.camera.file_path)
        assert np.abs(a - v.mask).max() <= 0.5 / 255 + 1e-6
        rgba = np.asarray(Image.open(scene_dir / v.camera.file_path)).astype(np.float64) / 255
        np.testing.assert_allclose(rgba[..., :3], v.image, atol=0.5 / 255 + 1e-6)
    np.testing.assert_allclose(scene.extras["keypoints_3d"], TOY_MOUSE_KEYPOINTS.points)


def test_contact_sheet_tiles_and_composites():
    red = np.zeros((10, 20, 4), np.uint8)
    red[..., 0] = 255
    red[:, :10, 3] = 255  # left half opaque red, right half transparent
    sheet = make_contact_sheet([red, red, red], cols=2, tile=20, background=(0.0, 0.0, 1.0))
    assert sheet.shape == (20, 40, 3)
    assert tuple(sheet[5, 2]) == (255, 0, 0)
    assert tuple(sheet[5, 18]) == (0, 0, 255)
    assert tuple(sheet[15, 30]) == (0, 0, 255)  # the empty fourth tile is background


# --- the demo filmed by the real DANNCE rig ------------------------------------------------


@pytest.fixture(scope="module")
def dannce_dir(tmp_path_factory) -> Path:
    return make_demo_scene(tmp_path_factory.mktemp("dannce"), size=SIZE, rig="dannce")


def test_dannce_demo_is_the_real_rig_cropped_like_ingest(dannce_dir: Path):
    from splatsynth.demo.recording import demo_recording_cameras
    from splatsynth.ingest.crop import subject_box

    got = _cameras(dannce_dir / "cameras.json")
    assert [c.file_path for c in got] == [f"images/kyle_cam{k}.png" for k in range(1, 7)]
    full = demo_recording_cameras()
    _, cover = render_toy_mouse(full, supersample=1)
    for g, cam, c in zip(got, full, cover):
        # The pose is the rig's; the intrinsics are ingest's crop of the full frame.
        np.testing.assert_allclose(g.w2c, cam.w2c, atol=1e-12)
        want = subject_box(c >= 0.5, 0.2, SIZE).camera(cam)
        np.testing.assert_allclose([g.fx, g.fy, g.cx, g.cy, g.w, g.h],
                                   [want.fx, want.fy, want.cx, want.cy, want.w, want.h])
        # The mouse fills the crop's middle: its longer side ~1 / 1.4 of the frame.
        a = _alpha(dannce_dir / g.file_path) > 0.5
        rows, cols = np.flatnonzero(a.any(1)), np.flatnonzero(a.any(0))
        longer = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1
        assert abs(longer / SIZE - 1 / 1.4) < 0.05, g.file_path
        assert abs((rows[0] + rows[-1]) / 2 - SIZE / 2) < 0.1 * SIZE
    kp = json.loads((dannce_dir / "keypoints.json").read_text())
    assert sorted(kp["views"]) == sorted(c.file_path for c in got)


def test_dannce_demo_shares_the_ground_truth_with_the_ring(dannce_dir: Path, scene_dir: Path):
    a, b = _digest(dannce_dir), _digest(scene_dir)
    gt = [k for k in b if k.startswith("gt/")]
    assert gt and all(a[k] == b[k] for k in gt)
    scene = toy_mouse_scene(size=SIZE, rig="dannce")
    assert [v.camera.file_path for v in scene.views] == \
        [f"images/kyle_cam{k}.png" for k in range(1, 7)]
    with pytest.raises(ValueError, match="6 cameras"):
        make_demo_scene(dannce_dir.parent / "x", size=SIZE, rig="dannce", n_views=4)
