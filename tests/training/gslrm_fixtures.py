"""Writers of tiny GS-LRM-layout scenes (SPEC section 4): 8 orbit views of 16x16 RGBA."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from splatsynth.cameras import cameras_to_json, orbit_cameras

SIZE = 16
VIEWS = 8


def striped_rgba(view: int, seed: int, size: int = SIZE) -> np.ndarray:
    """[size, size, 4] uint8: random colours; alpha 0, 128 and 255 in vertical bands."""
    rng = np.random.default_rng([seed, view])
    img = rng.integers(0, 256, size=(size, size, 4), dtype=np.uint8)
    img[:, : size // 4, 3] = 0
    img[:, size // 4: size // 2, 3] = 128
    img[:, size // 2:, 3] = 255
    return img


def write_scene(root: Path, scene_id: str, *, views: int = VIEWS, size: int = SIZE, seed: int = 0,
                image_fn: Callable[[int, int], np.ndarray] | None = None) -> Path:
    """Write ``root/scene_id`` with ``images/cam_XXX.png`` and ``opencv_cameras.json``."""
    scene = root / scene_id
    (scene / "images").mkdir(parents=True)
    cams = orbit_cameras(views=views, size=size)
    for i, cam in enumerate(cams):
        arr = image_fn(i, seed) if image_fn is not None else striped_rgba(i, seed, size)
        Image.fromarray(arr).save(scene / str(cam.file_path))
    (scene / "opencv_cameras.json").write_text(json.dumps(cameras_to_json(cams, scene_id)))
    return scene


def write_list(path: Path, scenes: list[Path]) -> Path:
    path.write_text("".join(f"{s}\n" for s in scenes))
    return path
