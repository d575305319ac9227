"""Reading GS-LRM scene folders (SPEC section 4): list files, ``opencv_cameras.json``, RGBA views.

Convention: cameras are OpenCV (x right, y down, z forward) with the pixel-corner origin, so
resampling an image from w x h to W x H maps intrinsics exactly by (fx, cx) *= W / w and
(fy, cy) *= H / h. Every problem is reported as a :class:`~splatsynth.errors.SceneError` whose
problems name the file (and frame) and what is wrong.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .. import fileio
from ..cameras import Camera
from ..errors import Problem, SceneError
from ..scene_io.validate import cameras_from_doc, file_in_folder

#: The camera file of a GS-LRM scene folder.
CAMERAS_FILE = "opencv_cameras.json"
# Modes we can turn into straight (non-premultiplied) 8-bit RGBA without losing information.
_MODES = {"1", "L", "LA", "P", "PA", "RGB", "RGBA"}


def read_list_file(list_file: str | Path) -> tuple[Path, ...]:
    """The scene folders a list file names, in order (SPEC section 4 writes absolute paths).

    The format is :func:`splatsynth.fileio.read_list_file`'s: ``#`` comments and blank lines
    skipped, relative paths taken from the list file's folder.

    Raises:
        SplatsynthError: the list file cannot be read.
    """
    return tuple(fileio.read_list_file(list_file, what="scene list"))


@dataclass(frozen=True)
class SceneCameras:
    """The parsed ``opencv_cameras.json`` of one scene folder.

    Attributes:
        scene_dir: the scene folder.
        scene_id: the file's ``id`` (the folder name when absent).
        cameras: one camera per frame, in file order; ``file_path`` is relative to ``scene_dir``.
    """

    scene_dir: Path
    scene_id: str
    cameras: tuple[Camera, ...]

    def image_path(self, view: int) -> Path:
        """The image file of frame ``view``."""
        return self.scene_dir / str(self.cameras[view].file_path)


def read_scene_cameras(scene_dir: str | Path) -> SceneCameras:
    """Parse and validate a scene folder's ``opencv_cameras.json``.

    Raises:
        SceneError: the folder or file is missing or unreadable, or frames are malformed
            (every bad frame is listed, each naming the file and the frame index).
    """
    scene_dir = Path(scene_dir)
    path = scene_dir / CAMERAS_FILE
    if not scene_dir.is_dir():
        raise SceneError(str(scene_dir), [Problem(str(scene_dir), "scene folder does not exist")])
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise SceneError(str(scene_dir), [Problem(str(path), "file is missing")]) from e
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SceneError(str(scene_dir), [Problem(str(path), f"cannot parse JSON ({e})")]) from e
    cams, problems = cameras_from_doc(doc, path)
    if problems:
        raise SceneError(str(scene_dir), problems)
    scene_id = doc.get("id")
    return SceneCameras(scene_dir, str(scene_id) if scene_id is not None else scene_dir.name,
                        tuple(cams))


def _open_image(path: Path, scene: str) -> Image.Image:
    """Open ``path`` lazily, turning every read failure into a SceneError naming the file."""
    try:
        return Image.open(path)
    except FileNotFoundError as e:
        raise SceneError(scene, [Problem(str(path), "image file is missing")]) from e
    except (OSError, UnidentifiedImageError) as e:
        raise SceneError(scene, [Problem(str(path), f"cannot read image ({e})")]) from e


def _header_problem(im: Image.Image, cam: Camera, path: Path) -> Problem | None:
    """What is wrong with an opened image's size or mode for its frame, if anything."""
    if im.size != (cam.w, cam.h):
        return Problem(str(path), f"image is {im.size[0]}x{im.size[1]} but {CAMERAS_FILE} "
                                  f"says {cam.w}x{cam.h}")
    if im.mode not in _MODES:
        return Problem(str(path), f"unsupported image mode {im.mode}")
    return None


