"""Scene-folder validation: find *every* problem, each naming the file it concerns.

This module and :mod:`.images` are the input contract for cameras, images and masks: scenes,
ground-truth folders, render cameras, imports and the training feed's datasets all read them
through :func:`read_cameras_file` / :func:`cameras_from_doc`, :func:`file_in_folder` and
:func:`~splatsynth.scene_io.images.load_image`, so a rule added here holds for every command.

:func:`inspect_scene` parses and checks a scene folder (SPEC section 3) in one pass and keeps what
it read, so :func:`~splatsynth.scene_io.load.load_scene` does not read the images twice;
:func:`check_scene` returns only the problems and never raises for bad input.

Rules (one :class:`~splatsynth.errors.Problem` each, ``where`` = the file, and the frame index
for entries of ``cameras.json``):

- ``cameras.json`` missing or malformed JSON (with line and column), or without a ``frames`` list;
  fewer than 2 views.
- per frame: missing keys, a value that is not a number, NaN or inf anywhere, ``w``/``h`` not
  positive integers or larger than splatsynth reads (:data:`~splatsynth.cameras.MAX_IMAGE_SIDE`
  per side, :data:`~splatsynth.cameras.MAX_IMAGE_PIXELS` in all), ``fx``/``fy`` not positive,
  ``w2c`` not 4x4 or its last row not (0, 0, 0, 1), a rotation that is not orthonormal
  (``|R R^T - I| > 1e-4``) or is a reflection (``det R < 0``), a malformed ``distortion``
  (at most 5 numbers).
- ``file_path`` / ``mask_path`` that is absolute, contains ``..`` (it would leave the scene
  folder) or a control character, or that resolves outside it through a symlink; duplicate
  ``file_path``s.
- the rig: every camera at one point (no parallax), or two frames with the same pose; with
  masks, a camera that does not see the subject (where the other views' silhouettes meet lies
  behind it or projects well outside its image: a wrong pose).
- a missing or unreadable image or mask; an image whose size differs from the frame's
  ``w`` x ``h``; a mask whose size differs from its image; an empty mask (no pixel above 0.5).
- subject outside a view: with a mask, more than 10% of the silhouette's outline lies on the
  image border, i.e. the frame cuts the subject rather than the tip of a tail or whisker
  grazing it (an all-foreground mask is cut everywhere); with keypoints, any keypoint with
  confidence > 0 outside [0, w) x [0, h).
- ``keypoints.json``: malformed JSON, ``names`` not a list of strings, a view key that is no
  frame's ``file_path``, a per-view count different from ``len(names)``, rows that are not
  (x, y, conf) numbers, NaN or inf.
"""

from __future__ import annotations

import json
import math
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..cameras import Camera, image_size_problem
from ..errors import Problem, SplatsynthError
from .images import ImageError, load_image, load_mask

CAMERAS_FILE = "cameras.json"
KEYPOINTS_FILE = "keypoints.json"
SOURCE_FILE = "source.json"
"""Where a scene came from, written by ``splatsynth ingest`` (docs/ingest.md)."""
MASKS_DIR = "masks"
IMAGES_DIR = "images"

ROTATION_TOL = 1e-4
"""Largest |R R^T - I| entry accepted (JSON written with 6 decimals stays well inside)."""
BORDER_CUT_FRACTION = 0.10
"""A subject whose outline lies on the image border for more than this fraction is cut off."""
MASK_THRESHOLD = 0.5
"""Mask values above this count as foreground."""

_FRAME_NUMBERS = ("fx", "fy", "cx", "cy")


