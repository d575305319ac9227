"""The built-in demo scene: the toy mouse seen by a 6-camera rig, with its ground truth.

``make_demo_scene`` writes a scene folder (SPEC section 3) plus the truth that ships with it:
``gt/keypoints_3d.json`` and ``gt/orbit/`` (the 32-view GS-LRM orbit, in the same world frame
as the input cameras, laid out like a dataset scene so ``splatsynth eval`` can score against it).

Two rigs film it (``rig=``): ``"ring"``, a tidy jittered ring (:func:`demo_rig_cameras`, the
default), and ``"dannce"``, the real DANNCE markerless_mouse_1 rig (:func:`dannce_demo_cameras`):
uneven azimuths, low elevations, long focal lengths, each view cropped round the mouse as
``splatsynth ingest --crop subject`` crops real recordings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

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


#: The cameras that film the demo scene: a jittered ring, or the real DANNCE rig (cropped).
DemoRig = Literal["ring", "dannce"]
#: Crop margin of the dannce demo views (fraction of the mouse's box per side), the default of
#: ``splatsynth ingest``'s ``margin``.
DANNCE_CROP_MARGIN = 0.2


def dannce_demo_cameras(size: int = 512, margin: float = DANNCE_CROP_MARGIN) -> list[Camera]:
    """The real DANNCE markerless_mouse_1 rig (:mod:`.rigs`) filming the toy mouse at the
    origin, each view cropped square round the mouse and resized to ``size``.

    Like ``splatsynth ingest --crop subject``: the mouse's coverage (>= 0.5) in the full
    1152 x 1024 frame gives the box (the rule of ``splatsynth.ingest.crop.subject_box``,
    ``margin`` per side; a test holds the two together), and :meth:`Camera.cropped` then
    :meth:`Camera.resized` move the intrinsics exactly. The views are rendered at the
    cropped cameras directly (the ray caster needs no resampling). The cameras stand 6.7-7.6
    units from the mouse (the ring's 2.8-3.1), 8-25 degrees above it, and the crops make
    their focal lengths 1160-2120 px at 512 px (the ring's 570): a calibration error of one
    degree moves the mouse by 20-37 px, not the ring's 10.

    Returns:
        6 cameras named ``images/kyle_cam1.png`` ... ``images/kyle_cam6.png``.
    Raises:
        ValueError: the mouse touches a frame's border (its box would be cut).
    """
    from .recording import demo_recording_cameras

    full = demo_recording_cameras()
    _, cover = render_toy_mouse(full, supersample=1)
    cams = []
    for cam, c in zip(full, cover):
        sil = c >= 0.5
        if sil[0].any() or sil[-1].any() or sil[:, 0].any() or sil[:, -1].any():
            raise ValueError(f"{cam.file_path}: the toy mouse touches the frame's border")
        x0, y0, side = _subject_square(sil, margin)
        cams.append(cam.cropped(x0, y0, side, side).resized(size, size))
    return cams


def _subject_square(mask: np.ndarray, margin: float) -> tuple[int, int, int]:
    """(x0, y0, side): the square round ``mask``'s bounding box with ``margin`` (a fraction of
    its longer side) per side, centred on it; ingest's ``subject_box`` rule (demo may not
    import ingest)."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    y0, y1 = int(rows[0]), int(rows[-1]) + 1
    x0, x1 = int(cols[0]), int(cols[-1]) + 1
    side = max(int(math.ceil(max(x1 - x0, y1 - y0) * (1 + 2 * margin))), 32)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return (int(math.floor(cx - side / 2 + 0.5)), int(math.floor(cy - side / 2 + 0.5)), side)


def demo_cameras(rig: DemoRig = "ring", *, size: int = 512, n_views: int = 6,
                 elevation: float = 30.0, seed: int = 0) -> list[Camera]:
    """The input cameras of the demo scene filmed by ``rig`` (``n_views``, ``elevation`` and
    ``seed`` shape the ring only; the dannce rig has its six cameras)."""
    if rig == "ring":
        return demo_rig_cameras(n_views, elevation, size, seed)
    if rig == "dannce":
        if n_views != 6:
            raise ValueError(f"the dannce rig has 6 cameras, got n_views={n_views}")
        return dannce_demo_cameras(size)
    raise ValueError(f"unknown demo rig {rig!r} (ring or dannce)")


