"""FaceLift's MVDiffusion stage-1 layout: ``OUT/mvdiffusion/<scene_id>/cam_000.png .. cam_005.png``.

The six views are front, front-right, right, back, left, front-left at elevation 0
(:func:`splatsynth.cameras.mvdiffusion_cameras`), stored as straight RGBA like the GS-LRM views.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np

from ..cameras import Camera, cameras_to_json
from ..errors import SplatsynthError
from ..fileio import atomic_write_json, rgba_uint8, write_pngs
from .atomic import check_scene_id

MVDIFFUSION_DIR = "mvdiffusion"
MVDIFFUSION_VIEWS = 6


def mvdiffusion_scene_dir(out_root: str | os.PathLike[str], scene_id: str) -> Path:
    """``OUT/mvdiffusion/<scene_id>``."""
    return Path(out_root) / MVDIFFUSION_DIR / check_scene_id(scene_id)


def write_mvdiffusion_views(folder: str | os.PathLike[str], rgb: np.ndarray, alpha: np.ndarray,
                            *, cameras: Sequence[Camera] | None = None, scene_id: str = ""
                            ) -> Path:
    """Write the six MVDiffusion views of one scene into ``folder``.

    The pipeline hands in the temporary folder of the scene's commit, which moves it to
    ``OUT/mvdiffusion/<scene_id>/`` together with the scene folder (``pipeline.write``).

    Args:
        folder: the folder to fill.
        rgb: [6, H, W, 3] float colour in [0, 1], straight (not multiplied by alpha).
        alpha: [6, H, W] float rendered opacity in [0, 1].
        cameras: the six cameras, if given also written as ``opencv_cameras.json``.
        scene_id: written as ``"id"`` in ``opencv_cameras.json`` and named in errors.
    Returns:
        The folder written.
    Raises:
        SplatsynthError: wrong shapes.
    """
    rgb = np.asarray(rgb)
    alpha = np.asarray(alpha)
    where = f"scene {scene_id} (mvdiffusion)"
    if rgb.ndim != 4 or rgb.shape[0] != MVDIFFUSION_VIEWS or rgb.shape[-1] != 3:
        raise SplatsynthError(f"{where}: rgb must be [6, H, W, 3], got {rgb.shape}")
    if alpha.shape != rgb.shape[:3]:
        raise SplatsynthError(f"{where}: alpha must be {rgb.shape[:3]}, got {alpha.shape}")
    if cameras is not None and len(cameras) != MVDIFFUSION_VIEWS:
        raise SplatsynthError(f"{where}: expected 6 cameras, got {len(cameras)}")

    folder = Path(folder)
    write_pngs([(folder / f"cam_{i:03d}.png", partial(rgba_uint8, rgb[i], alpha[i]))
                for i in range(MVDIFFUSION_VIEWS)])
    if cameras is not None:
        named = [replace(c, file_path=f"cam_{i:03d}.png") for i, c in enumerate(cameras)]
        atomic_write_json(folder / "opencv_cameras.json", cameras_to_json(named, scene_id))
    return folder