@dataclass
class FrameData:
    """What :func:`inspect_scene` read for one ``cameras.json`` frame.

    Attributes:
        index: position in ``cameras.json``.
        file_path: the frame's ``file_path`` as written.
        camera: the pinhole camera, or None when the frame was too broken to build one.
        distortion: [5] (k1, k2, p1, p2, k3) when the frame has a non-zero ``distortion``.
        image: [H, W, 3] float32 when read.
        mask: [H, W] float32 (from ``mask_path``, ``masks/`` or the alpha channel) or None.
        mask_file: where the mask came from (relative path, or ``<file_path> (alpha)``).
        keypoints: [K, 3] (x, y, conf) in this image's pixels when ``keypoints.json`` exists.
    """

    index: int
    file_path: str
    camera: Camera | None = None
    distortion: np.ndarray | None = None
    image: np.ndarray | None = None
    mask: np.ndarray | None = None
    mask_file: str | None = None
    keypoints: np.ndarray | None = None


@dataclass
class Inspection:
    """The result of :func:`inspect_scene`: problems plus everything that parsed."""

    root: Path
    problems: list[Problem] = field(default_factory=list)
    frames: list[FrameData] = field(default_factory=list)
    keypoint_names: list[str] | None = None
    keypoints_3d: np.ndarray | None = None

    def add(self, where: str, what: str) -> None:
        self.problems.append(Problem(where, what))


def check_scene(path: str | Path) -> list[Problem]:
    """Validate a scene folder and list every problem found (empty when it is valid).

    Never raises for bad input: an unreadable or missing folder is itself a problem.

    Args:
        path: the scene folder (holding ``cameras.json``).
    Returns:
        the problems, in the order: cameras.json, frames, keypoints.json, images and masks.
    """
    try:
        return inspect_scene(path).problems
    except Exception as e:  # a checker must report, not crash
        return [Problem(str(path), f"internal error while checking: {type(e).__name__}: {e}")]


def inspect_scene(path: str | Path, *, read_images: bool = True) -> Inspection:
    """Parse and validate a scene folder, keeping what was read.

    Args:
        path: the scene folder.
        read_images: read and check images and masks; False checks cameras and keypoints only
            (for importers that wrote calibration without images).
    Returns:
        an :class:`Inspection` (``problems`` empty when the scene is valid).
    """
    root = Path(path)
    insp = Inspection(root=root)
    if not root.is_dir():
        insp.add(str(root), "not a folder" if root.exists() else "scene folder does not exist")
        return insp
    doc = _read_json(root / CAMERAS_FILE, CAMERAS_FILE, insp)
    if doc is None:
        return insp
    frames = doc.get("frames") if isinstance(doc, dict) else None
    if not isinstance(frames, list):
        insp.add(CAMERAS_FILE, 'expected an object with a "frames" list')
        return insp
    if len(frames) < 2:
        insp.add(CAMERAS_FILE, f"{len(frames)} view(s); at least 2 are needed")

    seen: dict[str, int] = {}
    for i, frame in enumerate(frames):
        fd = _check_frame(i, frame, root, insp)
        if fd is None:
            continue
        key = posixpath.normpath(fd.file_path)
        if key in seen:
            insp.add(f"{CAMERAS_FILE} frames[{i}]",
                     f'duplicate file_path "{fd.file_path}" (also frames[{seen[key]}])')
        else:
            seen[key] = i
        insp.frames.append(fd)

    _check_keypoints(root, insp, seen)
    _check_poses(insp)
    for fd in insp.frames:
        if read_images:
            _check_image_and_mask(root, fd, frames[fd.index], insp)
        _check_keypoints_inside(fd, insp)
    if read_images:
        _check_subject_seen(insp)
    return insp


# --- cameras.json -------------------------------------------------------------------------

def read_cameras_file(path: str | Path, *, need_file_paths: bool = True) -> list[Camera]:
    """The cameras of a ``cameras.json`` / ``opencv_cameras.json`` file, each frame checked
    exactly as a scene's are (positive focal lengths and sizes within the image-size limit, a
    rigid right-handed w2c, safe relative ``file_path``s), whichever command reads it.

    Args:
        path: the JSON file (``{"frames": [{"w", "h", "fx", "fy", "cx", "cy", "w2c",
            "file_path"}, ...]}``).
        need_file_paths: every frame must name its image (ground-truth folders); False for
            cameras to render at.
    Raises:
        SplatsynthError: listing every problem, each naming the file and the frame.
    """
    path = Path(path)
    cams, problems = cameras_file_problems(path, need_file_paths=need_file_paths)
    if problems:
        lines = [f"{path}: not a usable cameras file ({len(problems)} problem(s))"]
        raise SplatsynthError("\n".join(lines + [f"  - {p}" for p in problems]))
    return cams


