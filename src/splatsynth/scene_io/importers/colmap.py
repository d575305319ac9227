"""COLMAP text model (``cameras.txt`` + ``images.txt``) -> scene folder.

Camera models: SIMPLE_PINHOLE (f, cx, cy), PINHOLE (fx, fy, cx, cy), SIMPLE_RADIAL (f, cx, cy,
k), RADIAL (f, cx, cy, k1, k2) and OPENCV (fx, fy, cx, cy, k1, k2, p1, p2); distorted models
have their images undistorted into the pinhole camera with the same fx, fy, cx, cy and size.
``images.txt`` holds, per image, ``IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME`` (world-to-camera
rotation as a unit quaternion, OpenCV axes) followed by one line of 2D points (ignored).
COLMAP puts pixel centres at (i + 0.5) like we do, so intrinsics are used unchanged.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ...cameras import Camera, image_size_problem, rotation_from_quat_wxyz
from ...errors import SplatsynthError
from ..images import load_image
from ..load import SceneWriter
from ..undistort import needs_resampling, undistort_image
from ..validate import unsafe_path_reason

# model name -> number of parameters
_MODELS = {"SIMPLE_PINHOLE": 3, "PINHOLE": 4, "SIMPLE_RADIAL": 4, "RADIAL": 5, "OPENCV": 8}


@dataclass(frozen=True)
class ColmapCamera:
    """One line of cameras.txt as a pinhole K plus OpenCV distortion [5]."""

    model: str
    w: int
    h: int
    K: np.ndarray
    dist: np.ndarray


def _lines(path: Path) -> list[tuple[int, str]]:
    """(1-based line number, text) for every line that is not a comment."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SplatsynthError(f"{path}: unreadable: {e}") from e
    return [(n, ln.strip()) for n, ln in enumerate(text.splitlines(), 1)
            if not ln.lstrip().startswith("#")]


def read_cameras_txt(path: Path) -> dict[int, ColmapCamera]:
    """Parse cameras.txt: ``CAMERA_ID MODEL WIDTH HEIGHT PARAMS...`` per line."""
    cams = {}
    for n, ln in _lines(path):
        if not ln:
            continue
        tok = ln.split()
        where = f"{path} line {n}"
        if len(tok) < 4:
            raise SplatsynthError(f"{where}: expected CAMERA_ID MODEL WIDTH HEIGHT PARAMS...")
        model = tok[1]
        if model not in _MODELS:
            raise SplatsynthError(f"{where}: camera model {model} is not supported "
                                  f"(supported: {', '.join(_MODELS)})")
        try:
            cid, w, h = int(tok[0]), int(tok[2]), int(tok[3])
            p = [float(x) for x in tok[4:]]
        except ValueError as e:
            raise SplatsynthError(f"{where}: {e}") from e
        if len(p) != _MODELS[model]:
            raise SplatsynthError(f"{where}: {model} takes {_MODELS[model]} parameters, "
                                  f"got {len(p)}")
        if not np.isfinite(p).all():
            raise SplatsynthError(f"{where}: NaN/inf in the parameters")
        if w < 1 or h < 1:
            raise SplatsynthError(f"{where}: image size {w}x{h} is not positive")
        if (too_big := image_size_problem(w, h)):
            raise SplatsynthError(f"{where}: image size {too_big}")
        if p[0] <= 0 or (model in ("PINHOLE", "OPENCV") and p[1] <= 0):
            raise SplatsynthError(f"{where}: the focal length must be positive")
        dist = np.zeros(5)
        if model == "SIMPLE_PINHOLE":
            fx = fy = p[0]
            cx, cy = p[1:3]
        elif model == "PINHOLE":
            fx, fy, cx, cy = p
        elif model in ("SIMPLE_RADIAL", "RADIAL"):
            fx = fy = p[0]
            cx, cy = p[1:3]
            dist[: len(p) - 3] = p[3:]
        else:  # OPENCV
            fx, fy, cx, cy = p[:4]
            dist[:4] = p[4:]
        K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
        cams[cid] = ColmapCamera(model, w, h, K, dist)
    return cams


