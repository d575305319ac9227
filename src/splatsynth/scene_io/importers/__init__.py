"""Importers: one small converter per source format into the common scene folder.

Each reads its source, converts cameras to OpenCV pinhole (undistorting images, masks and
2D keypoints where the source has lens distortion or skew), writes the folder atomically through
:class:`~splatsynth.scene_io.load.SceneWriter` and validates it before it appears. Errors name
the file and the view.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Literal

from ...errors import SplatsynthError
from .colmap import import_colmap
from .dannce import import_dannce
from .nerf import import_nerf

ImportFormat = Literal["nerf", "colmap", "dannce"]

IMPORTERS = {"nerf": import_nerf, "colmap": import_colmap, "dannce": import_dannce}


def import_scene(fmt: ImportFormat, src: str | Path, out: str | Path, **options: Any) -> Path:
    """Convert ``src`` in format ``fmt`` into a scene folder at ``out``.

    Args:
        fmt: "nerf" (transforms.json), "colmap" (text model) or "dannce" (``*_params.mat`` or
            Label3D ``.mat``).
        src: the source file or folder.
        out: the scene folder to write; it appears complete or not at all.
        **options: passed to the importer: ``overwrite`` (all), ``images`` (colmap, dannce),
            ``frame``, ``image_size``, ``keypoint_names`` (dannce).
    Returns:
        ``out`` as a Path.
    Raises:
        SplatsynthError / SceneError: naming the file and view that is wrong.
    """
    if fmt not in IMPORTERS:
        raise SplatsynthError(f"unknown import format {fmt!r} (choose from {', '.join(IMPORTERS)})")
    fn = IMPORTERS[fmt]
    known = set(inspect.signature(fn).parameters) - {"src", "out"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise SplatsynthError(f"import {fmt}: unknown option(s) {', '.join(unknown)} "
                              f"(accepted: {', '.join(sorted(known))})")
    return fn(src, out, **options)


__all__ = ["import_scene", "import_nerf", "import_colmap", "import_dannce", "IMPORTERS",
           "ImportFormat"]