def cameras_file_problems(path: str | Path, *, need_file_paths: bool = True
                          ) -> tuple[list[Camera], list[Problem]]:
    """The cameras of a cameras JSON file and every problem found in it (see
    :func:`read_cameras_file`, which raises instead); the cameras are complete only when there
    are no problems."""
    path = Path(path)
    insp = Inspection(root=path.parent)
    doc = _read_json(path, str(path), insp)
    if doc is None:
        return [], insp.problems
    return cameras_from_doc(doc, path, need_file_paths=need_file_paths)


def cameras_from_doc(doc: Any, path: str | Path, *, need_file_paths: bool = True
                     ) -> tuple[list[Camera], list[Problem]]:
    """The cameras of a parsed cameras JSON document ``doc`` read from ``path``, and every
    problem, by the rules of :func:`read_cameras_file` (for readers that parse the file
    themselves, e.g. for its other keys)."""
    path = Path(path)
    insp = Inspection(root=path.parent)
    frames = doc.get("frames") if isinstance(doc, dict) else None
    if not isinstance(frames, list):
        insp.add(str(path), 'expected an object with a "frames" list')
    elif not frames:
        insp.add(str(path), "no frames")
    cams = []
    for i, frame in enumerate(frames or []):
        fd = _check_frame(i, frame, path.parent, insp, name=str(path),
                          need_file_path=need_file_paths)
        if fd is not None and fd.camera is not None:
            cams.append(fd.camera)
    return cams, insp.problems


def file_in_folder(root: str | Path, rel: str) -> tuple[Path, str | None]:
    """``root / rel`` for a path a file in ``root`` names, and why it may not be read (None:
    it may): a path that is absolute, climbs out with ``..`` or leaves ``root`` through a
    symlink is refused (the rule of scene folders, ground-truth folders and datasets alike),
    and so is a missing file."""
    root = Path(root)
    reason = unsafe_path_reason(rel)
    if reason:
        return root, f"path {reason}"
    path = root / rel
    if not path.exists():
        return path, "missing"
    if not _inside(root, path):
        return path, "resolves outside its folder (symlink)"
    return path, None


def _read_json(path: Path, name: str, insp: Inspection) -> Any | None:
    if not path.is_file():
        insp.add(name, "not a file" if path.exists() else "missing")
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        insp.add(name, f"unreadable: {e}")
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        insp.add(name, f"malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}")
        return None


def unsafe_path_reason(p: str) -> str | None:
    """Why a relative path from a scene file would leave the scene folder, or None if it is
    safe (relative, without ``..``)."""
    if not p:
        return "is empty"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in p):
        return "contains a control character"
    if p.startswith(("/", "\\")) or (len(p) > 1 and p[1] == ":"):
        return "is absolute (paths must be relative to the scene folder)"
    if ".." in p.replace("\\", "/").split("/"):
        return 'contains ".." (paths must stay inside the scene folder)'
    return None