def read_images_txt(path: Path) -> list[tuple[str, np.ndarray, int, int]]:
    """Parse images.txt into (name, w2c [4, 4], camera id, line number) per image.

    Each image takes two lines: the pose line, then a line of 2D points that may be empty.
    """
    out = []
    lines = _lines(path)
    i = 0
    while i < len(lines):
        n, ln = lines[i]
        if not ln:  # blank lines between records
            i += 1
            continue
        tok = ln.split()
        where = f"{path} line {n}"
        if len(tok) < 10:
            raise SplatsynthError(f"{where}: expected IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID "
                                  "NAME")
        try:
            q = np.array([float(x) for x in tok[1:5]])
            t = np.array([float(x) for x in tok[5:8]])
            cid = int(tok[8])
        except ValueError as e:
            raise SplatsynthError(f"{where}: {e}") from e
        if not (np.isfinite(q).all() and np.isfinite(t).all()):
            raise SplatsynthError(f"{where}: NaN/inf in the pose")
        if abs(np.linalg.norm(q) - 1.0) > 1e-3:
            raise SplatsynthError(f"{where}: quaternion is not unit length "
                                  f"(|q| = {np.linalg.norm(q):.6g})")
        w2c = np.eye(4)
        w2c[:3, :3] = rotation_from_quat_wxyz(q)
        w2c[:3, 3] = t
        out.append((" ".join(tok[9:]), w2c, cid, n))
        i += 2  # skip the POINTS2D line
    return out


def _find_model(src: Path) -> Path:
    for d in (src, src / "sparse" / "0", src / "sparse", src / "0"):
        if (d / "cameras.txt").is_file() and (d / "images.txt").is_file():
            return d
    if (src / "cameras.bin").exists() or (src / "sparse" / "0" / "cameras.bin").exists():
        raise SplatsynthError(f"{src}: only a binary COLMAP model found; convert it with "
                              "`colmap model_converter --output_type TXT`")
    raise SplatsynthError(f"{src}: no cameras.txt + images.txt (looked in ., sparse/0, sparse)")


def import_colmap(src: str | Path, out: str | Path, *, images: str | Path | None = None,
                  overwrite: bool = False) -> Path:
    """Convert a COLMAP text model into a scene folder.

    Args:
        src: the model folder (holding cameras.txt and images.txt) or a project folder with
            ``sparse/0``.
        out: the scene folder to write (atomically).
        images: the image folder; by default the first of ``images/`` next to the model, in
            ``src`` or up to two levels above the model that exists.
        overwrite: replace an existing ``out``.
    Returns:
        ``out``.
    """
    src = Path(src)
    model = _find_model(src)
    cams = read_cameras_txt(model / "cameras.txt")
    imgs = read_images_txt(model / "images.txt")
    if not imgs:
        raise SplatsynthError(f"{model / 'images.txt'}: no images")
    img_dir = Path(images) if images is not None else next(
        (d for d in (model / "images", src / "images", model.parent / "images",
                     model.parent.parent / "images") if d.is_dir()), None)
    if img_dir is None or not img_dir.is_dir():
        raise SplatsynthError(f"{src}: image folder not found (give it with --images)")
    with SceneWriter(out, overwrite=overwrite) as wr:
        for name, w2c, cid, n in sorted(imgs, key=lambda r: r[0]):
            where = f"{model / 'images.txt'} line {n} ({name})"
            if cid not in cams:
                raise SplatsynthError(f"{where}: camera {cid} is not in cameras.txt")
            cc = cams[cid]
            unsafe = unsafe_path_reason(name.replace("\\", "/"))
            if unsafe:
                # The name becomes a path under images/; it must not reach outside it.
                raise SplatsynthError(f"{where}: the image name {unsafe}")
            f = img_dir / name
            if not f.is_file():
                raise SplatsynthError(f"{where}: image not found at {f}")
            fp = posixpath.join("images", name.replace("\\", "/"))
            cam = Camera(w2c=w2c, fx=cc.K[0, 0], fy=cc.K[1, 1], cx=cc.K[0, 2], cy=cc.K[1, 2],
                         w=cc.w, h=cc.h, file_path=fp)
            if needs_resampling(cc.K, cc.dist, cc.K):
                rgb, alpha = load_image(f)
                if rgb.shape[:2] != (cc.h, cc.w):
                    raise SplatsynthError(f"{where}: image is {rgb.shape[1]}x{rgb.shape[0]} "
                                          f"but camera {cid} is {cc.w}x{cc.h}")
                rgb = undistort_image(rgb, cc.K, cc.dist)
                alpha = None if alpha is None else undistort_image(alpha, cc.K, cc.dist)
                cam = replace(cam, file_path=posixpath.splitext(fp)[0] + ".png")
                wr.add_view(cam, image=rgb, alpha=alpha, source=f)
            else:
                wr.add_view(cam, source_file=f)
        wr.commit(extra={"source": {"format": "colmap", "path": str(model)}})
    return Path(out)
