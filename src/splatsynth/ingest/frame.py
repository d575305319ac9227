"""One frame of a recording -> masks, checks, crops and encoded images (no file is written).

This is the work the ingest's threads share; everything here is a pure function of the frame's
decoded images and the recording's fixed data (cameras, background models, tracks).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..fileio import png_bytes
from .checks import ViewCheck, check_view
from .config import IngestConfig
from .crop import CropBox, crop_image, subject_box
from .masks import (
    background_mask,
    cross_view,
    find_blobs,
    largest_only,
    threshold_mask,
)
from .recording import Recording
from .writer import SceneView

#: zlib level of the scene PNGs: at 512 x 512, level 1 encodes 3.4x faster than level 6 for
#: files 4 % larger (measured on demo-recording crops), and encoding is most of an ingest's time.
PNG_LEVEL = 1


@dataclass
class FrameResult:
    """What :func:`process_frame` made of one frame.

    Attributes:
        frame: the frame number.
        checks: one per camera, in rig order.
        views: the encoded views of the cameras whose checks passed (before the area check,
            which needs the earlier frames and runs in order).
        crops: per camera name, its crop box (``--crop subject``).
        masks: [C] full-frame bool masks, only when asked for (scoring).
    """

    frame: int
    checks: list[ViewCheck]
    views: dict[str, SceneView] = field(default_factory=dict)
    crops: dict[str, CropBox] = field(default_factory=dict)
    masks: list[np.ndarray] | None = None


def frame_masks(rec: Recording, images: list[np.ndarray], mask_frames: list[np.ndarray] | None,
                backgrounds: list[np.ndarray] | None, cfg: IngestConfig):
    """Each view's final mask ([H, W] bool) and its cross-view statistics (:class:`ViewMask`)."""
    blobs = []
    for k, img in enumerate(images):
        if mask_frames is not None:
            fg = threshold_mask(mask_frames[k], cfg.mask_threshold)
        else:
            b = cfg.background
            fg = background_mask(img, backgrounds[k], b.threshold, b.open_radius, b.close_radius)
        blobs.append(find_blobs(fg))
    if cfg.cross_view:
        return cross_view([c.camera for c in rec.cameras], blobs, cfg.hull_grid)
    return [largest_only(b) for b in blobs]


def process_frame(rec: Recording, frame: int, images: list[np.ndarray],
                  mask_frames: list[np.ndarray] | None, backgrounds: list[np.ndarray] | None,
                  cfg: IngestConfig, keep_masks: bool = False) -> FrameResult:
    """Masks, per-frame checks, crops and PNGs of one frame.

    Args:
        rec: the recording (cameras, tracks, undistorters).
        frame: the frame number.
        images: [C] [H, W, 3] uint8 decoded colour frames (distorted when the recording is).
        mask_frames: [C] [H, W] uint8 mask frames, or None (background model).
        backgrounds: [C] [H, W, 3] uint8 background models (pinhole), or None (mask videos).
        cfg: the knobs.
        keep_masks: keep the full-frame masks in the result.
    """
    for k, c in enumerate(rec.cameras):
        if c.undistort is not None:
            images[k] = c.undistort.image(images[k])
            if mask_frames is not None:
                mask_frames[k] = c.undistort.image(mask_frames[k])
    vms = frame_masks(rec, images, mask_frames, backgrounds, cfg)
    res = FrameResult(frame, [], masks=[v.mask for v in vms] if keep_masks else None)
    for c, img, vm in zip(rec.cameras, images, vms):
        chk = check_view(c.name, vm, cfg.checks, cfg.cross_view)
        res.checks.append(chk)
        if not chk.ok:
            continue
        kp = None if c.keypoints is None else c.keypoints[frame].copy()
        alpha = vm.mask.astype(np.uint8) * 255
        cam = c.camera
        if cfg.crop == "subject":
            box = subject_box(vm.mask, cfg.margin, cfg.size)
            res.crops[c.name] = box
            cam = box.camera(cam)
            rgb = crop_image(img, box, smooth=True)
            alpha = crop_image(alpha, box, smooth=False)
            if kp is not None:
                kp[:, :2] = box.points(kp[:, :2])
        else:
            rgb = img
        if kp is not None:
            # A point the written image does not show cannot be trusted (scene checks agree).
            out = ((kp[:, 0] < 0) | (kp[:, 0] >= cam.w) | (kp[:, 1] < 0) | (kp[:, 1] >= cam.h)
                   | (kp[:, 2] <= 0))
            kp[out] = 0.0
        rgba = np.concatenate([rgb, alpha[..., None]], axis=-1)
        res.views[c.name] = SceneView(c.name, cam, png_bytes(rgba, compress_level=PNG_LEVEL), kp)
    return res