def _inside(root: Path, p: Path) -> bool:
    try:
        return p.resolve().is_relative_to(root.resolve())
    except OSError:
        return False


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _check_frame(i: int, frame: Any, root: Path, insp: Inspection, *,
                 name: str = CAMERAS_FILE, need_file_path: bool = True) -> FrameData | None:
    where = f"{name} frames[{i}]"
    if not isinstance(frame, dict):
        insp.add(where, "expected an object")
        return None
    fp = frame.get("file_path")
    if fp is None and not need_file_path:
        fp = ""
    if not isinstance(fp, str):
        insp.add(where, 'missing "file_path" (a string)')
        return None
    if fp:
        where = f"{where} ({fp})"
    n0 = len(insp.problems)
    reason = unsafe_path_reason(fp) if fp or need_file_path else None
    if reason:
        insp.add(where, f"file_path {reason}")
    mp = frame.get("mask_path")
    if mp is not None:
        if not isinstance(mp, str):
            insp.add(where, "mask_path must be a string")
        elif (r := unsafe_path_reason(mp)):
            insp.add(where, f"mask_path {r}")

    missing = [k for k in ("w", "h", *_FRAME_NUMBERS, "w2c") if k not in frame]
    if missing:
        insp.add(where, f"missing key(s): {', '.join(missing)}")
    sizes_ok = True
    for k in ("w", "h"):
        if k in frame:
            v = frame[k]
            if not (_is_number(v) and math.isfinite(v) and float(v).is_integer() and v > 0):
                insp.add(where, f"{k} must be a positive integer, got {v!r}")
                sizes_ok = False
    if sizes_ok and "w" in frame and "h" in frame:
        too_big = image_size_problem(int(frame["w"]), int(frame["h"]))
        if too_big:
            insp.add(where, f"image size {too_big}")
    for k in _FRAME_NUMBERS:
        if k in frame:
            v = frame[k]
            if not _is_number(v):
                insp.add(where, f"{k} must be a number, got {v!r}")
            elif not math.isfinite(v):
                insp.add(where, f"{k} is {v} (NaN/inf)")
            elif k in ("fx", "fy") and v <= 0:
                insp.add(where, f"{k} must be positive, got {v}")
    w2c = None
    if "w2c" in frame:
        w2c = _check_w2c(frame["w2c"], where, insp)
    dist = None
    if "distortion" in frame:
        d = frame["distortion"]
        if (not isinstance(d, list) or len(d) > 5 or not all(_is_number(x) for x in d)):
            insp.add(where, "distortion must be a list of at most 5 numbers (k1, k2, p1, p2, k3)")
        elif not all(math.isfinite(x) for x in d):
            insp.add(where, f"distortion contains NaN/inf: {d}")
        elif any(d):
            dist = np.zeros(5)
            dist[: len(d)] = d

    fd = FrameData(index=i, file_path=fp, distortion=dist)
    if len(insp.problems) == n0 and w2c is not None:
        fd.camera = Camera(w2c=w2c, fx=frame["fx"], fy=frame["fy"], cx=frame["cx"],
                           cy=frame["cy"], w=int(frame["w"]), h=int(frame["h"]), file_path=fp)
    return fd


def _check_w2c(m: Any, where: str, insp: Inspection) -> np.ndarray | None:
    try:
        a = np.asarray(m, dtype=np.float64)
    except (TypeError, ValueError):
        insp.add(where, "w2c must be a 4x4 array of numbers")
        return None
    if a.shape != (4, 4):
        insp.add(where, f"w2c must be 4x4, got shape {a.shape}")
        return None
    if not np.isfinite(a).all():
        insp.add(where, "w2c contains NaN/inf")
        return None
    ok = True
    if not np.allclose(a[3], [0.0, 0.0, 0.0, 1.0], atol=1e-9):
        insp.add(where, f"w2c last row must be [0, 0, 0, 1], got {a[3].tolist()}")
        ok = False
    R = a[:3, :3]
    err = float(np.abs(R @ R.T - np.eye(3)).max())
    if err > ROTATION_TOL:
        insp.add(where, f"w2c rotation is not orthonormal (max |R R^T - I| = {err:.3g})")
        ok = False
    elif np.linalg.det(R) < 0:
        insp.add(where, "w2c rotation is a reflection (det = -1); cameras must be right-handed "
                        "(OpenCV: x right, y down, z forward)")
        ok = False
    return a if ok else None


# --- the rig as a whole -------------------------------------------------------------------

