"""Scene folder <-> :class:`~splatsynth.scene_io.scene.Scene`.

Reading validates first (:func:`~splatsynth.scene_io.validate.inspect_scene`) and raises one
:class:`~splatsynth.errors.SceneError` listing every problem. Writing goes through
:class:`SceneWriter`, which builds the folder in a temporary sibling, validates it there and
renames it into place, so a scene folder is complete or absent.

Distortion: a frame of ``cameras.json`` with a non-zero ``"distortion"`` is undistorted at load
time (image, mask and keypoints resampled into the pinhole camera with the same fx, fy, cx, cy
and size; pixels that see outside the original image become black with mask 0), so the
in-memory scene is always pinhole.
"""

from __future__ import annotations

import json
import posixpath
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..cameras import Camera
from ..errors import Problem, SceneError, SplatsynthError
from ..fileio import (
    atomic_write_json,
    check_output_path,
    discard_temp_directory,
    new_temp_directory,
    rgba_uint8,
    swap_directory,
    to_uint8,
    write_png,
)
from .scene import Scene, View
from .undistort import undistort_image, undistort_points
from .validate import (
    CAMERAS_FILE,
    KEYPOINTS_FILE,
    SOURCE_FILE,
    inspect_scene,
    unsafe_path_reason,
)


def load_scene(path: str | Path, *, scene_id: str | None = None) -> Scene:
    """Load and validate a scene folder (SPEC section 3).

    Args:
        path: the scene folder.
        scene_id: the id used for outputs; the folder name when None.
    Returns:
        the scene: float32 RGB images [H, W, 3] in [0, 1], masks [H, W] (from ``mask_path``,
        ``masks/<stem>.png`` or the alpha channel) or None per view,
        keypoints [K, 3] when ``keypoints.json`` exists; 3D keypoints (if any) in
        ``extras["keypoints_3d"]`` [K, 3]; ``extras["rig_refined"]`` True when the scene's
        ``source.json`` says its ingest found the rig's calibration off and refined it.
    Raises:
        SceneError: listing every problem :func:`check_scene` finds.
    """
    root = Path(path)
    insp = inspect_scene(root)
    if insp.problems:
        raise SceneError(str(root), insp.problems)
    views = []
    for fd in insp.frames:
        cam, image, mask, kp = fd.camera, fd.image, fd.mask, fd.keypoints
        assert cam is not None and image is not None  # guaranteed when there are no problems
        if fd.distortion is not None:
            K = cam.K
            image = undistort_image(image, K, fd.distortion, K)
            if mask is not None:
                mask = undistort_image(mask, K, fd.distortion, K)
            if kp is not None:
                kp = _undistort_keypoints(kp, K, fd.distortion, K)
        views.append(View(camera=cam, image=np.ascontiguousarray(image, dtype=np.float32),
                          mask=None if mask is None else mask.astype(np.float32),
                          keypoints=kp))
    extras: dict[str, Any] = {}
    if insp.keypoints_3d is not None:
        extras["keypoints_3d"] = insp.keypoints_3d
    if _rig_refined(root):
        extras["rig_refined"] = True
    return Scene(scene_id=scene_id or root.resolve().name, views=views,
                 keypoint_names=insp.keypoint_names, root=root, extras=extras)


def _rig_refined(root: Path) -> bool:
    """Whether ``source.json`` (written by ``splatsynth ingest``) says the rig's calibration was
    refined from keypoint tracks. Provenance only: a missing or unreadable file means no."""
    try:
        doc = json.loads((root / SOURCE_FILE).read_text())
    except (OSError, ValueError):
        return False
    rig = doc.get("rig") if isinstance(doc, dict) else None
    return isinstance(rig, dict) and rig.get("applied") is True


def _undistort_keypoints(kp: np.ndarray, K_src: np.ndarray, dist: np.ndarray,
                         K_dst: np.ndarray) -> np.ndarray:
    """[K, 3] (x, y, conf) distorted -> pinhole; points the inverse cannot reach get conf 0."""
    out = kp.copy()
    out[:, :2] = undistort_points(kp[:, :2], K_src, dist, K_dst)
    bad = ~np.isfinite(out[:, :2]).all(axis=1)
    out[bad] = 0.0
    return out


def write_scene(scene: Scene, out: str | Path, *, overwrite: bool = False) -> Path:
    """Write a scene to a folder atomically (SPEC section 3 layout).

    Each view becomes ``images/<name>.png`` (the camera's ``file_path`` with a .png suffix, or
    ``images/view_NNN.png``): RGBA with the mask as alpha when the view has a mask, else RGB.
    Keypoints go to ``keypoints.json`` (and ``extras["keypoints_3d"]`` to its ``points_3d``).

    Args:
        scene: the scene to write.
        out: the destination folder; must not exist (or be empty) unless ``overwrite``.
        overwrite: replace an existing folder.
    Returns:
        ``out``.
    """
    with SceneWriter(out, overwrite=overwrite) as wr:
        for i, v in enumerate(scene.views):
            fp = v.camera.file_path or f"images/view_{i:03d}.png"
            fp = posixpath.splitext(fp)[0] + ".png"
            wr.add_view(replace(v.camera, file_path=fp), image=v.image, alpha=v.mask,
                        keypoints=v.keypoints)
        if scene.keypoint_names is not None:
            wr.set_keypoint_names(scene.keypoint_names, scene.extras.get("keypoints_3d"))
        return wr.commit()


