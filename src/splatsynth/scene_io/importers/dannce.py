"""DANNCE / Label3D MATLAB calibration (+ labelled keypoints, + images) -> scene folder.

Sources (``src``):

- a folder of per-camera ``*_params.mat`` files (DANNCE's ``calibration/``; cameras in natural
  order of the file names, named by the file stem without ``_params``), or
- a Label3D export ``.mat`` (``camnames``, ``params``, ``labelData``; a folder holding exactly
  one such file also works). Its keypoints for one labelled frame (``frame`` = row of
  ``data_2d``) become ``keypoints.json``, with the 3D points as ``points_3d``.

Each camera's ``K``, ``r``, ``t``, ``RDistort``, ``TDistort`` follow MATLAB's row-vector
convention, ``[u v 1] ~ [X Y Z 1] @ [r; t] @ K`` with ``K = [[fx, 0, 0], [skew, fy, 0],
[cx, cy, 1]]``, so ``w2c`` rotation = ``r.T``, translation = ``t``, the OpenCV-layout intrinsic
matrix is ``K.T`` and distortion is the OpenCV model (k1, k2, p1, p2, k3) applied to
normalized coordinates without skew. MATLAB's first pixel is centred at (1, 1), ours at
(0.5, 0.5), so cx, cy and the 2D labels move by -0.5 (SPEC section 2; see
``tests/scene_io/test_dannce.py`` for the check against the real labels).

The scene is pinhole: distortion *and skew* are removed by resampling into the camera with the
same fx, fy, cx - 0.5, cy - 0.5 and image size; the labels go through the same inverse mapping.
Labels that are NaN, or that land outside the image after undistortion, get confidence 0.

Images (``images``), one per camera, looked up in this order for camera ``<name>`` (e.g.
``Camera1``; ``Camera<i>`` with i counted from 1 is accepted as an alias):
``<name>.<ext>``, ``<name>/<video frame>.<ext>`` (the Label3D ``data_frame`` of the chosen
row), ``<name>/<frame>.<ext>``, or a ``<name>/`` folder holding exactly one image. Without
images (``images=None``) only ``cameras.json`` and ``keypoints.json`` are written and
``image_size`` (w, h) must be given (1152 x 1024 for DANNCE's markerless_mouse_1 rig).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io

from ...cameras import Camera, image_size_problem
from ...errors import SplatsynthError
from ..images import IMAGE_SUFFIXES, find_image, load_image
from ..load import SceneWriter
from ..undistort import pinhole_K, undistort_image, undistort_points

MATLAB_PIXEL_OFFSET = -0.5
"""Added to MATLAB pixel coordinates (first pixel centred at 1) to reach ours (centred at 0.5)."""

# DANNCE's 22-joint markerless-mouse skeleton, in label order. The order of the first three
# was checked on the markerless_mouse_1 labels: joint 2 sits furthest forward along the
# SpineM -> SpineF axis and lowest of the head points (snout), joints 0 and 1 lie left and
# right of that axis (ears); chains 8-11 / 12-15 / 16-18 / 19-21 rise from paw to shoulder / hip
# on the left / right, matching DANNCE's "mouse22" bone list.
MOUSE22_NAMES = [
    "EarL", "EarR", "Snout", "SpineF", "SpineM", "Tail_base_", "Tail_mid_", "Tail_end_",
    "ForepawL", "WristL", "ElbowL", "ShoulderL", "ForepawR", "WristR", "ElbowR", "ShoulderR",
    "HindpawL", "AnkleL", "KneeL", "HindpawR", "AnkleR", "KneeR",
]


@dataclass(frozen=True)
class DannceCamera:
    """One camera as stored by DANNCE / Label3D, converted to OpenCV layout.

    Attributes:
        name: camera name (``Camera1``...).
        K_matlab: [3, 3] OpenCV-layout intrinsics (``K.T``) in MATLAB pixels (skew in [0, 1]).
        dist: [5] (k1, k2, p1, p2, k3).
        w2c: [4, 4] world-to-camera (world units as calibrated, millimetres for DANNCE).
    """

    name: str
    K_matlab: np.ndarray
    dist: np.ndarray
    w2c: np.ndarray

    @property
    def K_src(self) -> np.ndarray:
        """[3, 3] the distorted camera's intrinsics in our pixel convention (skew kept)."""
        K = self.K_matlab.copy()
        K[0, 2] += MATLAB_PIXEL_OFFSET
        K[1, 2] += MATLAB_PIXEL_OFFSET
        return K

    @property
    def K_dst(self) -> np.ndarray:
        """[3, 3] the pinhole the scene uses (skew and distortion resampled away)."""
        return pinhole_K(self.K_src)

    def pinhole(self, w: int, h: int, file_path: str | None = None) -> Camera:
        K = self.K_dst
        return Camera(w2c=self.w2c, fx=K[0, 0], fy=K[1, 1], cx=K[0, 2], cy=K[1, 2], w=w, h=h,
                      file_path=file_path)

    def labels_to_pinhole(self, uv_matlab: np.ndarray) -> np.ndarray:
        """[N, 2] labels in MATLAB pixels of the distorted image -> [N, 2] pinhole pixels."""
        return undistort_points(np.asarray(uv_matlab, np.float64) + MATLAB_PIXEL_OFFSET,
                                self.K_src, self.dist, self.K_dst)