POSE_TOL = 1e-6
"""Two cameras whose centres lie closer than this fraction of the rig's size and whose
rotations differ by less than this are the same viewpoint."""
SUBJECT_MARGIN = 0.25
"""How far outside a view (as a fraction of its size) the subject's centre may project before
that camera counts as not seeing it."""
_MIN_RAY_ANGLE = math.radians(2.0)


def _check_poses(insp: Inspection) -> None:
    """Repeated viewpoints: identical views give a fit nothing to triangulate from."""
    fds = [fd for fd in insp.frames if fd.camera is not None]
    if len(fds) < 2:
        return
    centres = np.stack([fd.camera.center for fd in fds])
    size = float(np.linalg.norm(centres - centres.mean(0), axis=1).max())
    if size <= POSE_TOL * max(1.0, float(np.linalg.norm(centres, axis=1).max())):
        insp.add(CAMERAS_FILE, f"all {len(fds)} cameras sit at one point: views from a single "
                               "centre have no parallax to reconstruct the subject from")
        return
    for j, b in enumerate(fds):
        for a in fds[:j]:
            if (np.linalg.norm(a.camera.center - b.camera.center) <= POSE_TOL * size
                    and np.abs(a.camera.R - b.camera.R).max() <= POSE_TOL):
                insp.add(f"{CAMERAS_FILE} frames[{b.index}] ({b.file_path})",
                         f"the same camera pose as frames[{a.index}] ({a.file_path}): a "
                         "repeated view adds nothing a fit can use")
                break


def _check_subject_seen(insp: Inspection) -> None:
    """Cameras that do not see the subject: where the silhouettes' centroid rays meet (a
    median over pairs of views, so one wrong camera does not move it) must lie in front of every
    camera and project into its image (give or take :data:`SUBJECT_MARGIN`). A camera whose pose
    is wrong fails this, though its own image shows the subject."""
    rays = []
    for fd in insp.frames:
        if fd.camera is None or fd.mask is None or fd.mask.shape != (fd.camera.h, fd.camera.w):
            continue
        ys, xs = np.nonzero(fd.mask > MASK_THRESHOLD)
        if not len(xs):
            continue
        c = fd.camera
        d = c.R.T @ np.linalg.solve(c.K, [xs.mean() + 0.5, ys.mean() + 0.5, 1.0])
        rays.append((fd, c.center, d / np.linalg.norm(d)))
    points = []
    for j in range(len(rays)):
        for i in range(j):
            p = _closest_point(rays[i][1], rays[i][2], rays[j][1], rays[j][2])
            if p is not None:
                points.append(p)
    if len(rays) < 3 or not points:
        return  # two views always "meet"; nothing to compare against
    subject = np.median(np.stack(points), axis=0)
    for fd, _, _ in rays:
        c = fd.camera
        x = c.R @ subject + c.t
        where = f"{CAMERAS_FILE} frames[{fd.index}] ({fd.file_path})"
        if x[2] <= 0:
            insp.add(where, "the subject is behind this camera (where the other views' "
                            "silhouettes meet): is the camera's pose right?")
            continue
        u, v = c.fx * x[0] / x[2] + c.cx, c.fy * x[1] / x[2] + c.cy
        mu, mv = SUBJECT_MARGIN * c.w, SUBJECT_MARGIN * c.h
        if not (-mu <= u <= c.w + mu and -mv <= v <= c.h + mv):
            insp.add(where, f"the subject is not in this camera's view: where the other views' "
                            f"silhouettes meet projects to ({u:.0f}, {v:.0f}), outside the "
                            f"{c.w}x{c.h} image (is the camera's pose right?)")


def _closest_point(o1: np.ndarray, d1: np.ndarray, o2: np.ndarray, d2: np.ndarray
                   ) -> np.ndarray | None:
    """The midpoint of the closest approach of two rays (unit directions), or None when they
    are nearly parallel or meet behind either origin."""
    cross = np.cross(d1, d2)
    sin = float(np.linalg.norm(cross))
    if sin < math.sin(_MIN_RAY_ANGLE):
        return None
    w = o2 - o1
    t1 = float(np.dot(np.cross(w, d2), cross)) / sin**2
    t2 = float(np.dot(np.cross(w, d1), cross)) / sin**2
    if t1 <= 0 or t2 <= 0:
        return None
    return 0.5 * (o1 + t1 * d1 + o2 + t2 * d2)