class SceneWriter:
    """Builds a scene folder in a temporary sibling and renames it into place on commit.

    Use as a context manager; leaving the block without :meth:`commit` (or with an exception)
    removes the temporary folder. Example::

        with SceneWriter(out) as wr:
            wr.add_view(camera, image=rgb, alpha=mask)
            wr.commit()
    """

    def __init__(self, out: str | Path, *, overwrite: bool = False) -> None:
        self.out = Path(out)
        check_output_path(self.out, what="scene folder")
        if self.out.exists() and not overwrite:
            if not self.out.is_dir() or any(self.out.iterdir()):
                raise SplatsynthError(f"{self.out}: already exists and is not empty "
                                      "(choose another --out or allow overwriting)")
        self.overwrite = overwrite
        self.tmp = new_temp_directory(self.out)
        self.frames: list[dict[str, Any]] = []
        self.sources: dict[str, str] = {}
        self.keypoints: dict[str, list] = {}
        self.keypoint_names: list[str] | None = None
        self.keypoints_3d: np.ndarray | None = None
        self._done = False

    def __enter__(self) -> SceneWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._done:
            discard_temp_directory(self.tmp)

    def add_view(self, camera: Camera, *, image: np.ndarray | None = None,
                 alpha: np.ndarray | None = None, mask: np.ndarray | None = None,
                 source_file: str | Path | None = None, keypoints: np.ndarray | None = None,
                 distortion: list[float] | None = None, source: str | Path | None = None
                 ) -> None:
        """Add one view.

        Args:
            camera: its camera; ``camera.file_path`` (relative, e.g. ``images/cam0.png``) is
                where the image goes.
            image: [H, W, 3] float in [0, 1], written as PNG; or None with ``source_file``
                (copied byte for byte) or with neither (cameras only, no image file).
            alpha: [H, W] written as the image's alpha channel.
            mask: [H, W] written to ``masks/<stem>.png`` (single channel).
            source_file: an existing image file to copy as is.
            keypoints: [K, 3] (x, y, conf) in this view's pixels.
            distortion: [5] (k1, k2, p1, p2, k3) recorded in cameras.json.
            source: the user's file the view was made from (default ``source_file``): errors
                found when the folder is validated name it, not the copy being built.
        """
        fp = camera.file_path
        if fp is None or unsafe_path_reason(fp):
            raise ValueError(f"view file_path must be relative inside the scene, got {fp!r}")
        dst = self.tmp / fp
        if image is not None:
            write_png(dst, to_uint8(image) if alpha is None else rgba_uint8(image, alpha))
        elif source_file is not None:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source_file, dst)
        if source is not None or source_file is not None:
            self.sources[posixpath.normpath(fp)] = str(source or source_file)
        frame = camera.to_frame()
        if mask is not None:
            mp = posixpath.join("masks", posixpath.splitext(posixpath.basename(fp))[0] + ".png")
            write_png(self.tmp / mp, to_uint8(mask))
            frame["mask_path"] = mp
        if distortion is not None:
            frame["distortion"] = [float(x) for x in distortion]
        self.frames.append(frame)
        if keypoints is not None:
            self.keypoints[fp] = np.asarray(keypoints, dtype=np.float64).tolist()

    def set_keypoint_names(self, names: list[str], points_3d: np.ndarray | None = None) -> None:
        """Name the keypoints (and give their 3D positions [K, 3], NaN = unknown, if known)."""
        self.keypoint_names = list(names)
        self.keypoints_3d = None if points_3d is None else np.asarray(points_3d, np.float64)

    def commit(self, *, validate: bool = True, images: bool = True,
               extra: dict[str, Any] | None = None) -> Path:
        """Write the JSON files, validate, and move the folder into place.

        Args:
            validate: run the scene checks on the temporary folder first; on problems nothing
                is moved and :class:`SceneError` lists them (paths relative to the scene).
            images: False when the views have no image files (cameras and keypoints only);
                the image checks are then skipped.
            extra: more top-level entries for cameras.json (e.g. where the scene came from).
        Returns:
            the final folder.
        """
        doc: dict[str, Any] = {"frames": self.frames}
        if extra:
            doc.update(extra)
        atomic_write_json(self.tmp / CAMERAS_FILE, doc, indent=1)
        if self.keypoint_names is not None:
            kdoc: dict[str, Any] = {"names": self.keypoint_names, "views": self.keypoints}
            if self.keypoints_3d is not None:
                kdoc["points_3d"] = [None if not np.isfinite(p).all() else p.tolist()
                                     for p in self.keypoints_3d]
            atomic_write_json(self.tmp / KEYPOINTS_FILE, kdoc, indent=1)
        if validate:
            problems = inspect_scene(self.tmp, read_images=images).problems
            if problems:
                raise SceneError(str(self.out), [self._blame(p) for p in problems])
        # Overwriting was settled in __init__, so whatever is at `out` now is replaced.
        swap_directory(self.tmp, self.out, force=True)
        self._done = True
        return self.out

    def _blame(self, p: Problem) -> Problem:
        """A problem found in the folder being built, told in the user's terms: an image is
        named by the file it was imported from, and no path of the temporary copy appears."""
        where = p.where
        src = self.sources.get(posixpath.normpath(where.split(" (")[0]))
        if src is not None:
            where = f"{src} (imported as {where})"
        return Problem(where.replace(str(self.tmp), str(self.out)),
                       p.what.replace(str(self.tmp), str(self.out)))