def _unwrap(v: Any) -> Any:
    """Strip scipy.io's 1x1 object/struct wrappers."""
    while isinstance(v, np.ndarray) and v.dtype == object and v.size == 1:
        v = v.reshape(-1)[0]
    return v


def _string(v: Any) -> str:
    v = _unwrap(v)
    if isinstance(v, np.ndarray):
        v = v.reshape(-1)[0] if v.size else ""
    return str(v)


def _field(s: Any, name: str, where: str) -> np.ndarray:
    s = _unwrap(s)
    try:
        v = s[name] if isinstance(s, dict) else s[name].reshape(-1)[0]
    except (KeyError, ValueError, IndexError, TypeError) as e:
        raise SplatsynthError(f"{where}: missing field {name!r}") from e
    v = _unwrap(v)
    try:
        return np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise SplatsynthError(f"{where}: field {name!r} is not numeric") from e


def camera_from_params(p: Any, name: str, where: str) -> DannceCamera:
    """Build a :class:`DannceCamera` from a params struct or a ``*_params.mat`` dict."""
    K = _field(p, "K", where)
    r = _field(p, "r", where)
    t = _field(p, "t", where).ravel()
    rd = _field(p, "RDistort", where).ravel()
    td = _field(p, "TDistort", where).ravel()
    if K.shape != (3, 3) or r.shape != (3, 3) or t.shape != (3,):
        raise SplatsynthError(f"{where}: expected K 3x3, r 3x3, t 1x3; got {K.shape}, "
                              f"{r.shape}, {t.shape}")
    if rd.size not in (2, 3) or td.size != 2:
        raise SplatsynthError(f"{where}: expected RDistort 1x2 or 1x3 and TDistort 1x2")
    for nm, a in (("K", K), ("r", r), ("t", t), ("RDistort", rd), ("TDistort", td)):
        if not np.isfinite(a).all():
            raise SplatsynthError(f"{where}: {nm} contains NaN/inf")
    R = r.T
    if np.abs(R @ R.T - np.eye(3)).max() > 1e-4 or np.linalg.det(R) < 0:
        raise SplatsynthError(f"{where}: r is not a proper rotation")
    w2c = np.eye(4)
    w2c[:3, :3] = R
    w2c[:3, 3] = t
    dist = np.array([rd[0], rd[1], td[0], td[1], rd[2] if rd.size == 3 else 0.0])
    return DannceCamera(name=name, K_matlab=K.T.copy(), dist=dist, w2c=w2c)


def _loadmat(path: Path) -> dict:
    try:
        return scipy.io.loadmat(str(path))
    except NotImplementedError as e:  # scipy cannot read v7.3 (HDF5) files
        raise SplatsynthError(f"{path}: MATLAB v7.3 file; re-save it with save(..., '-v7')") from e
    except Exception as e:  # scipy raises many types for broken files
        raise SplatsynthError(f"{path}: cannot read MATLAB file: {e}") from e


@dataclass
class DannceSource:
    """Everything read from the source: cameras and, for Label3D, the labels.

    Attributes:
        cameras: in rig order.
        data_2d: per camera [F, K, 2] labels in MATLAB pixels (NaN = unlabelled), or None.
        data_3d: [F, K, 3] world keypoints, or None.
        data_frame: [F] video frame number of each labelled row, or None.
        path: the file or folder read.
    """

    cameras: list[DannceCamera]
    data_2d: list[np.ndarray] | None = None
    data_3d: np.ndarray | None = None
    data_frame: np.ndarray | None = None
    path: Path | None = None


def _natural_key(p: Path) -> list:
    return [int(s) if s.isdigit() else s for s in re.split(r"(\d+)", p.name)]


