"""``dannce``: a DANNCE project folder.

    SRC/videos/Camera1/0.mp4 ...     one folder per camera (segments named by their first frame
                                     are read as one video)
    SRC/*dannce.mat                  a Label3D export (params + labels), or
    SRC/calibration/*_params.mat     one DANNCE calibration per camera (or in SRC itself)

The calibration is read by :mod:`splatsynth.scene_io.importers.dannce` (MATLAB conventions,
-0.5 px into ours, lens distortion and skew removed): every frame is resampled into the
pinhole camera. With a Label3D file, its labelled frames (``data_frame``) carry keypoints.
The recording's name is SRC's folder name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import SplatsynthError
from ...scene_io.importers.dannce import MOUSE22_NAMES, DannceSource, read_dannce
from ..recording import CameraStreams, Recording, Undistorter, default_keypoint_names
from ..video import natural_key, open_source


def find_calibration(src: Path) -> Path:
    """The Label3D file or the folder of ``*_params.mat`` a project uses."""
    label3d = sorted(src.glob("*dannce.mat"), key=natural_key)
    if len(label3d) == 1:
        return label3d[0]
    if len(label3d) > 1:
        raise SplatsynthError(f"{src}: several Label3D files ({', '.join(p.name for p in label3d)})"
                              "; keep one")
    for folder in (src / "calibration", src):
        if any(folder.glob("*_params.mat")):
            return folder
    raise SplatsynthError(f"{src}: no calibration (expected *dannce.mat or "
                          "calibration/*_params.mat)")


def _camera_folder(videos: Path, name: str, index: int) -> Path:
    for nm in dict.fromkeys([name, f"Camera{index + 1}"]):
        if (videos / nm).is_dir():
            return videos / nm
    raise SplatsynthError(f"{videos}: no video folder for camera {name} (expected "
                          f"{videos / name}/0.mp4 or {videos}/Camera{index + 1}/0.mp4)")


def read_dannce_project(src: str | Path, name: str | None = None) -> Recording:
    """Open a DANNCE project folder (module docstring). Nothing is decoded yet."""
    src = Path(src)
    if not src.is_dir():
        raise SplatsynthError(f"{src}: not a folder (expected a DANNCE project with videos/)")
    calib = find_calibration(src)
    s: DannceSource = read_dannce(calib)
    videos = src / "videos"
    if not videos.is_dir():
        raise SplatsynthError(f"{videos}: folder not found (one sub-folder of videos per camera)")
    folders = sorted((d for d in videos.iterdir() if d.is_dir()), key=natural_key)
    if len(folders) != len(s.cameras):
        raise SplatsynthError(f"{calib}: {len(s.cameras)} cameras in the calibration but "
                              f"{len(folders)} camera folders in {videos}")
    cams = []
    n_kp = None
    for i, c in enumerate(s.cameras):
        stream = open_source(_camera_folder(videos, c.name, i))
        w, h = stream.size
        pin = c.pinhole(w, h)
        und = Undistorter(c.K_src, c.dist, c.K_dst, (w, h))
        kp = None
        if s.data_2d is not None and s.data_frame is not None:
            n_kp = s.data_2d[i].shape[1]
            kp = np.zeros((stream.n_frames, n_kp, 3))
            for row, f in enumerate(s.data_frame):
                if 0 <= f < stream.n_frames:
                    uv = c.labels_to_pinhole(s.data_2d[i][row])
                    ok = np.isfinite(uv).all(axis=1)
                    kp[f, ok, :2] = uv[ok]
                    kp[f, ok, 2] = 1.0
        cams.append(CameraStreams(name=c.name, camera=pin, video=stream, keypoints=kp,
                                  undistort=und))
    names = None
    if n_kp is not None:
        names = MOUSE22_NAMES if n_kp == 22 else default_keypoint_names(n_kp)
    return Recording(name=name or src.resolve().name, format="dannce", path=src, cameras=cams,
                     keypoint_names=names, calibration=[str(calib)])
