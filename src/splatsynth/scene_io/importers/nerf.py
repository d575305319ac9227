"""NeRF / Blender ``transforms.json`` -> scene folder.

Accepted (instant-ngp / nerfstudio / Blender-synthetic dialects):

- intrinsics at the top level or per frame (a frame's value wins): ``fl_x``/``fl_y`` or
  ``camera_angle_x``/``camera_angle_y`` (full field of view in radians; a missing axis takes the
  other's focal length), ``cx``/``cy`` (default: image centre), ``w``/``h`` (default: read from
  the image), and optionally ``k1 k2 p1 p2 k3`` (OpenCV model; the images are undistorted).
- ``frames[i].file_path`` relative to the transforms file, with or without extension;
  ``frames[i].transform_matrix`` = camera-to-world of an OpenGL camera (x right, y up, looking
  down -z), converted to OpenCV by flipping the camera's y and z axes.

cx, cy are taken as they are: nerfstudio and instant-ngp cast rays through pixel centres
(i + 0.5), the same convention as ours. RGBA images keep their alpha as the mask.
"""

from __future__ import annotations

import json
import math
import posixpath
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ...cameras import Camera, opencv_c2w_from_opengl_c2w, w2c_from_c2w
from ...errors import SplatsynthError
from ..images import find_image, image_size, load_image
from ..load import SceneWriter
from ..undistort import needs_resampling, undistort_image


