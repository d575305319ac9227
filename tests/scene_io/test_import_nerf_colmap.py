"""NeRF and COLMAP importers: write the source format from known OpenCV cameras, import, and
compare cameras to 1e-9; distorted models must come out undistorted."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scene_helpers import disc, rig

from splatsynth.cameras import Camera, opengl_c2w_from_opencv_c2w, quat_wxyz_from_rotation
from splatsynth.errors import SplatsynthError
from splatsynth.scene_io import import_scene, load_scene, read_image
from splatsynth.scene_io.undistort import distort_points


def _cameras(n=3, w=40, h=30) -> list[Camera]:
    cams = rig(n, w, h)
    # distinct, non-centred intrinsics per view so that nothing passes by accident
    return [Camera(c.w2c, fx=35.0 + 3 * i, fy=33.0 + 2 * i, cx=19.3 + i, cy=14.1 - i, w=w, h=h,
                   file_path=c.file_path) for i, c in enumerate(cams)]


def _assert_same_cameras(got: list[Camera], want: list[Camera], intrinsics=True):
    assert len(got) == len(want)
    for g, c in zip(got, want):
        np.testing.assert_allclose(g.w2c, c.w2c, rtol=0, atol=1e-9)
        if intrinsics:
            np.testing.assert_allclose([g.fx, g.fy, g.cx, g.cy], [c.fx, c.fy, c.cx, c.cy],
                                       rtol=0, atol=1e-9)
        assert (g.w, g.h) == (c.w, c.h)


# --- NeRF -------------------------------------------------------------------------------------

def _rgba(w, h, seed):
    """Random colour; alpha a soft-edged subject in the middle (a valid mask)."""
    a = np.random.default_rng(seed).integers(0, 256, (h, w, 4), dtype=np.uint8)
    a[..., 3] = np.round(disc(w, h, w / 2, h / 2, h / 4) * (200 + seed)).astype(np.uint8)
    return a


def test_nerf_per_frame_intrinsics_rgba_round_trip(tmp_path):
    cams = _cameras()
    src = tmp_path / "nerf"
    (src / "train").mkdir(parents=True)
    frames = []
    for i, c in enumerate(cams):
        Image.fromarray(_rgba(c.w, c.h, i)).save(src / f"train/r_{i}.png")
        frames.append({"file_path": f"./train/r_{i}",  # Blender style: no extension
                       "transform_matrix": opengl_c2w_from_opencv_c2w(c.c2w).tolist(),
                       "fl_x": c.fx, "fl_y": c.fy, "cx": c.cx, "cy": c.cy})
    (src / "transforms.json").write_text(json.dumps({"w": 40, "h": 30, "frames": frames}))
    out = import_scene("nerf", src, tmp_path / "scene")
    s = load_scene(out)
    _assert_same_cameras(s.cameras, cams)
    for i, v in enumerate(s.views):
        assert v.camera.file_path == f"images/train/r_{i}.png"
        raw = _rgba(40, 30, i)
        np.testing.assert_allclose(v.mask, raw[..., 3] / 255.0, atol=1e-7)  # alpha kept
        np.testing.assert_allclose(v.image, raw[..., :3] / 255.0, atol=1e-7)


def test_nerf_camera_angle_x_global_intrinsics(tmp_path):
    w, h = 40, 30
    cams = [Camera(c.w2c, fx=36.0, fy=36.0, cx=w / 2, cy=h / 2, w=w, h=h,
                   file_path=c.file_path) for c in _cameras(2, w, h)]
    src = tmp_path / "nerf"
    src.mkdir()
    frames = []
    for i, c in enumerate(cams):
        Image.new("RGB", (w, h)).save(src / f"{i:03d}.jpg")
        frames.append({"file_path": f"{i:03d}.jpg",
                       "transform_matrix": opengl_c2w_from_opencv_c2w(c.c2w).tolist()})
    angle = 2 * math.atan(w / (2 * 36.0))
    (src / "transforms.json").write_text(json.dumps({"camera_angle_x": angle,
                                                     "frames": frames}))
    out = import_scene("nerf", src / "transforms.json", tmp_path / "scene")
    s = load_scene(out)
    _assert_same_cameras(s.cameras, cams)
    assert s.views[0].camera.file_path == "images/000.jpg"  # copied as is, not re-encoded


def test_nerf_opengl_axes_are_converted(tmp_path):
    """An OpenGL camera at +5 z with identity rotation looks down -z at the origin: the origin
    must project to the principal point in front of the camera."""
    src = tmp_path / "nerf"
    src.mkdir()
    frames = []
    for i, z in enumerate([5.0, 6.0]):
        Image.new("RGB", (20, 10)).save(src / f"{i}.png")
        c2w = np.eye(4)
        c2w[2, 3] = z
        frames.append({"file_path": f"{i}.png", "transform_matrix": c2w.tolist()})
    (src / "transforms.json").write_text(json.dumps({"fl_x": 10.0, "frames": frames}))
    s = load_scene(import_scene("nerf", src, tmp_path / "scene"))
    uv, depth = s.views[0].camera.project(np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 0.0]]))
    np.testing.assert_allclose(uv[0], [10.0, 5.0], atol=1e-12)
    np.testing.assert_allclose(depth, [5.0, 5.0], atol=1e-12)
    assert uv[1, 0] > 10.0 and uv[1, 1] < 5.0  # world +x right, world +y up in the image


def test_nerf_errors_name_the_frame_and_file(tmp_path):
    src = tmp_path / "nerf"
    src.mkdir()
    (src / "transforms.json").write_text(json.dumps({"fl_x": 10.0, "frames": [
        {"file_path": "missing_one", "transform_matrix": np.eye(4).tolist()}]}))
    with pytest.raises(SplatsynthError, match=r"frames\[0\] \(missing_one\): image not found"):
        import_scene("nerf", src, tmp_path / "scene")
    (src / "transforms.json").write_text('{"frames": [\n oops]}')
    with pytest.raises(SplatsynthError, match="malformed JSON at line 2, column 2"):
        import_scene("nerf", src, tmp_path / "scene")
    assert not (tmp_path / "scene").exists()


# --- COLMAP -----------------------------------------------------------------------------------

def _write_colmap(root: Path, cams: list[Camera], model: str, params_of) -> None:
    sparse = root / "sparse" / "0"
    sparse.mkdir(parents=True)
    lines = ["# Camera list with one line of data per camera:"]
    for i, c in enumerate(cams):
        p = " ".join(repr(float(x)) for x in params_of(c))
        lines.append(f"{i + 1} {model} {c.w} {c.h} {p}")
    (sparse / "cameras.txt").write_text("\n".join(lines) + "\n")
    lines = ["# Image list with two lines of data per image:", "#   IMAGE_ID, QW, ..."]
    for i, c in enumerate(cams):
        q = quat_wxyz_from_rotation(c.R)
        t = c.t
        vals = " ".join(repr(float(x)) for x in [*q, *t])
        lines.append(f"{i + 1} {vals} {i + 1} cam{i}.png")
        lines.append("" if i % 2 else "12.5 3.25 -1 40.0 2.0 7")  # POINTS2D, may be empty
    (sparse / "images.txt").write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("model", ["PINHOLE", "SIMPLE_PINHOLE"])
def test_colmap_pinhole_models_round_trip(tmp_path, model):
    cams = _cameras()
    if model == "SIMPLE_PINHOLE":
        cams = [Camera(c.w2c, c.fx, c.fx, c.cx, c.cy, c.w, c.h, c.file_path) for c in cams]
        params = lambda c: [c.fx, c.cx, c.cy]
    else:
        params = lambda c: [c.fx, c.fy, c.cx, c.cy]
    src = tmp_path / "proj"
    _write_colmap(src, cams, model, params)
    (src / "images").mkdir()
    for i, c in enumerate(cams):
        Image.new("RGB", (c.w, c.h), (i, 2 * i, 3 * i)).save(src / f"images/cam{i}.png")
    s = load_scene(import_scene("colmap", src, tmp_path / "scene"))
    _assert_same_cameras(s.cameras, cams)
    assert [v.camera.file_path for v in s.views] == [f"images/cam{i}.png" for i in range(3)]
    assert s.views[2].image[0, 0, 2] == pytest.approx(6 / 255)


def test_colmap_opencv_model_is_undistorted(tmp_path):
    """OPENCV intrinsics + distortion: the scene keeps fx, fy, cx, cy and the pose; its images
    are the pinhole images (a dot drawn at a distorted position appears at the pinhole one)."""
    cams = _cameras(2, 80, 60)
    dist = [-0.25, 0.08, 0.003, -0.002]  # k1 k2 p1 p2 (COLMAP's OPENCV has no k3)
    src = tmp_path / "proj"
    _write_colmap(src, cams, "OPENCV", lambda c: [c.fx, c.fy, c.cx, c.cy, *dist])
    (src / "images").mkdir()
    target = np.array([[62.5, 47.5]])
    ii, jj = np.meshgrid(np.arange(80) + 0.5, np.arange(60) + 0.5, indexing="xy")
    for i, c in enumerate(cams):
        p = distort_points(target, c.K, dist, c.K)[0]
        blob = np.exp(-((ii - p[0]) ** 2 + (jj - p[1]) ** 2) / (2 * 3.0**2))
        Image.fromarray(np.round(blob * 255).astype(np.uint8)).save(src / f"images/cam{i}.png")
    s = load_scene(import_scene("colmap", src / "sparse" / "0", tmp_path / "scene",
                                images=src / "images"))
    _assert_same_cameras(s.cameras, cams)
    for v in s.views:
        g = v.image[..., 0]
        assert np.unravel_index(np.argmax(g), g.shape) == (47, 62)
        raw, _ = read_image(src / "images/cam0.png")
        assert np.unravel_index(np.argmax(raw[..., 0]), g.shape) != (47, 62)  # it did move
    assert "distortion" not in json.loads((tmp_path / "scene/cameras.json").read_text())[
        "frames"][0]


def test_colmap_errors_name_file_line_and_image(tmp_path):
    cams = _cameras(2)
    src = tmp_path / "proj"
    _write_colmap(src, cams, "PINHOLE", lambda c: [c.fx, c.fy, c.cx, c.cy])
    (src / "images").mkdir()
    Image.new("RGB", (40, 30)).save(src / "images/cam0.png")
    with pytest.raises(SplatsynthError, match=r"images.txt line 5 \(cam1.png\): image not found"):
        import_scene("colmap", src, tmp_path / "scene")
    (src / "sparse/0/cameras.txt").write_text("1 FISHEYE 40 30 1 2 3\n")
    with pytest.raises(SplatsynthError, match="cameras.txt line 1: camera model FISHEYE"):
        import_scene("colmap", src, tmp_path / "scene")
    with pytest.raises(SplatsynthError, match="unknown option"):
        import_scene("colmap", src, tmp_path / "scene", frame=3)