# --- keypoints.json ------------------------------------------------------------------------

def _check_keypoints(root: Path, insp: Inspection, frame_keys: dict[str, int]) -> None:
    path = root / KEYPOINTS_FILE
    if not path.exists():
        return
    doc = _read_json(path, KEYPOINTS_FILE, insp)
    if doc is None:
        return
    if not isinstance(doc, dict):
        insp.add(KEYPOINTS_FILE, 'expected an object with "names" and "views"')
        return
    names = doc.get("names")
    if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        insp.add(KEYPOINTS_FILE, '"names" must be a list of strings')
        return
    K = len(names)
    insp.keypoint_names = names
    views = doc.get("views", {})
    if not isinstance(views, dict):
        insp.add(KEYPOINTS_FILE, '"views" must be an object {file_path: [[x, y, conf], ...]}')
        return
    by_index: dict[int, np.ndarray] = {}
    for key, rows in views.items():
        where = f"{KEYPOINTS_FILE} views[{key!r}]"
        idx = frame_keys.get(posixpath.normpath(key)) if isinstance(key, str) else None
        if idx is None:
            insp.add(where, "no frame in cameras.json has this file_path")
            continue
        arr = _rows(rows, 3, where, insp, K)
        if arr is not None:
            by_index[idx] = arr
    for fd in insp.frames:
        if fd.index in by_index:
            fd.keypoints = by_index[fd.index]
        else:  # a view without labels sees none of them
            fd.keypoints = np.zeros((K, 3))
    if "points_3d" in doc:
        pts = doc["points_3d"]
        where = f"{KEYPOINTS_FILE} points_3d"
        if not isinstance(pts, list) or len(pts) != K:
            insp.add(where, f"expected {K} rows of [x, y, z] (or null), one per name")
            return
        rows3 = [r if r is not None else [math.nan] * 3 for r in pts]
        arr = _rows(rows3, 3, where, insp, K, allow_nan=True)
        if arr is not None:
            insp.keypoints_3d = arr


def _rows(rows: Any, n: int, where: str, insp: Inspection, K: int,
          allow_nan: bool = False) -> np.ndarray | None:
    if not isinstance(rows, list):
        insp.add(where, f"expected a list of {K} rows")
        return None
    if len(rows) != K:
        insp.add(where, f"{len(rows)} keypoints but keypoints.json names {K}")
        return None
    if not all(isinstance(r, list) and len(r) == n and all(_is_number(x) for x in r)
               for r in rows):
        insp.add(where, f"every keypoint must be a list of {n} numbers")
        return None
    arr = np.asarray(rows, dtype=np.float64).reshape(K, n)
    if not allow_nan and not np.isfinite(arr).all():
        bad = sorted({int(k) for k in np.nonzero(~np.isfinite(arr))[0]})
        insp.add(where, f"NaN/inf in keypoint(s) {bad}")
        return None
    if allow_nan and np.isinf(arr).any():
        insp.add(where, "inf in points")
        return None
    return arr


def _check_keypoints_inside(fd: FrameData, insp: Inspection) -> None:
    if fd.keypoints is None or fd.camera is None or insp.keypoint_names is None:
        return
    kp = fd.keypoints
    w, h = fd.camera.w, fd.camera.h
    out = (kp[:, 2] > 0) & ~((kp[:, 0] >= 0) & (kp[:, 0] < w) & (kp[:, 1] >= 0)
                             & (kp[:, 1] < h))
    if out.any():
        names = [insp.keypoint_names[k] for k in np.nonzero(out)[0]]
        insp.add(f"{KEYPOINTS_FILE} views[{fd.file_path!r}]",
                 f"subject outside the view: {len(names)} keypoint(s) with conf > 0 lie outside "
                 f"the {w}x{h} image: {', '.join(names)}")