def read_dannce(src: str | Path) -> DannceSource:
    """Read a ``*_params.mat`` folder or a Label3D ``.mat`` (see the module docstring)."""
    src = Path(src)
    if src.is_dir():
        params = sorted(src.glob("*_params.mat"), key=_natural_key)
        if params:
            cams = []
            for f in params:
                d = _loadmat(f)
                cams.append(camera_from_params(d, f.stem.removesuffix("_params"), str(f)))
            return DannceSource(cameras=cams, path=src)
        mats = [f for f in sorted(src.glob("*.mat")) if "labelData" in _loadmat(f)]
        if len(mats) != 1:
            raise SplatsynthError(f"{src}: expected *_params.mat files or exactly one Label3D "
                                  f".mat, found {len(mats)} Label3D files")
        src = mats[0]
    if not src.is_file():
        raise SplatsynthError(f"{src}: not found")
    d = _loadmat(src)
    if "params" not in d:
        if "K" in d:  # a single *_params.mat
            return DannceSource(cameras=[camera_from_params(d, src.stem.removesuffix("_params"),
                                                            str(src))], path=src)
        raise SplatsynthError(f"{src}: no 'params' (Label3D) or 'K' (DANNCE params) inside")
    params = d["params"].reshape(-1)
    names = ([_string(n) for n in d["camnames"].reshape(-1)] if "camnames" in d
             else [f"Camera{i + 1}" for i in range(len(params))])
    if len(names) != len(params):
        raise SplatsynthError(f"{src}: {len(names)} camnames but {len(params)} params")
    cams = [camera_from_params(p, n, f"{src} params[{i}] ({n})")
            for i, (p, n) in enumerate(zip(params, names))]
    out = DannceSource(cameras=cams, path=src)
    if "labelData" in d:
        ld = d["labelData"].reshape(-1)
        if len(ld) != len(cams):
            raise SplatsynthError(f"{src}: {len(ld)} labelData entries for {len(cams)} cameras")
        out.data_2d = []
        for i, e in enumerate(ld):
            where = f"{src} labelData[{i}] ({names[i]})"
            d2 = _field(e, "data_2d", where)
            if d2.ndim != 2 or d2.shape[1] % 2:
                raise SplatsynthError(f"{where}: data_2d must be frames x (2 * keypoints)")
            out.data_2d.append(d2.reshape(d2.shape[0], -1, 2))
            if i == 0:
                d3 = _field(e, "data_3d", where)
                out.data_3d = d3.reshape(d3.shape[0], -1, 3)
                try:
                    out.data_frame = _field(e, "data_frame", where).ravel().astype(np.int64)
                except SplatsynthError:
                    out.data_frame = None
        shapes = {a.shape for a in out.data_2d}
        if len(shapes) != 1 or out.data_3d.shape[:2] != out.data_2d[0].shape[:2]:
            raise SplatsynthError(f"{src}: labelData sizes disagree across cameras "
                                  f"({sorted(shapes)}, data_3d {out.data_3d.shape})")
    return out


