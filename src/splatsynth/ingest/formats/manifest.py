"""``manifest``: a YAML file describing any rig, camera by camera.

    name: rig7                       # optional; default: the YAML file's name without suffix
    fps: 30                          # optional; for cameras given as image folders
    pixel_origin: opencv             # where K's pixel centres start: opencv (0, the default:
                                     #   +0.5 into ours), matlab (1: -0.5) or splatsynth (0.5)
    keypoint_names: [snout, ...]     # optional
    cameras:
      - name: top                    # optional; default cam0, cam1, ...
        video: videos/top.mp4        # a video, a folder of video segments or of images
        mask: masks/top.mp4          # optional (white = animal)
        keypoints: tracks/top.npy    # optional [frames, K, 3] (x, y, confidence) in the same
                                     #   pixel origin as K: .npy, .pkl or .json
        K: [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]
        R: [[...], [...], [...]]     # world-to-camera: x_cam = R @ X + T
        T: [tx, ty, tz]
        distortion: [k1, k2, p1, p2, k3]   # optional; frames are then resampled to pinhole
      - video: videos/side.mp4
        calibration: calib/side_params.mat     # or a file in another format (below)

``calibration`` names a file instead of K/R/T: a DANNCE ``*_params.mat`` or Label3D ``.mat``
(``index`` picks the camera of a Label3D file), a markerless ``new_cam.pkl`` (``index``), or a
splatsynth/FaceLift ``cameras.json`` (``index``; already in our convention). Relative paths are
taken from the YAML file's folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ...cameras import Camera
from ...errors import SplatsynthError
from ...scene_io.importers.dannce import read_dannce
from ...scene_io.undistort import pinhole_K
from ..recording import (
    CameraStreams,
    Recording,
    Undistorter,
    default_keypoint_names,
    keypoint_track,
)
from ..video import open_source
from .markerless import camera_from_krt
from .pickles import load_pickle

PIXEL_ORIGINS = {"opencv": 0.5, "matlab": -0.5, "splatsynth": 0.0}


def _load_yaml(path: Path) -> dict:
    import yaml

    if not path.is_file():
        raise SplatsynthError(f"{path}: manifest not found")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except Exception as e:
        raise SplatsynthError(f"{path}: cannot parse YAML ({e})") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("cameras"), list):
        raise SplatsynthError(f"{path}: expected a mapping with a 'cameras' list")
    return doc


def _load_track(path: Path) -> Any:
    if path.suffix == ".npy":
        try:
            return np.load(path, allow_pickle=False)
        except Exception as e:
            raise SplatsynthError(f"{path}: cannot read keypoint track ({e})") from e
    if path.suffix == ".pkl":
        return load_pickle(path, "keypoint track")
    if path.suffix == ".json":
        try:
            return json.loads(path.read_text())
        except Exception as e:
            raise SplatsynthError(f"{path}: cannot read keypoint track ({e})") from e
    raise SplatsynthError(f"{path}: keypoint tracks must be .npy, .pkl or .json")


def _calibration_file(path: Path, index: int, size: tuple[int, int], where: str
                      ) -> tuple[Camera, Undistorter | None]:
    w, h = size
    if not path.exists():
        raise SplatsynthError(f"{path}: calibration file not found ({where})")
    if path.suffix == ".mat":
        cams = read_dannce(path).cameras
        if not 0 <= index < len(cams):
            raise SplatsynthError(f"{path}: index {index} but the file holds {len(cams)} cameras")
        c = cams[index]
        return c.pinhole(w, h), Undistorter(c.K_src, c.dist, c.K_dst, size)
    if path.suffix == ".pkl":
        cams = load_pickle(path, "camera list")
        if not isinstance(cams, list | tuple) or not 0 <= index < len(cams):
            raise SplatsynthError(f"{path}: index {index} is not one of its cameras")
        return camera_from_krt(cams[index], w, h, f"{path} camera {index}", 0.5), None
    if path.suffix == ".json":
        try:
            frames = json.loads(path.read_text())["frames"]
            cam = Camera.from_frame(frames[index])
        except Exception as e:
            raise SplatsynthError(f"{path}: cannot read camera {index} ({e})") from e
        if (cam.w, cam.h) != (w, h):
            cam = cam.resized(w, h)  # a camera file for another resolution of the same lens
        return cam, None
    raise SplatsynthError(f"{path}: calibration files must be .mat, .pkl or .json")


def read_manifest(src: str | Path, name: str | None = None) -> Recording:
    """Open the recording a manifest describes (module docstring). Nothing is decoded yet."""
    src = Path(src)
    doc = _load_yaml(src)
    root = src.parent
    origin = doc.get("pixel_origin", "opencv")
    if origin not in PIXEL_ORIGINS:
        raise SplatsynthError(f"{src}: pixel_origin must be one of {', '.join(PIXEL_ORIGINS)}, "
                              f"got {origin!r}")
    offset = PIXEL_ORIGINS[origin]
    fps = doc.get("fps")
    names = doc.get("keypoint_names")
    if names is not None and not (isinstance(names, list) and all(isinstance(n, str)
                                                                  for n in names)):
        raise SplatsynthError(f"{src}: keypoint_names must be a list of strings")
    cams: list[CameraStreams] = []
    calib_files: list[str] = []
    for i, entry in enumerate(doc["cameras"]):
        where = f"{src} cameras[{i}]"
        if not isinstance(entry, dict) or "video" not in entry:
            raise SplatsynthError(f"{where}: each camera needs at least 'video' and a calibration")
        video = open_source(root / str(entry["video"]), fps)
        mask = open_source(root / str(entry["mask"]), fps) if entry.get("mask") else None
        und = None
        if "calibration" in entry:
            cf = root / str(entry["calibration"])
            cam, und = _calibration_file(cf, int(entry.get("index", 0)), video.size, where)
            calib_files.append(str(cf))
        elif all(k in entry for k in ("K", "R", "T")):
            cam = camera_from_krt(entry, *video.size, where, offset)
            dist = entry.get("distortion")
            if dist is not None and np.any(np.asarray(dist, np.float64)):
                K_src = np.asarray(entry["K"], np.float64).copy()
                K_src[:2, 2] += offset
                d = np.zeros(5)
                d[:len(dist)] = dist
                und = Undistorter(K_src, d, pinhole_K(K_src), video.size)
            calib_files.append(str(src))
        else:
            raise SplatsynthError(f"{where}: give K, R, T or a calibration file")
        kp = None
        if entry.get("keypoints"):
            kf = root / str(entry["keypoints"])
            kp = keypoint_track(_load_track(kf), str(kf), None if names is None else len(names))
            shift = 0.0 if "calibration" in entry else offset
            kp[..., :2] += shift * (kp[..., 2:] > 0)
            if und is not None:
                flat = kp[..., :2].reshape(-1, 2)
                pts = und.points(flat).reshape(kp.shape[:2] + (2,))
                ok = np.isfinite(pts).all(axis=2) & (kp[..., 2] > 0)
                kp[..., :2] = np.where(ok[..., None], pts, 0.0)
                kp[..., 2] *= ok
        cams.append(CameraStreams(name=str(entry.get("name", f"cam{i}")), camera=cam,
                                  video=video, mask=mask, keypoints=kp, undistort=und))
    if len({c.name for c in cams}) != len(cams):
        raise SplatsynthError(f"{src}: camera names must be unique")
    if names is None and cams and cams[0].keypoints is not None:
        names = default_keypoint_names(cams[0].keypoints.shape[1])
    return Recording(name=name or str(doc.get("name") or src.stem), format="manifest",
                     path=src, cameras=cams, keypoint_names=names,
                     calibration=sorted(set(calib_files)))
