"""The built-in demo scene: the toy mouse seen by a 6-camera rig, with its ground truth.

``make_demo_scene`` writes a scene folder (SPEC section 3) plus the truth that ships with it:
``gt/keypoints_3d.json`` and ``gt/orbit/`` (the 32-view GS-LRM orbit, in the same world frame
as the input cameras, laid out like a dataset scene so ``splatsynth eval`` can score against it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from ..cameras import Camera, cameras_to_json, look_at_w2c, orbit_cameras
from ..cameras.orbits import FACELIFT_FOCAL_512
from ..fileio import atomic_directory, atomic_write_json, write_png
from ..scene_io.scene import Scene, View
from .toy_mouse import TOY_MOUSE_KEYPOINTS, keypoint_visibility, render_toy_mouse

#: Folder name (and scene id) of the demo scene inside ``make_demo_scene``'s ``out_dir``.
DEMO_SCENE_ID = "toy_mouse"
# zlib level 1: the demo writes 38 views at 512 px on every run and speed beats file size.
_PNG_LEVEL = 1


def demo_rig_cameras(n_views: int = 6, elevation: float = 30.0, size: int = 512,
                     seed: int = 0) -> list[Camera]:
    """A ring of rig cameras round the toy mouse, jittered like a real, hand-built rig.

    Each camera gets its own azimuth (+-5 deg off a regular ring), elevation (+-3 deg),
    distance (2.8 to 3.1), aim point (a few hundredths off the origin), roll (+-2 deg),
    focal length (+-2 %) and principal point (+-3 px at 512), all from ``seed``.

    Args:
        n_views: number of cameras.
        elevation: mean elevation above the XY plane, degrees.
        size: image width and height in pixels.
        seed: jitter seed; the same seed gives the same cameras.
    Returns:
        Cameras named ``images/view_000.png`` ...
    """
    if n_views < 2:
        raise ValueError(f"the demo rig needs at least 2 views, got {n_views}")
    rng = np.random.default_rng(seed)
    px = size / 512.0
    cams = []
    for i in range(n_views):
        az = math.radians(15.0 + i * 360.0 / n_views + rng.uniform(-5, 5))
        el = math.radians(elevation + rng.uniform(-3, 3))
        dist = rng.uniform(2.8, 3.1)
        target = np.array([rng.normal(0, 0.03), rng.normal(0, 0.03), -0.05 + rng.normal(0, 0.02)])
        eye = target + dist * np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az),
                                        math.sin(el)])
        w2c = look_at_w2c(eye, target)
        roll = math.radians(rng.uniform(-2, 2))
        spin = np.eye(4)
        spin[:2, :2] = [[math.cos(roll), -math.sin(roll)], [math.sin(roll), math.cos(roll)]]
        f = FACELIFT_FOCAL_512 * 1.04 * px * (1 + rng.uniform(-0.02, 0.02))
        cx = size / 2 + rng.uniform(-3, 3) * px
        cy = size / 2 + rng.uniform(-3, 3) * px
        cams.append(Camera(spin @ w2c, fx=f, fy=f, cx=cx, cy=cy, w=size, h=size,
                           file_path=f"images/view_{i:03d}.png"))
    return cams


def project_keypoints(camera: Camera) -> np.ndarray:
    """[K, 3] (x, y, conf) of the toy mouse's 3D keypoints in ``camera``; conf is 1 where the
    keypoint is the first surface on its ray and inside the image, else 0."""
    uv, _ = camera.project(TOY_MOUSE_KEYPOINTS.points)
    vis = keypoint_visibility(camera)
    return np.concatenate([uv, vis[:, None].astype(np.float64)], axis=1)


def toy_mouse_scene(size: int = 512, n_views: int = 6, elevation: float = 30.0, seed: int = 0,
                    supersample: int = 2) -> Scene:
    """The demo scene in memory (what ``load_scene`` returns for ``make_demo_scene``'s folder,
    up to 8-bit quantization of images and masks).

    Returns:
        A Scene with RGB images, coverage masks, 2D keypoints, and the 3D keypoints in
        ``extras["keypoints_3d"]`` ([K, 3], demo world frame).
    """
    cams = demo_rig_cameras(n_views, elevation, size, seed)
    rgb, alpha = render_toy_mouse(cams, supersample)
    views = [View(cam, rgb[i], alpha[i], project_keypoints(cam)) for i, cam in enumerate(cams)]
    return Scene(DEMO_SCENE_ID, views, list(TOY_MOUSE_KEYPOINTS.names),
                 extras={"keypoints_3d": TOY_MOUSE_KEYPOINTS.points.copy()})


def _rgba_u8(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """[H, W, 4] uint8 straight-alpha RGBA from [H, W, 3] colour and [H, W] alpha in [0, 1].

    Halves round to even here, not up as in :func:`splatsynth.fileio.to_uint8`: the demo's
    images are its fixed test data, and rounding them the other way moves a few pixels (13 at
    the defaults) and with them the demo's scores.
    """
    out = np.concatenate([rgb, alpha[..., None]], axis=-1)
    return np.round(np.clip(out, 0.0, 1.0) * 255.0).astype(np.uint8)


def make_demo_scene(out_dir: Path, *, size: int = 512, n_views: int = 6, elevation: float = 30.0,
                    seed: int = 0) -> Path:
    """Write the toy-mouse demo scene folder ``out_dir / "toy_mouse"``.

    Layout (SPEC section 3, plus ground truth)::

        toy_mouse/
          cameras.json                 # the jittered rig (demo_rig_cameras)
          images/view_000.png ...      # RGBA, alpha = anti-aliased coverage (the mask)
          keypoints.json               # {"names", "views": {file_path: [[x, y, conf], ...]}}
          gt/keypoints_3d.json         # {"names", "points": [[x, y, z], ...]} (world frame)
          gt/orbit/opencv_cameras.json # the 32-view GS-LRM orbit at ``size``, same world frame
          gt/orbit/images/cam_000.png ... cam_031.png

    The folder appears atomically (built in a temporary sibling, then renamed over any old one)
    and is byte-for-byte the same for the same arguments.

    Args:
        out_dir: parent folder; created if missing.
        size: width and height of every image.
        n_views: number of rig cameras.
        elevation: mean rig elevation, degrees.
        seed: rig jitter seed.
    Returns:
        The scene folder.
    """
    final = Path(out_dir) / DEMO_SCENE_ID
    with atomic_directory(final, force=True) as tmp:
        rig = demo_rig_cameras(n_views, elevation, size, seed)
        orbit = orbit_cameras(size=size)
        rgb, alpha = render_toy_mouse(rig + orbit)
        n = len(rig)
        for i, cam in enumerate(rig):
            write_png(tmp / cam.file_path, _rgba_u8(rgb[i], alpha[i]), compress_level=_PNG_LEVEL)
        atomic_write_json(tmp / "cameras.json", cameras_to_json(rig, DEMO_SCENE_ID), indent=1)
        atomic_write_json(tmp / "keypoints.json", {
            "names": list(TOY_MOUSE_KEYPOINTS.names),
            "views": {cam.file_path: project_keypoints(cam).tolist() for cam in rig}}, indent=1)
        atomic_write_json(tmp / "gt" / "keypoints_3d.json", {
            "names": list(TOY_MOUSE_KEYPOINTS.names),
            "points": TOY_MOUSE_KEYPOINTS.points.tolist()}, indent=1)
        for j, cam in enumerate(orbit):
            write_png(tmp / "gt" / "orbit" / cam.file_path, _rgba_u8(rgb[n + j], alpha[n + j]),
                      compress_level=_PNG_LEVEL)
        atomic_write_json(tmp / "gt" / "orbit" / "opencv_cameras.json",
                          cameras_to_json(orbit, f"{DEMO_SCENE_ID}_gt"), indent=1)
    return final


def make_contact_sheet(images: Sequence[np.ndarray], cols: int = 6, tile: int = 256,
                       background: tuple[float, float, float] = (0.93, 0.93, 0.93)
                       ) -> np.ndarray:
    """Tile RGBA images over a flat background, for looking at a scene at a glance.

    Args:
        images: each [H, W, 4] (or [H, W, 3]) uint8 or float in [0, 1].
        cols: tiles per row.
        tile: width of each tile in pixels (height follows the first image's aspect).
        background: RGB in [0, 1] under transparent pixels.
    Returns:
        [rows * th, cols * tile, 3] uint8.
    """
    if not images:
        raise ValueError("make_contact_sheet needs at least one image")
    h0, w0 = images[0].shape[:2]
    th = max(1, round(tile * h0 / w0))
    rows = math.ceil(len(images) / cols)
    sheet = np.empty((rows * th, cols * tile, 3), np.uint8)
    sheet[:] = np.round(np.asarray(background) * 255).astype(np.uint8)
    for k, im in enumerate(images):
        im = np.asarray(im)
        im = im.astype(np.float64) / 255.0 if im.dtype == np.uint8 else im.astype(np.float64)
        if im.shape[-1] == 3:
            im = np.concatenate([im, np.ones(im.shape[:2] + (1,))], axis=-1)
        comp = im[..., :3] * im[..., 3:] + np.asarray(background) * (1 - im[..., 3:])
        small = Image.fromarray(np.round(np.clip(comp, 0, 1) * 255).astype(np.uint8))
        small = np.asarray(small.resize((tile, th), Image.Resampling.LANCZOS))
        r, c = divmod(k, cols)
        sheet[r * th:(r + 1) * th, c * tile:(c + 1) * tile] = small
    return sheet
