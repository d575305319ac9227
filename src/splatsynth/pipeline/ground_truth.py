"""Ground-truth novel views: a folder of cameras and images in the input world frame.

A scene folder may ship them under ``gt/orbit`` (the demo and benchmark scenes do);
:func:`~splatsynth.pipeline.prepare` reads and checks them before the fit, so a broken folder
stops the run before any fitting; ``splatsynth eval`` reads any such folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..cameras import Camera
from ..errors import SplatsynthError
from ..scene_io import read_cameras_file
from ..scene_io.images import ImageError, load_image
from ..scene_io.validate import file_in_folder

#: Where a scene folder may ship ground-truth novel views (the demo and benchmark scenes do).
GT_ORBIT_DIR = Path("gt") / "orbit"
#: The cameras file of a ground-truth folder, first match wins.
GT_CAMERA_FILES = ("opencv_cameras.json", "cameras.json")


@dataclass(frozen=True)
class GroundTruth:
    """Reference views in the input world frame.

    Attributes:
        cameras: C cameras (``file_path`` names each image).
        rgb: [C, H, W, 3] straight colour.
        mask: per view, the image's alpha [H, W], or None for an image without one (that view's
            silhouette is not scored).
    """

    cameras: list[Camera]
    rgb: np.ndarray
    mask: tuple[np.ndarray | None, ...]

    @property
    def views_without_mask(self) -> list[str]:
        """The images that have no alpha channel."""
        return [str(c.file_path) for c, m in zip(self.cameras, self.mask) if m is None]




def load_ground_truth(gt_dir: str | Path) -> GroundTruth:
    """Read a ground-truth folder: ``opencv_cameras.json`` (or ``cameras.json``) + images.

    The cameras go through the scene's camera checks and the images through the image
    contract, with the scene folder's path rules (relative, inside the folder).

    Raises:
        SplatsynthError: no cameras file or a bad camera; or, listing every one, a missing,
            unreadable or outside image, or one whose size differs from its camera (each naming
            the file).
    """
    gt_dir = Path(gt_dir)
    cams_file = next((gt_dir / n for n in GT_CAMERA_FILES if (gt_dir / n).is_file()), None)
    if cams_file is None:
        raise SplatsynthError(f"{gt_dir}: no {' or '.join(GT_CAMERA_FILES)}")
    cams = read_cameras_file(cams_file)
    rgbs, masks, problems = [], [], []
    for c in cams:
        path, why = file_in_folder(gt_dir, str(c.file_path))
        if why is not None:
            problems.append(f"{path}: {why} (named by {cams_file.name})")
            continue
        try:
            rgb, alpha = load_image(path)
        except ImageError as e:
            problems.append(str(e))
            continue
        if rgb.shape[:2] != (c.h, c.w):
            problems.append(f"{path}: image is {rgb.shape[1]}x{rgb.shape[0]} but its camera "
                            f"says {c.w}x{c.h}")
            continue
        rgbs.append(rgb)
        masks.append(alpha)
    if problems:
        raise SplatsynthError("\n".join([f"{gt_dir}: not a usable ground-truth folder "
                                         f"({len(problems)} problem(s))"]
                                        + [f"  - {p}" for p in problems]))
    sizes = {r.shape for r in rgbs}
    if len(sizes) > 1:
        raise SplatsynthError(f"{cams_file}: the ground-truth views differ in size "
                              f"({', '.join(f'{w}x{h}' for h, w, _ in sorted(sizes))}); "
                              "one size per folder")
    return GroundTruth(cams, np.stack(rgbs), tuple(masks))


def scene_ground_truth(scene_path: str | Path) -> GroundTruth | None:
    """The ground truth a scene folder ships under ``gt/orbit``, or None when it ships none.

    Raises:
        SplatsynthError: the folder is there but broken (see :func:`load_ground_truth`).
    """
    gt_dir = Path(scene_path) / GT_ORBIT_DIR
    if not (gt_dir / GT_CAMERA_FILES[0]).is_file():
        return None
    return load_ground_truth(gt_dir)
