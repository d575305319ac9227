"""DANNCE / Label3D importer, checked on the real markerless_mouse_1 rig.

Pixel-origin convention verified here: DANNCE's calibration K and Label3D's 2D labels share
one pixel origin, MATLAB's (centre of the first pixel at (1, 1)). On the real labels the raw
distorted model reproduces ``data_2d`` to ~1e-13 px with the principal point as stored and is
off by exactly the shift when cx, cy alone move by +-0.5 or +-1 px
(:func:`test_labels_and_calibration_share_one_pixel_origin`), so any shift must be applied to
K and labels together. The absolute offset cannot be measured without video frames; it comes
from MATLAB's intrinsic image coordinates (first pixel centred at 1, which Label3D's image axes
and MATLAB's camera calibrator both use), hence the importer moves cx, cy and labels by -0.5
into ours (first pixel centred at 0.5). After that shift, distortion and skew removal,
projecting ``data_3d`` through the imported pinhole cameras reproduces the undistorted labels
to ~1e-12 px on all 81 labelled frames x 6 cameras (numbers printed by the tests).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from splatsynth.cameras import Camera
from splatsynth.errors import SplatsynthError
from splatsynth.scene_io import import_scene, load_scene
from splatsynth.scene_io.importers.dannce import MOUSE22_NAMES, read_dannce
from splatsynth.scene_io.undistort import distort

REAL = Path(__file__).resolve().parents[2].parent / "shared/data/dannce_markerless_mouse_1"
REAL_LABEL3D = REAL / "label3d_dannce.mat"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures/dannce"
FIXTURE_LABEL3D = FIXTURES / "label3d_dannce_first3.mat"
SIZE = (1152, 1024)

needs_real = pytest.mark.skipif(not REAL_LABEL3D.is_file(), reason="shared DANNCE data absent")


def _raw_projection(K_matlab: np.ndarray, r, t, rd, td, X: np.ndarray) -> np.ndarray:
    """The raw MATLAB model written out independently of the importer: row vectors,
    [x y z] = X @ r + t, OpenCV distortion on x/z, y/z, then K (transposed, with skew)."""
    pc = X @ r + t
    xy = pc[:, :2] / pc[:, 2:]
    xd = distort(xy, [rd[0], rd[1], td[0], td[1], rd[2] if len(rd) > 2 else 0.0])
    return np.column_stack([xd, np.ones(len(xd))]) @ K_matlab[:, :2]


def _errors(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ok = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
    return np.linalg.norm(a[ok] - b[ok], axis=1)


@needs_real
def test_labels_and_calibration_share_one_pixel_origin():
    L = scipy.io.loadmat(str(REAL_LABEL3D))
    rows = {}
    for shift in (-1.0, -0.5, 0.0, 0.5, 1.0):
        errs = []
        for c in range(6):
            p = L["params"][c, 0]
            K = p["K"][0, 0].copy()
            K[2, :2] += shift  # move the principal point only, labels as stored
            e = L["labelData"][c, 0]
            X = e["data_3d"][0, 0].reshape(-1, 3)
            uv = e["data_2d"][0, 0].reshape(-1, 2)
            proj = _raw_projection(K, p["r"][0, 0], p["t"][0, 0].ravel(),
                                   p["RDistort"][0, 0].ravel(), p["TDistort"][0, 0].ravel(), X)
            errs.append(_errors(proj, uv))
        e = np.concatenate(errs)
        rows[shift] = (e.mean(), e.max(), e.size)
        print(f"principal point shifted by {shift:+.1f} px: raw-model reprojection error vs "
              f"labels mean {e.mean():.3g} px, max {e.max():.3g} px over {e.size} points")
    assert rows[0.0][1] < 1e-9  # same origin: the labels are the model's projections
    for s in (-1.0, -0.5, 0.5, 1.0):
        assert abs(rows[s][0] - abs(s) * np.sqrt(2)) < 1e-6  # off by exactly the shift
    assert rows[0.0][2] > 1500  # most of the 81 x 22 x 6 labels are present


@needs_real
def test_reprojection_through_imported_cameras_real_data(tmp_path):
    out = import_scene("dannce", REAL_LABEL3D, tmp_path / "mouse", image_size=SIZE, frame=0)
    cams_doc = json.loads((out / "cameras.json").read_text())
    kp_doc = json.loads((out / "keypoints.json").read_text())
    assert kp_doc["names"] == MOUSE22_NAMES
    assert not (out / "images").exists()  # cameras and keypoints only
    P = np.array([p if p is not None else [np.nan] * 3 for p in kp_doc["points_3d"]])
    L = scipy.io.loadmat(str(REAL_LABEL3D))
    errs = []
    for c, f in enumerate(cams_doc["frames"]):
        cam = Camera.from_frame(f)
        p = L["params"][c, 0]
        K, r = p["K"][0, 0], p["r"][0, 0]
        # the conversion: w2c = r^T, K^T with skew dropped and the -0.5 pixel shift
        np.testing.assert_allclose(cam.R, r.T, atol=1e-15)
        np.testing.assert_allclose([cam.fx, cam.fy, cam.cx, cam.cy],
                                   [K[0, 0], K[1, 1], K[2, 0] - 0.5, K[2, 1] - 0.5], atol=1e-12)
        assert (cam.w, cam.h) == SIZE and f["file_path"] == f"images/Camera{c + 1}.png"
        kp = np.array(kp_doc["views"][f["file_path"]])
        vis = kp[:, 2] > 0
        assert vis.sum() >= 20
        uv, depth = cam.project(P)
        assert (depth[vis] > 0).all()
        errs.append(np.linalg.norm(uv[vis] - kp[vis, :2], axis=1))
    e = np.concatenate(errs)
    print(f"frame 0: data_3d through imported cameras vs undistorted data_2d: mean {e.mean():.3g}"
          f" px, max {e.max():.3g} px over {e.size} points")
    assert e.max() < 1e-6


@needs_real
def test_reprojection_all_labelled_frames_and_undistortion_matters():
    s = read_dannce(REAL_LABEL3D)
    errs, without = [], []
    for c, dc in enumerate(s.cameras):
        cam = dc.pinhole(*SIZE)
        X = s.data_3d.reshape(-1, 3)
        uv_raw = s.data_2d[c].reshape(-1, 2)
        uv, _ = cam.project(X)
        errs.append(_errors(uv, dc.labels_to_pinhole(uv_raw)))
        without.append(_errors(uv, uv_raw - 0.5))  # labels shifted but left distorted
    e, n = np.concatenate(errs), np.concatenate(without)
    print(f"all {s.data_3d.shape[0]} frames x {len(s.cameras)} cameras: reprojection error mean "
          f"{e.mean():.3g} px, max {e.max():.3g} px over {e.size} points; without undistorting "
          f"the labels: mean {n.mean():.3g} px, max {n.max():.3g} px")
    assert e.max() < 1e-6
    assert n.mean() > 0.3  # the test would notice a missing undistortion


def test_params_folder_matches_label3d_cameras(tmp_path):
    a = import_scene("dannce", FIXTURES, tmp_path / "a", image_size=SIZE)
    b = import_scene("dannce", FIXTURE_LABEL3D, tmp_path / "b", image_size=SIZE)
    fa = json.loads((a / "cameras.json").read_text())["frames"]
    fb = json.loads((b / "cameras.json").read_text())["frames"]
    assert [f["file_path"] for f in fa] == [f"images/kyle_cam{i}.png" for i in range(1, 7)]
    assert not (a / "keypoints.json").exists() and (b / "keypoints.json").exists()
    for x, y in zip(fa, fb):
        np.testing.assert_allclose(x["w2c"], y["w2c"], atol=0)
        assert [x[k] for k in ("fx", "fy", "cx", "cy")] == [y[k] for k in ("fx", "fy", "cx", "cy")]


def test_images_are_undistorted_with_the_labels(tmp_path):
    """Draw a blob at each camera's raw (distorted, MATLAB-pixel) Snout label; in the imported
    scene it must peak at the Snout keypoint. Cameras use every accepted naming."""
    s = read_dannce(FIXTURE_LABEL3D)
    frame, snout = 1, MOUSE22_NAMES.index("Snout")
    video_frame = int(s.data_frame[frame])
    imgs = tmp_path / "frames"
    imgs.mkdir()
    names = ["Camera1.png", f"Camera2/{video_frame}.png", f"Camera3/{frame}.png",
             "Camera4/only.jpg", "Camera5.png", "Camera6.png"]
    w, h = SIZE
    ii, jj = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5, indexing="xy")
    for c, name in enumerate(names):
        x, y = s.data_2d[c][frame, snout] - 0.5  # MATLAB pixels -> ours
        blob = np.exp(-((ii - x) ** 2 + (jj - y) ** 2) / (2 * 4.0**2))
        (imgs / name).parent.mkdir(exist_ok=True)
        Image.fromarray(np.round(blob * 255).astype(np.uint8)).save(imgs / name, quality=95)
    out = import_scene("dannce", FIXTURE_LABEL3D, tmp_path / "scene", images=imgs,
                       frame=frame)
    sc = load_scene(out)
    assert sc.keypoint_names == MOUSE22_NAMES and len(sc.views) == 6
    for v in sc.views:
        assert v.camera.K[0, 1] == 0 and v.image.shape == (h, w, 3)
        x, y, conf = v.keypoints[snout]
        assert conf == 1.0
        g = v.image[..., 0]
        j0, i0 = np.unravel_index(np.argmax(g), g.shape)
        win = g[j0 - 8:j0 + 9, i0 - 8:i0 + 9]
        cx = (win * (ii[j0 - 8:j0 + 9, i0 - 8:i0 + 9])).sum() / win.sum()
        cy = (win * (jj[j0 - 8:j0 + 9, i0 - 8:i0 + 9])).sum() / win.sum()
        assert np.hypot(cx - x, cy - y) < 0.25, (v.name, cx, cy, x, y)


def test_dannce_errors(tmp_path):
    with pytest.raises(SplatsynthError, match="give the image size"):
        import_scene("dannce", FIXTURE_LABEL3D, tmp_path / "a")
    with pytest.raises(SplatsynthError, match=r"--frame 3 is out of range .* 0\.\.2"):
        import_scene("dannce", FIXTURE_LABEL3D, tmp_path / "a", image_size=SIZE, frame=3)
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    Image.new("L", SIZE).save(imgs / "Camera1.png")
    with pytest.raises(SplatsynthError, match="no image for camera Camera2"):
        import_scene("dannce", FIXTURE_LABEL3D, tmp_path / "a", images=imgs)
    assert not (tmp_path / "a").exists()