def import_nerf(src: str | Path, out: str | Path, *, overwrite: bool = False) -> Path:
    """Convert a ``transforms.json`` (or a folder holding one) into a scene folder.

    Args:
        src: the transforms file, or its folder.
        out: the scene folder to write (atomically).
        overwrite: replace an existing ``out``.
    Returns:
        ``out``.
    Raises:
        SplatsynthError: naming the file and frame when something is missing or malformed.
    """
    src = Path(src)
    tf = src / "transforms.json" if src.is_dir() else src
    if not tf.is_file():
        raise SplatsynthError(f"{tf}: no transforms.json found")
    try:
        doc = json.loads(tf.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise SplatsynthError(f"{tf}: unreadable ({getattr(e, 'strerror', None) or e})") from e
    except json.JSONDecodeError as e:
        raise SplatsynthError(f"{tf}: malformed JSON at line {e.lineno}, column {e.colno}: "
                              f"{e.msg}") from e
    frames = doc.get("frames") if isinstance(doc, dict) else None
    if not isinstance(frames, list) or not frames:
        raise SplatsynthError(f'{tf}: expected an object with a non-empty "frames" list')
    base = tf.parent
    used: set[str] = set()
    with SceneWriter(out, overwrite=overwrite) as wr:
        for i, fr in enumerate(frames):
            where = f"{tf} frames[{i}]"
            if not isinstance(fr, dict) or "file_path" not in fr or "transform_matrix" not in fr:
                raise SplatsynthError(f'{where}: needs "file_path" and "transform_matrix"')
            if not isinstance(fr["file_path"], str) or not fr["file_path"] or any(
                    ord(ch) < 32 for ch in fr["file_path"]):
                raise SplatsynthError(f"{where}: file_path must be a file name, got "
                                      f"{fr['file_path']!r}")
            where = f"{where} ({fr['file_path']})"
            img = find_image(base / fr["file_path"])
            if img is None:
                raise SplatsynthError(f"{where}: image not found at {base / fr['file_path']}"
                                      " (with or without an extension)")
            cam, dist = _camera(doc, fr, img, where)
            name = _out_name(img, base, used)
            if needs_resampling(cam.K, dist, cam.K):
                rgb, alpha = load_image(img)
                rgb = undistort_image(rgb, cam.K, dist)
                alpha = None if alpha is None else undistort_image(alpha, cam.K, dist)
                name = posixpath.splitext(name)[0] + ".png"
                wr.add_view(replace(cam, file_path=name), image=rgb, alpha=alpha, source=img)
            else:
                wr.add_view(replace(cam, file_path=name), source_file=img)
        wr.commit(extra={"source": {"format": "nerf", "path": str(tf)}})
    return Path(out)


def _num(doc: dict, fr: dict, key: str, where: str) -> float | None:
    v = fr.get(key, doc.get(key))
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise SplatsynthError(f"{where}: {key} must be a finite number, got {v!r}")
    return float(v)


def _camera(doc: dict, fr: dict, img: Path, where: str) -> tuple[Camera, np.ndarray]:
    w, h = _num(doc, fr, "w", where), _num(doc, fr, "h", where)
    if w is None or h is None:
        try:
            w, h = image_size(img)
        except Exception as e:  # Pillow raises many types
            raise SplatsynthError(f"{where}: cannot read image {img}: {e}") from e
    for k, v in (("w", w), ("h", h)):
        if not (v >= 1 and float(v).is_integer()):
            raise SplatsynthError(f"{where}: {k} must be a positive integer, got {v:g}")
    fx, fy = _num(doc, fr, "fl_x", where), _num(doc, fr, "fl_y", where)
    ax, ay = _num(doc, fr, "camera_angle_x", where), _num(doc, fr, "camera_angle_y", where)
    for k, v in (("camera_angle_x", ax), ("camera_angle_y", ay)):
        # The full field of view in radians: 0 would put the focal length at infinity.
        if v is not None and not 0 < v < math.pi:
            raise SplatsynthError(f"{where}: {k} must be a field of view in (0, pi) radians, "
                                  f"got {v:g}")
    for k, v in (("fl_x", fx), ("fl_y", fy)):
        if v is not None and v <= 0:
            raise SplatsynthError(f"{where}: {k} must be positive, got {v:g}")
    if fx is None and ax is not None:
        fx = 0.5 * w / math.tan(0.5 * ax)
    if fy is None and ay is not None:
        fy = 0.5 * h / math.tan(0.5 * ay)
    fx = fx if fx is not None else fy
    fy = fy if fy is not None else fx
    if fx is None or fy is None:
        raise SplatsynthError(f"{where}: no focal length (give fl_x/fl_y or camera_angle_x)")
    cx = _num(doc, fr, "cx", where)
    cy = _num(doc, fr, "cy", where)
    cx = 0.5 * w if cx is None else cx
    cy = 0.5 * h if cy is None else cy
    dist = np.array([_num(doc, fr, k, where) or 0.0 for k in ("k1", "k2", "p1", "p2", "k3")])
    m = _matrix(fr["transform_matrix"], where)
    R = m[:3, :3]
    if np.abs(R @ R.T - np.eye(3)).max() > 1e-4 or np.linalg.det(R) < 0:
        raise SplatsynthError(f"{where}: transform_matrix rotation is not a proper rotation "
                              "(scaled, sheared or reflected)")
    w2c = w2c_from_c2w(opencv_c2w_from_opengl_c2w(m))
    return Camera(w2c=w2c, fx=fx, fy=fy, cx=cx, cy=cy, w=int(w), h=int(h)), dist


def _matrix(v: Any, where: str) -> np.ndarray:
    try:
        m = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise SplatsynthError(f"{where}: transform_matrix must be numbers") from e
    if m.shape == (3, 4):
        m = np.vstack([m, [0.0, 0.0, 0.0, 1.0]])
    if m.shape != (4, 4) or not np.isfinite(m).all():
        raise SplatsynthError(f"{where}: transform_matrix must be a finite 4x4 (or 3x4) matrix")
    return m


def _out_name(img: Path, base: Path, used: set[str]) -> str:
    """``images/<path relative to the transforms folder>``, or the bare file name when the image
    lives outside that folder; made unique."""
    try:
        rel = img.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        rel = img.name
    if rel.startswith("images/"):
        rel = rel[len("images/"):]
    name = posixpath.join("images", rel)
    stem, ext = posixpath.splitext(name)
    k = 1
    while name in used:
        name = f"{stem}_{k}{ext}"
        k += 1
    used.add(name)
    return name