def _find_camera_image(folder: Path, name: str, index: int, frame: int,
                       video_frame: int | None) -> Path | None:
    for nm in dict.fromkeys([name, f"Camera{index + 1}"]):
        if (f := find_image(folder / nm)) is not None:
            return f
        sub = folder / nm
        if sub.is_dir():
            for k in ([video_frame] if video_frame is not None else []) + [frame]:
                if (f := find_image(sub / str(k))) is not None:
                    return f
            files = [p for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
            if len(files) == 1:
                return files[0]
    return None


def import_dannce(src: str | Path, out: str | Path, *, images: str | Path | None = None,
                  frame: int = 0, image_size: tuple[int, int] | None = None,
                  keypoint_names: list[str] | None = None, overwrite: bool = False) -> Path:
    """Convert a DANNCE / Label3D calibration (and labels, and images) into a scene folder.

    Args:
        src: a folder of ``*_params.mat`` or a Label3D ``.mat`` (module docstring).
        out: the scene folder to write (atomically).
        images: folder with one image per camera; None writes cameras and keypoints only.
        frame: which labelled row of ``data_2d`` / ``data_3d`` becomes ``keypoints.json``.
        image_size: (w, h); required without images, checked against them otherwise.
        keypoint_names: names for the K keypoints; DANNCE's mouse22 names when K = 22, else
            ``kp_00``...
        overwrite: replace an existing ``out``.
    Returns:
        ``out``.
    """
    s = read_dannce(src)
    video_frame = None
    if s.data_2d is not None:
        F, K = s.data_2d[0].shape[:2]
        if not -F <= frame < F:
            raise SplatsynthError(f"{s.path}: --frame {frame} is out of range (the file has "
                                  f"{F} labelled frames, 0..{F - 1})")
        frame = frame % F
        if s.data_frame is not None and len(s.data_frame) == F:
            video_frame = int(s.data_frame[frame])
        if keypoint_names is None:
            keypoint_names = MOUSE22_NAMES if K == 22 else [f"kp_{k:02d}" for k in range(K)]
        if len(keypoint_names) != K:
            raise SplatsynthError(f"{s.path}: {len(keypoint_names)} keypoint names for {K} "
                                  "keypoints")
    if images is None and image_size is None:
        raise SplatsynthError(f"{s.path}: without --images, give the image size "
                              "(e.g. --image-size 1152 1024)")
    img_dir = None if images is None else Path(images)
    if img_dir is not None and not img_dir.is_dir():
        raise SplatsynthError(f"{img_dir}: image folder not found")

    with SceneWriter(out, overwrite=overwrite) as wr:
        for i, c in enumerate(s.cameras):
            fp = f"images/{c.name}.png"
            rgb = alpha = None
            if img_dir is not None:
                f = _find_camera_image(img_dir, c.name, i, frame, video_frame)
                if f is None:
                    raise SplatsynthError(f"{img_dir}: no image for camera {c.name} (tried "
                                          f"{c.name}.png, {c.name}/<frame>.png, ...)")
                rgb, alpha = load_image(f)
                h, w = rgb.shape[:2]
                if image_size is not None and (w, h) != tuple(image_size):
                    raise SplatsynthError(f"{f}: image for camera {c.name} is {w}x{h}, expected "
                                          f"{image_size[0]}x{image_size[1]}")
                check_frame_size(c, w, h, f"{f} (camera {c.name})")
                rgb = undistort_image(rgb, c.K_src, c.dist, c.K_dst)
                alpha = None if alpha is None else undistort_image(alpha, c.K_src, c.dist,
                                                                   c.K_dst)
            else:
                w, h = image_size
                check_frame_size(c, w, h, f"--image-size {w} {h} (camera {c.name})")
            kp = None
            if s.data_2d is not None:
                kp = _keypoints(c, s.data_2d[i][frame], w, h)
            wr.add_view(c.pinhole(w, h, fp), image=rgb, alpha=alpha, keypoints=kp,
                        source=f if img_dir is not None else None)
        if s.data_2d is not None:
            wr.set_keypoint_names(keypoint_names, s.data_3d[frame])
        source = {"format": "dannce", "path": str(s.path), "frame": frame,
                  "pixel_offset_applied": MATLAB_PIXEL_OFFSET}
        if video_frame is not None:
            source["video_frame"] = video_frame
        wr.commit(images=img_dir is not None, extra={"source": source})
    return Path(out)


#: DANNCE and Label3D calibrate whole video frames, whose principal point lies near the centre
#: (the markerless_mouse_1 rig: within 8% of the size); a principal point outside the central
#: third means the image is not the frame the calibration was made for (resized or cropped).
MAX_PRINCIPAL_OFFSET = 1 / 6


def check_frame_size(c: DannceCamera, w: int, h: int, where: str) -> None:
    """Refuse an image size the camera's calibration does not fit.

    Raises:
        SplatsynthError: naming ``where``, when the size exceeds the image-size limit or the
            principal point lies outside the central third of a w x h image.
    """
    if w < 1 or h < 1 or image_size_problem(w, h):
        raise SplatsynthError(f"{where}: image size {image_size_problem(w, h) or f'{w}x{h}'}")
    cx, cy = c.K_dst[0, 2], c.K_dst[1, 2]
    if abs(cx - w / 2) > MAX_PRINCIPAL_OFFSET * w or abs(cy - h / 2) > MAX_PRINCIPAL_OFFSET * h:
        raise SplatsynthError(
            f"{where}: the calibration's principal point ({cx:.0f}, {cy:.0f}) is far from the "
            f"centre of a {w}x{h} image: the calibration is for another image size (resized or "
            "cropped frames?); give the frames the rig was calibrated on")


def _keypoints(c: DannceCamera, uv_matlab: np.ndarray, w: int, h: int) -> np.ndarray:
    """[K, 2] MATLAB labels -> [K, 3] (x, y, conf) in the pinhole image."""
    uv = c.labels_to_pinhole(uv_matlab)
    ok = (np.isfinite(uv).all(axis=1) & (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0)
          & (uv[:, 1] < h))
    kp = np.zeros((len(uv), 3))
    kp[ok, :2] = uv[ok]
    kp[ok, 2] = 1.0
    return kp
