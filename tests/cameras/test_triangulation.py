"""Triangulation: synthetic rigs with noise and outliers, and the real DANNCE mouse labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from splatsynth.cameras import Camera, rig_ring
from splatsynth.cameras.triangulation import (
    triangulate_dlt,
    triangulate_keypoints,
    triangulate_robust,
)

FIXTURE = Path(__file__).parents[1] / "fixtures" / "dannce_labels" / "label3d_subset.json"


def _project(cams: list[Camera], X: np.ndarray) -> np.ndarray:
    """[V, K, 2] pixels of [K, 3] points."""
    return np.stack([c.project(X)[0] for c in cams])


# --- synthetic ------------------------------------------------------------------------------


def test_dlt_exact_without_noise():
    cams = rig_ring(6, elevation=30.0)
    X = np.array([[0.1, -0.2, 0.3]])
    uv = _project(cams, X)[:, 0]
    np.testing.assert_allclose(triangulate_dlt(cams, uv), X[0], atol=1e-9)


def test_robust_noise_and_one_outlier_view():
    rng = np.random.default_rng(0)
    cams = rig_ring(6, elevation=30.0)
    X = rng.uniform(-0.6, 0.6, size=(20, 3))
    uv = _project(cams, X) + rng.normal(0.0, 1.0, size=(6, 20, 2))
    uv[2] += 100.0 / np.sqrt(2.0)  # view 2 is 100 px off for every point
    conf = np.ones((6, 20, 1))
    pts, info = triangulate_keypoints(cams, np.concatenate([uv, conf], -1))
    err = np.linalg.norm(pts - X, axis=-1)
    print(f"synthetic: mean error {err.mean():.4f}, max {err.max():.4f} world units")
    # 1 px at 2.7 units with f = 549 px is ~0.005 units per view; the outlier (100 px ~ 0.5
    # units) would dominate if it were kept.
    assert err.mean() < 0.0075 and err.max() < 0.02
    assert not info.used_views[:, 2].any(), "the outlier view must be dropped for every point"
    assert info.used_views[:, [0, 1, 3, 4, 5]].all()
    assert np.all(info.reproj_err[:, 2] > 50.0)
    assert np.all(info.mean_reproj_err < 3.0)
    # The plain linear solve over all views is dragged by the outlier: the robust path matters.
    naive = np.stack([triangulate_dlt(cams, uv[:, k]) for k in range(20)])
    assert np.linalg.norm(naive - X, axis=-1).mean() > 5 * err.mean()


def test_robust_missing_views_and_too_few():
    cams = rig_ring(4, elevation=20.0)
    X = np.array([0.2, 0.1, -0.1])
    uv = _project(cams, X[None])[:, 0]
    uv[0] = np.nan
    conf = np.array([1.0, 0.0, 1.0, 1.0])  # view 1 has zero confidence
    p, used, err = triangulate_robust(cams, uv, conf)
    np.testing.assert_allclose(p, X, atol=1e-8)
    np.testing.assert_array_equal(used, [False, False, True, True])
    assert np.isnan(err[0]) and err[2] < 1e-6
    p, used, err = triangulate_robust(cams, uv, conf, min_views=3)
    assert np.all(np.isnan(p)) and not used.any()


def test_confidence_weights_pull_the_dlt():
    cams = rig_ring(3, elevation=10.0)
    X = np.zeros(3)
    uv = _project(cams, X[None])[:, 0]
    uv[0, 0] += 5.0
    light = triangulate_dlt(cams, uv, np.array([1e-3, 1.0, 1.0]))
    heavy = triangulate_dlt(cams, uv, np.array([1e3, 1.0, 1.0]))
    reproj_light = np.linalg.norm(cams[0].project(light[None])[0][0] - uv[0])
    reproj_heavy = np.linalg.norm(cams[0].project(heavy[None])[0][0] - uv[0])
    assert reproj_heavy < 0.1 * reproj_light


# --- real DANNCE labels ---------------------------------------------------------------------
# A minimal Label3D -> splatsynth conversion kept local to this test so it does not depend on
# the importer (splatsynth.scene_io.importers.dannce) which could replace it.


def _label3d_camera(p: dict, w: int, h: int) -> tuple[Camera, np.ndarray, np.ndarray]:
    """MATLAB row-vector convention: pixel_h = [X 1] @ [r; t] @ K with distortion between."""
    K = np.asarray(p["K"]).T  # OpenCV layout [[fx, skew, cx], [0, fy, cy], [0, 0, 1]]
    w2c = np.eye(4)
    w2c[:3, :3] = np.asarray(p["r"]).T
    w2c[:3, 3] = np.asarray(p["t"]).reshape(3)
    dist = np.concatenate([np.ravel(p["RDistort"]), np.ravel(p["TDistort"])])  # k1 k2 k3 p1 p2
    # MATLAB pixel centres start at 1, ours at 0.5: shift the principal point by -0.5. The
    # undistorted points are expressed in this skew-free camera.
    cam = Camera(w2c, fx=K[0, 0], fy=K[1, 1], cx=K[0, 2] - 0.5, cy=K[1, 2] - 0.5, w=w, h=h)
    return cam, K, dist


def _undistort_matlab(uv: np.ndarray, K: np.ndarray, dist: np.ndarray,
                      iters: int = 50) -> np.ndarray:
    """[N, 2] distorted MATLAB pixels -> [N, 2] ideal pixels of the skew-free camera, in our
    convention (fixed-point inversion of the Brown-Conrady model, as OpenCV does)."""
    k1, k2, k3, p1, p2 = dist
    fx, s, cx, fy, cy = K[0, 0], K[0, 1], K[0, 2], K[1, 1], K[1, 2]
    yd = (uv[:, 1] - cy) / fy
    xd = (uv[:, 0] - cx - s * yd) / fx
    x, y = xd.copy(), yd.copy()
    for _ in range(iters):
        r2 = x * x + y * y
        radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
        dx = 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
        dy = p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
        x, y = (xd - dx) / radial, (yd - dy) / radial
    return np.stack([fx * x + cx - 0.5, fy * y + cy - 0.5], -1)


def _load_dannce(undistort: bool = True):
    doc = json.loads(FIXTURE.read_text())
    w, h = doc["image_size_wh"]
    cams, kps = [], []
    for p, d2 in zip(doc["params"], doc["data_2d"]):
        cam, K, dist = _label3d_camera(p, w, h)
        uv = np.array(d2, dtype=float).reshape(-1, 2)  # [F * 22, 2] (None -> nan)
        if undistort:
            uv = _undistort_matlab(uv, K, dist)
        else:
            uv = uv - 0.5
        cams.append(cam)
        kps.append(uv.reshape(len(d2), -1, 2))
    kp = np.stack(kps)  # [V, F, 22, 2]
    gt = np.array(doc["data_3d"], dtype=float).reshape(len(doc["data_3d"]), -1, 3)  # [F, 22, 3]
    return cams, kp, gt


def _triangulate_frames(cams, kp, noise_px=0.0, seed=0, outlier_view=None):
    rng = np.random.default_rng(seed)
    V, F, J, _ = kp.shape
    kp = kp + rng.normal(0.0, noise_px, size=kp.shape) if noise_px else kp.copy()
    if outlier_view is not None:
        kp[outlier_view] += 100.0 / np.sqrt(2.0)
    conf = np.where(np.isnan(kp[..., :1]), 0.0, 1.0)
    pts, used = [], []
    for f in range(F):
        p, info = triangulate_keypoints(cams, np.concatenate([kp[:, f], conf[:, f]], -1),
                                        outlier_px=20.0)
        pts.append(p)
        used.append(info.used_views)
    return np.stack(pts), np.stack(used)  # [F, J, 3], [F, J, V]


def test_dannce_labels_triangulate_to_their_3d():
    cams, kp, gt = _load_dannce()
    pts, used = _triangulate_frames(cams, kp)
    known = np.isfinite(gt).all(-1)
    assert known.sum() > 200 and (~known).any(), "fixture should hold some unlabelled points"
    np.testing.assert_array_equal(np.isfinite(pts).all(-1), known)
    err = np.linalg.norm(pts - gt, axis=-1)[known]
    print(f"DANNCE exact labels: mean {err.mean():.2e} mm, max {err.max():.2e} mm "
          f"over {known.sum()} points")
    assert err.max() < 0.01  # mm: the 2D labels are reprojections of data_3d
    assert used[known].all(), "no consistent label may be rejected"

    # The lens model matters: skipping the undistortion costs a visible fraction of a mm.
    cams_d, kp_d, _ = _load_dannce(undistort=False)
    pts_d, _ = _triangulate_frames(cams_d, kp_d)
    err_d = np.linalg.norm(pts_d - gt, axis=-1)[known]
    print(f"DANNCE without undistortion: mean {np.nanmean(err_d):.2f} mm, "
          f"max {np.nanmax(err_d):.2f} mm")
    assert np.nanmean(err_d) > 0.2


def test_dannce_labels_with_noise_and_an_outlier_view():
    cams, kp, gt = _load_dannce()
    known = np.isfinite(gt).all(-1)
    pts, used = _triangulate_frames(cams, kp, noise_px=1.0, outlier_view=4)
    err = np.linalg.norm(pts - gt, axis=-1)[known]
    print(f"DANNCE 1 px noise + view 5 off by 100 px: mean {err.mean():.3f} mm, "
          f"max {err.max():.3f} mm")
    assert err.mean() < 0.5 and err.max() < 1.5
    assert not used[known][:, 4].any()
    assert used[known][:, [0, 1, 2, 3, 5]].mean() > 0.99


@pytest.mark.parametrize("bad", ["K", "r"])
def test_dannce_wrong_matlab_convention_is_detected(bad):
    """Using MATLAB matrices untransposed must break the reprojection: the test can fail."""
    doc = json.loads(FIXTURE.read_text())
    p = dict(doc["params"][0])
    p[bad] = np.asarray(p[bad]).T.tolist()
    cam, K, dist = _label3d_camera(p, *doc["image_size_wh"])
    gt = np.array(doc["data_3d"][0], dtype=float).reshape(-1, 3)
    uv = _undistort_matlab(np.array(doc["data_2d"][0][0], dtype=float).reshape(-1, 2), K, dist)
    ok = np.isfinite(gt).all(-1)
    err = np.linalg.norm(cam.project(gt[ok])[0] - uv[ok], axis=-1)
    assert np.nanmedian(err) > 5.0


def test_dannce_importer_conversion_triangulates_too():
    """The scene_io importer's camera/label conversion gives the same 3D points (skipped while
    the importer is absent)."""
    dannce = pytest.importorskip("splatsynth.scene_io.importers.dannce")
    doc = json.loads(FIXTURE.read_text())
    w, h = doc["image_size_wh"]
    cams, kps = [], []
    for i, (p, d2) in enumerate(zip(doc["params"], doc["data_2d"])):
        dc = dannce.camera_from_params(p, f"Camera{i + 1}", "fixture")
        cams.append(dc.pinhole(w, h))
        kps.append(dc.labels_to_pinhole(np.array(d2, dtype=float).reshape(-1, 2))
                   .reshape(len(d2), -1, 2))
    gt = np.array(doc["data_3d"], dtype=float).reshape(len(doc["data_3d"]), -1, 3)
    pts, _ = _triangulate_frames(cams, np.stack(kps))
    known = np.isfinite(gt).all(-1)
    err = np.linalg.norm(pts - gt, axis=-1)[known]
    print(f"DANNCE via the importer: mean {err.mean():.2e} mm, max {err.max():.2e} mm")
    assert err.max() < 0.05
