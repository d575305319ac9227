"""What every format adapter produces: a :class:`Recording`, its cameras already pinhole in our
pixel convention (SPEC section 2) and its streams opened but not yet decoded."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.ndimage import map_coordinates

from ..cameras import Camera
from ..errors import SplatsynthError
from ..scene_io.undistort import distort_points, undistort_points
from .video import FrameSource, check_sync


class Undistorter:
    """Resamples one camera's distorted frames into its pinhole camera (SPEC section 2).

    The source position of every output pixel centre is computed once (the forward model of
    :mod:`splatsynth.scene_io.undistort`) and reused for every frame.

    Args:
        K_src: [3, 3] intrinsics of the distorted frames, our pixel convention (skew allowed).
        dist: [5] (k1, k2, p1, p2, k3).
        K_dst: [3, 3] the pinhole camera.
        size: (w, h) of the frames.
    """

    def __init__(self, K_src: np.ndarray, dist: np.ndarray, K_dst: np.ndarray,
                 size: tuple[int, int]) -> None:
        w, h = size
        self.K_src, self.dist, self.K_dst = K_src, np.asarray(dist, np.float64), K_dst
        ii, jj = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5, indexing="xy")
        uv = distort_points(np.stack([ii, jj], axis=-1), K_dst, self.dist, K_src)
        self.outside = ~((uv[..., 0] >= 0) & (uv[..., 0] <= w) & (uv[..., 1] >= 0)
                         & (uv[..., 1] <= h) & np.isfinite(uv).all(axis=-1))
        # Array index k holds the pixel centred at k + 0.5.
        self.coords = np.nan_to_num(np.stack([uv[..., 1] - 0.5, uv[..., 0] - 0.5]),
                                    nan=-1.0).astype(np.float32)

    def image(self, img: np.ndarray) -> np.ndarray:
        """[H, W] or [H, W, C] uint8 distorted -> the same shape, pinhole (black outside)."""
        chans = img[..., None] if img.ndim == 2 else img
        out = np.empty(chans.shape, np.uint8)
        for c in range(chans.shape[2]):
            out[..., c] = map_coordinates(chans[..., c], self.coords, order=1, mode="nearest")
        out[self.outside] = 0
        return out[..., 0] if img.ndim == 2 else out

    def points(self, uv: np.ndarray) -> np.ndarray:
        """[N, 2] distorted pixels -> [N, 2] pinhole pixels (NaN where the inverse fails)."""
        return undistort_points(uv, self.K_src, self.dist, self.K_dst)


@dataclass
class CameraStreams:
    """One camera of a recording.

    Attributes:
        name: the camera's name; its images are ``images/<name>.png`` in every scene.
        camera: pinhole camera for the full (undistorted) frame, our pixel convention.
        video: its colour frames.
        mask: its mask frames (white = animal), or None.
        keypoints: [F, K, 3] (x, y, confidence) per frame in the pinhole image, or None.
        undistort: resampler for distorted frames, or None when they are pinhole already.
    """

    name: str
    camera: Camera
    video: FrameSource
    mask: FrameSource | None = None
    keypoints: np.ndarray | None = None
    undistort: Undistorter | None = None


@dataclass
class Recording:
    """A synchronized multi-camera recording, ready to read.

    Attributes:
        name: the recording's name; scene folders are ``<name>_f<frame, 6 digits>``.
        format: the adapter that read it (markerless, dannce, manifest).
        path: the source folder or file.
        cameras: one entry per camera, in rig order.
        keypoint_names: names of the K keypoints, or None without tracks.
        calibration: the calibration file(s), for source.json.
    """

    name: str
    format: str
    path: Path
    cameras: list[CameraStreams]
    keypoint_names: list[str] | None = None
    calibration: list[str] = field(default_factory=list)

    @property
    def has_masks(self) -> bool:
        return all(c.mask is not None for c in self.cameras)

    @property
    def fps(self) -> float | None:
        return self.cameras[0].video.fps

    def check(self) -> int:
        """Check that the streams agree (frame counts, rates, sizes, tracks, calibration sizes);
        return the number of frames.

        Raises:
            SplatsynthError: naming the file that disagrees.
        """
        if len(self.cameras) < 2:
            raise SplatsynthError(f"{self.path}: a recording needs at least 2 cameras, found "
                                  f"{len(self.cameras)}")
        masks = [c.mask for c in self.cameras]
        if any(m is not None for m in masks) and not all(m is not None for m in masks):
            missing = [c.name for c in self.cameras if c.mask is None]
            raise SplatsynthError(f"{self.path}: mask videos for some cameras only (none for "
                                  f"{', '.join(missing)})")
        n = check_sync([c.video for c in self.cameras],
                       [m for m in masks if m is not None] or None)
        for c in self.cameras:
            if (c.camera.w, c.camera.h) != c.video.size:
                raise SplatsynthError(f"{c.video.path}: frames are {c.video.size[0]}x"
                                      f"{c.video.size[1]} but camera {c.name}'s calibration is "
                                      f"for {c.camera.w}x{c.camera.h}")
            if c.keypoints is not None and len(c.keypoints) < n:
                raise SplatsynthError(f"{self.path}: camera {c.name}'s keypoint track has "
                                      f"{len(c.keypoints)} frames but the videos have {n}")
        if self.keypoint_names is not None:
            for c in self.cameras:
                if c.keypoints is not None and c.keypoints.shape[1] != len(self.keypoint_names):
                    raise SplatsynthError(f"{self.path}: camera {c.name}'s keypoint track has "
                                          f"{c.keypoints.shape[1]} keypoints but "
                                          f"{len(self.keypoint_names)} names")
        return n


def keypoint_track(arr: object, where: str, n_keypoints: int | None = None) -> np.ndarray:
    """Check a keypoint track: [F, K, 3] finite-or-NaN floats (x, y, confidence).

    NaN rows become confidence 0 at (0, 0).
    """
    try:
        a = np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise SplatsynthError(f"{where}: keypoint track is not numeric ({e})") from e
    if a.ndim != 3 or a.shape[2] not in (2, 3):
        raise SplatsynthError(f"{where}: keypoint track must be [frames, keypoints, 3] "
                              f"(x, y, confidence), got shape {list(a.shape)}")
    if a.shape[2] == 2:
        a = np.concatenate([a, np.ones(a.shape[:2] + (1,))], axis=2)
    if n_keypoints is not None and a.shape[1] != n_keypoints:
        raise SplatsynthError(f"{where}: {a.shape[1]} keypoints, expected {n_keypoints}")
    bad = ~np.isfinite(a).all(axis=2)
    a[bad] = 0.0
    return a


def default_keypoint_names(k: int) -> list[str]:
    """``kp_00``, ``kp_01``, ... for tracks without names."""
    return [f"kp_{i:02d}" for i in range(k)]
