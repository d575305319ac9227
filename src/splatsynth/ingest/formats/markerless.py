"""``markerless``: MAMMAL's markerless_mouse_1_nerf layout (SPEC section 3b).

    SRC/videos_undist/{0..N-1}.mp4              undistorted colour, synchronized
    SRC/simpleclick_undist/{0..N-1}.mp4         optional masks (white = animal), same sizes
    SRC/new_cam.pkl                             list of N dicts: K 3x3, R 3x3, T (3,),
                                                x_cam = R @ X + T; OpenCV pixel centres
    SRC/keypoints2d_undist/result_view_{k}.pkl  optional [frames, K, 3]: x, y, confidence

OpenCV puts the centre of the top-left pixel at (0, 0), ours at (0.5, 0.5): cx, cy and the
keypoints get +0.5. An optional ``keypoint_names.json`` (a list of K strings) names the
keypoints; without it they are ``kp_00``... The recording's name is SRC's folder name.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ...cameras import Camera
from ...errors import SplatsynthError
from ..recording import CameraStreams, Recording, default_keypoint_names, keypoint_track
from ..video import VideoFile
from .pickles import load_pickle

OPENCV_PIXEL_OFFSET = 0.5
"""Added to OpenCV pixel coordinates (first pixel centred at 0) to reach ours (at 0.5)."""

VIDEOS, MASKS, CAMERAS, KEYPOINTS = ("videos_undist", "simpleclick_undist", "new_cam.pkl",
                                     "keypoints2d_undist")


def numbered_videos(folder: Path) -> list[Path]:
    """``folder/0.mp4``, ``1.mp4``, ... (contiguous from 0)."""
    found = {int(p.stem): p for p in folder.glob("*.mp4") if p.stem.isdigit()}
    if not found:
        raise SplatsynthError(f"{folder}: no videos named 0.mp4, 1.mp4, ...")
    n = max(found) + 1
    missing = [k for k in range(n) if k not in found]
    if missing:
        raise SplatsynthError(f"{folder}: {missing[0]}.mp4 is missing (found up to {n - 1}.mp4)")
    return [found[k] for k in range(n)]


def camera_from_krt(d: object, w: int, h: int, where: str, offset: float) -> Camera:
    """A pinhole camera from a dict holding K (3x3), R (3x3, world-to-camera) and T (3).

    ``offset`` is added to cx, cy (SPEC section 2: +0.5 for OpenCV pixel centres).
    """
    if not isinstance(d, dict):
        raise SplatsynthError(f"{where}: expected a dict with K, R, T, got {type(d).__name__}")
    try:
        K = np.asarray(d["K"], np.float64)
        R = np.asarray(d["R"], np.float64)
        T = np.asarray(d["T"], np.float64).reshape(-1)
    except KeyError as e:
        raise SplatsynthError(f"{where}: missing {e.args[0]!r} (expected K, R, T)") from e
    except (TypeError, ValueError) as e:
        raise SplatsynthError(f"{where}: K, R, T must be numeric ({e})") from e
    if K.shape != (3, 3) or R.shape != (3, 3) or T.shape != (3,):
        raise SplatsynthError(f"{where}: expected K 3x3, R 3x3, T 3; got {list(K.shape)}, "
                              f"{list(R.shape)}, {list(T.shape)}")
    if not (np.isfinite(K).all() and np.isfinite(R).all() and np.isfinite(T).all()):
        raise SplatsynthError(f"{where}: K, R or T holds NaN/inf")
    err = np.abs(R @ R.T - np.eye(3)).max()
    if err > 1e-4 or np.linalg.det(R) < 0:
        raise SplatsynthError(f"{where}: R is not a rotation (|R R^T - I| = {err:.2g}, "
                              f"det {np.linalg.det(R):.3f})")
    if abs(K[0, 1]) > 1e-6 * K[0, 0] or not (K[0, 0] > 0 and K[1, 1] > 0):
        raise SplatsynthError(f"{where}: K must be a pinhole without skew and with fx, fy > 0")
    w2c = np.eye(4)
    w2c[:3, :3], w2c[:3, 3] = R, T
    return Camera(w2c, fx=K[0, 0], fy=K[1, 1], cx=K[0, 2] + offset, cy=K[1, 2] + offset, w=w, h=h)


def read_markerless(src: str | Path, name: str | None = None) -> Recording:
    """Open a markerless recording folder (module docstring). Nothing is decoded yet."""
    src = Path(src)
    if not src.is_dir():
        raise SplatsynthError(f"{src}: not a folder (expected {VIDEOS}/, {CAMERAS}, ...)")
    vid_dir = src / VIDEOS
    if not vid_dir.is_dir():
        raise SplatsynthError(f"{vid_dir}: folder not found (the markerless layout keeps its "
                              "videos there)")
    videos = [VideoFile(p) for p in numbered_videos(vid_dir)]
    cam_file = src / CAMERAS
    cams = load_pickle(cam_file, "camera list")
    if isinstance(cams, dict):  # some exports key the cameras by index
        cams = [cams[k] for k in sorted(cams)]
    if not isinstance(cams, list | tuple):
        raise SplatsynthError(f"{cam_file}: expected a list of camera dicts, got "
                              f"{type(cams).__name__}")
    if len(cams) != len(videos):
        raise SplatsynthError(f"{cam_file}: {len(cams)} cameras but {len(videos)} videos in "
                              f"{vid_dir}")
    mask_dir = src / MASKS
    masks: list[VideoFile | None] = [None] * len(videos)
    if mask_dir.is_dir():
        mfiles = numbered_videos(mask_dir)
        if len(mfiles) != len(videos):
            raise SplatsynthError(f"{mask_dir}: {len(mfiles)} mask videos for {len(videos)} "
                                  "cameras")
        masks = [VideoFile(p) for p in mfiles]
    kp_dir = src / KEYPOINTS
    names = None
    names_file = src / "keypoint_names.json"
    if names_file.is_file():
        try:
            names = json.loads(names_file.read_text())
            assert isinstance(names, list) and all(isinstance(n, str) for n in names)
        except Exception as e:
            raise SplatsynthError(f"{names_file}: expected a JSON list of names") from e
    out = []
    for k, (v, m, d) in enumerate(zip(videos, masks, cams)):
        w, h = v.size
        cam = camera_from_krt(d, w, h, f"{cam_file} camera {k}", OPENCV_PIXEL_OFFSET)
        kp = None
        kp_file = kp_dir / f"result_view_{k}.pkl"
        if kp_dir.is_dir():
            if not kp_file.is_file():
                raise SplatsynthError(f"{kp_file}: keypoint track missing for camera {k}")
            kp = keypoint_track(load_pickle(kp_file, "keypoint track"), str(kp_file),
                                None if names is None else len(names))
            kp[..., :2] += OPENCV_PIXEL_OFFSET * (kp[..., 2:] > 0)
        out.append(CameraStreams(name=f"cam{k}", camera=cam, video=v, mask=m, keypoints=kp))
    if names is None and out[0].keypoints is not None:
        names = default_keypoint_names(out[0].keypoints.shape[1])
    return Recording(name=name or src.resolve().name, format="markerless", path=src,
                     cameras=out, keypoint_names=names, calibration=[str(cam_file)])