def project_keypoints(camera: Camera) -> np.ndarray:
    """[K, 3] (x, y, conf) of the toy mouse's 3D keypoints in ``camera``; conf is 1 where the
    keypoint is the first surface on its ray and inside the image, else 0."""
    uv, _ = camera.project(TOY_MOUSE_KEYPOINTS.points)
    vis = keypoint_visibility(camera)
    return np.concatenate([uv, vis[:, None].astype(np.float64)], axis=1)


def toy_mouse_scene(size: int = 512, n_views: int = 6, elevation: float = 30.0, seed: int = 0,
                    supersample: int = 2, rig: DemoRig = "ring") -> Scene:
    """The demo scene in memory (what ``load_scene`` returns for ``make_demo_scene``'s folder,
    up to 8-bit quantization of images and masks).

    Args:
        rig: the cameras (:func:`demo_cameras`).
    Returns:
        A Scene with RGB images, coverage masks, 2D keypoints, and the 3D keypoints in
        ``extras["keypoints_3d"]`` ([K, 3], demo world frame).
    """
    cams = demo_cameras(rig, size=size, n_views=n_views, elevation=elevation, seed=seed)
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
                    seed: int = 0, rig: DemoRig = "ring") -> Path:
    """Write the toy-mouse demo scene folder ``out_dir / "toy_mouse"``.

    Layout (SPEC section 3, plus ground truth)::

        toy_mouse/
          cameras.json                 # the rig (demo_cameras)
          images/view_000.png ...      # RGBA, alpha = anti-aliased coverage (the mask);
                                       # images/kyle_cam1.png ... with rig="dannce"
          keypoints.json               # {"names", "views": {file_path: [[x, y, conf], ...]}}
          gt/keypoints_3d.json         # {"names", "points": [[x, y, z], ...]} (world frame)
          gt/orbit/opencv_cameras.json # the 32-view GS-LRM orbit at ``size``, same world frame
          gt/orbit/images/cam_000.png ... cam_031.png

    The folder appears atomically (built in a temporary sibling, then renamed over any old one)
    and is byte-for-byte the same for the same arguments.

    Args:
        out_dir: parent folder; created if missing.
        size: width and height of every image.
        n_views: number of ring cameras (the dannce rig has 6).
        elevation: mean ring elevation, degrees.
        seed: ring jitter seed.
        rig: ``"ring"`` (the default demo: :func:`demo_rig_cameras`) or ``"dannce"``: the
            real DANNCE markerless_mouse_1 rig's six cameras, each view cropped square round
            the mouse and resized to ``size`` as ``splatsynth ingest --crop subject`` does
            (:func:`dannce_demo_cameras`). Both rigs share the world frame, the mouse and
            the 32 ``gt/orbit`` views, so their scores compare.
    Returns:
        The scene folder.
    """
    final = Path(out_dir) / DEMO_SCENE_ID
    with atomic_directory(final, force=True) as tmp:
        cams = demo_cameras(rig, size=size, n_views=n_views, elevation=elevation, seed=seed)
        orbit = orbit_cameras(size=size)
        rgb, alpha = render_toy_mouse(cams + orbit)
        n = len(cams)
        for i, cam in enumerate(cams):
            write_png(tmp / cam.file_path, _rgba_u8(rgb[i], alpha[i]), compress_level=_PNG_LEVEL)
        atomic_write_json(tmp / "cameras.json", cameras_to_json(cams, DEMO_SCENE_ID), indent=1)
        atomic_write_json(tmp / "keypoints.json", {
            "names": list(TOY_MOUSE_KEYPOINTS.names),
            "views": {cam.file_path: project_keypoints(cam).tolist() for cam in cams}}, indent=1)
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