def image_problems(scenes: SceneCameras, view: int) -> list[Problem]:
    """Check frame ``view``'s image without decoding its pixels: exists inside the scene
    folder, readable, size, mode.

    ``Image.verify`` walks the PNG chunks and their checksums, which catches truncated and
    corrupted files at a fraction of the cost of a decode.
    """
    cam = scenes.cameras[view]
    path, why = file_in_folder(scenes.scene_dir, str(cam.file_path))
    if why is not None and why != "missing":  # a missing file is reported below
        return [Problem(str(path), why)]
    try:
        im = _open_image(path, str(scenes.scene_dir))
    except SceneError as e:
        return e.problems
    with im:
        bad = _header_problem(im, cam, path)
        if bad is not None:
            return [bad]
        try:
            im.verify()
        except Exception as e:  # noqa: BLE001 - PIL raises many types for corrupt files
            return [Problem(str(path), f"corrupt image ({e})")]
    return []


def validate_scene(scene_dir: str | Path, num_views: int = 1) -> list[Problem]:
    """Every problem that would stop the training datasets loading ``scene_dir``.

    Args:
        scene_dir: a GS-LRM scene folder.
        num_views: views drawn per item; a scene with fewer frames cannot be used.
    Returns:
        The problems found (empty when the scene is fine).
    """
    try:
        scenes = read_scene_cameras(scene_dir)
    except SceneError as e:
        return e.problems
    problems = []
    if len(scenes.cameras) < num_views:
        problems.append(Problem(str(scenes.scene_dir / CAMERAS_FILE),
                                f"has {len(scenes.cameras)} frames, fewer than "
                                f"num_views = {num_views}"))
    for v in range(len(scenes.cameras)):
        problems += image_problems(scenes, v)
    return problems


def load_view(scenes: SceneCameras, view: int, out_hw: tuple[int, int],
              background: np.ndarray) -> tuple[np.ndarray, Camera]:
    """Load one view composited on ``background`` and resampled to ``out_hw``.

    Compositing comes first: ``rgb * a + bg * (1 - a)`` is linear in premultiplied colour and
    alpha, so resampling the composite equals compositing the premultiplied resample — no dark
    fringes from transparent pixels bleeding in. Resampling is Lanczos, like FaceLift.

    Args:
        scenes: the scene's cameras.
        view: frame index.
        out_hw: output (H, W).
        background: [3] RGB in [0, 1].
    Returns:
        rgba: [4, H, W] float32 in [0, 1]: composited RGB, then alpha (1 for opaque images).
        camera: the frame's camera with intrinsics scaled to W x H.
    Raises:
        SceneError: the image is missing, unreadable, of an unsupported mode, or its size does
            not match the frame's ``w``, ``h``.
    """
    cam = scenes.cameras[view]
    scene = str(scenes.scene_dir)
    path, why = file_in_folder(scenes.scene_dir, str(cam.file_path))
    if why is not None and why != "missing":
        raise SceneError(scene, [Problem(str(path), why)])
    im = _open_image(path, scene)
    with im:
        bad = _header_problem(im, cam, path)
        if bad is not None:
            raise SceneError(scene, [bad])
        try:
            arr = np.asarray(im.convert("RGBA"), dtype=np.float32) / 255.0  # [h, w, 4]
        except (OSError, ValueError, SyntaxError) as e:
            raise SceneError(scene, [Problem(str(path), f"cannot decode image ({e})")]) from e
    alpha = arr[..., 3:]
    rgb = arr[..., :3] * alpha + background.astype(np.float32) * (1.0 - alpha)
    out = np.concatenate([rgb, alpha], axis=-1).transpose(2, 0, 1)  # [4, h, w]
    H, W = out_hw
    if (H, W) != (cam.h, cam.w):
        out = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(ch))
                                   .resize((W, H), Image.Resampling.LANCZOS))
                        for ch in out])
        np.clip(out, 0.0, 1.0, out=out)  # Lanczos overshoots at edges
        cam = cam.resized(W, H)
    return np.ascontiguousarray(out, dtype=np.float32), cam