# --- images and masks ----------------------------------------------------------------------

def mask_candidates(file_path: str) -> list[str]:
    """Where a mask for ``file_path`` may live under ``masks/``: the same relative path below
    ``masks/`` as below ``images/`` with a .png suffix, then ``masks/<stem>.png``."""
    p = posixpath.normpath(file_path)
    stem = posixpath.splitext(posixpath.basename(p))[0]
    out = []
    if p.startswith(IMAGES_DIR + "/"):
        out.append(posixpath.join(MASKS_DIR, posixpath.splitext(p[len(IMAGES_DIR) + 1:])[0]
                                  + ".png"))
    flat = posixpath.join(MASKS_DIR, stem + ".png")
    if flat not in out:
        out.append(flat)
    return out


def _check_image_and_mask(root: Path, fd: FrameData, frame: dict, insp: Inspection) -> None:
    fp = fd.file_path
    if unsafe_path_reason(fp):
        return  # already reported; never touch files outside the scene
    path = root / fp
    if not path.is_file():
        insp.add(fp, "missing image")
        return
    if not _inside(root, path):
        insp.add(fp, "resolves outside the scene folder (symlink)")
        return
    try:
        rgb, alpha = load_image(path)
    except ImageError as e:
        insp.add(fp, e.reason)
        return
    fd.image = rgb
    H, W = rgb.shape[:2]
    if fd.camera is not None and (W, H) != (fd.camera.w, fd.camera.h):
        insp.add(fp, f"image is {W}x{H} but cameras.json says {fd.camera.w}x{fd.camera.h}")

    mask, mask_file = None, None
    mp = frame.get("mask_path")
    if isinstance(mp, str):
        if unsafe_path_reason(mp):
            return
        mask_file = mp
        if not (root / mp).is_file():
            insp.add(mp, f"missing mask (mask_path of {fp})")
            return
    else:
        mask_file = next((c for c in mask_candidates(fp) if (root / c).is_file()), None)
    if mask_file is not None:
        if not _inside(root, root / mask_file):
            insp.add(mask_file, "resolves outside the scene folder (symlink)")
            return
        try:
            mask = load_mask(root / mask_file)
        except ImageError as e:
            insp.add(mask_file, f"mask: {e.reason}")
            return
        if mask.shape != (H, W):
            insp.add(mask_file, f"mask is {mask.shape[1]}x{mask.shape[0]} but image {fp} is "
                                f"{W}x{H}")
            return
    elif alpha is not None:
        mask, mask_file = alpha, f"{fp} (alpha)"
    if mask is None:
        return
    fd.mask, fd.mask_file = mask, mask_file
    fg = mask > MASK_THRESHOLD
    if not fg.any():
        insp.add(mask_file, "empty mask (no pixel above 0.5): the subject is not in this view")
        return
    cut = border_cut_fraction(fg)
    if cut > BORDER_CUT_FRACTION:
        insp.add(mask_file, f"subject outside the view: {cut:.0%} of the silhouette's outline "
                            f"lies on the image border (more than {BORDER_CUT_FRACTION:.0%})")


def border_cut_fraction(fg: np.ndarray) -> float:
    """Fraction of a silhouette's outline that lies on the image border.

    The outline is the foreground pixels with a 4-neighbour outside the foreground, counting
    pixels beyond the image as outside. 0 for a subject well inside the frame; 1 for a mask
    that is all foreground.

    Args:
        fg: [H, W] bool foreground.
    """
    p = np.pad(fg, 1, constant_values=False)
    interior = p[1:-1, 1:-1] & p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    outline = fg & ~interior
    n = int(outline.sum())
    if n == 0:
        return 0.0
    border = np.zeros_like(fg)
    border[0, :] = border[-1, :] = True
    border[:, 0] = border[:, -1] = True
    return float((outline & border).sum()) / n
