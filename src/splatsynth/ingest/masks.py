"""Masks of the animal per camera: from mask videos or from a background model, then made to
agree across views.

- Mask videos are lossy (soft, blocky edges): a threshold, then the blobs.
- Background model: the arena is static and the animal moves, so the per-pixel temporal median
  of frames sampled across the whole recording is the empty arena; a frame's foreground is where
  it differs, cleaned by an opening (speckle) and a closing (gaps where fur matches the floor),
  holes filled.
- Blobs: connected components. Without the cross-view step only the largest is kept. With it
  (:func:`cross_view`), a blob is kept when the visual hull carved from the *other* views covers
  most of it, so a shadow, a reflection or a stray object that no other camera confirms goes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..cameras import Camera
from ..scene_io.normalize import carve_visual_hull
from .video import FrameSource

#: Blobs smaller than this fraction of the largest one are never candidates (codec speckle).
MIN_BLOB_FRACTION = 0.01
#: A blob is kept when at least this fraction of it lies inside the other views' hull.
BLOB_SUPPORT = 0.5
#: The cross-view hull is carved on masks shrunk to at most this many pixels on a side.
HULL_IMAGE_SIDE = 200


def _disk(radius: int) -> np.ndarray:
    r = int(radius)
    y, x = np.ogrid[-r:r + 1, -r:r + 1]
    return x * x + y * y <= r * r + r  # the +r keeps a radius-1 disk a 3x3 plus, not a dot


def threshold_mask(frame: np.ndarray, threshold: float) -> np.ndarray:
    """[H, W] uint8 mask frame -> [H, W] bool (white = animal)."""
    return frame > threshold * 255.0


def background_median(source: FrameSource, samples: int, undistort=None) -> np.ndarray:
    """The empty arena seen by one camera: the per-pixel median of ``samples`` frames spread
    evenly over the whole recording.

    Args:
        source: the camera's colour frames.
        samples: how many frames to sample (fewer when the recording is shorter).
        undistort: an :class:`~.recording.Undistorter` for distorted frames, or None.
    Returns:
        [H, W, 3] uint8.
    """
    n = source.n_frames
    k = min(samples, n)
    idx = sorted({int(round(i)) for i in np.linspace(0, n - 1, k)})
    frames = source.sample(idx)
    if undistort is not None:
        frames = [undistort.image(f) for f in frames]
    stack = np.stack(frames)
    # The median of uint8 along axis 0, computed in chunks of rows to bound the float copy.
    out = np.empty(stack.shape[1:], np.uint8)
    for y in range(0, stack.shape[1], 128):
        out[y:y + 128] = np.median(stack[:, y:y + 128], axis=0).astype(np.uint8)
    return out


#: Frame height the morphology radii of ``BackgroundConfig`` are given for.
REFERENCE_HEIGHT = 1024


def background_mask(frame: np.ndarray, background: np.ndarray, threshold: float,
                    open_radius: float, close_radius: float) -> np.ndarray:
    """Foreground of one frame against its camera's background.

    Args:
        frame, background: [H, W, 3] uint8.
        threshold: largest per-channel difference (in [0, 1]) that still counts as background.
        open_radius, close_radius: radii of the opening and closing, in pixels of a frame
            ``REFERENCE_HEIGHT`` high (scaled to this frame, rounded).
    Returns:
        [H, W] bool.
    """
    scale = frame.shape[0] / REFERENCE_HEIGHT
    open_radius = int(round(open_radius * scale))
    close_radius = int(round(close_radius * scale))
    diff = np.abs(frame.astype(np.int16) - background.astype(np.int16)).max(axis=2)
    fg = diff > threshold * 255.0
    # Work inside the foreground's box (plus room for the closing): the rest stays empty.
    rows, cols = np.flatnonzero(fg.any(1)), np.flatnonzero(fg.any(0))
    if not len(rows):
        return fg
    pad = close_radius + open_radius + 2
    y0, y1 = max(rows[0] - pad, 0), min(rows[-1] + pad + 1, fg.shape[0])
    x0, x1 = max(cols[0] - pad, 0), min(cols[-1] + pad + 1, fg.shape[1])
    sub = fg[y0:y1, x0:x1]
    if open_radius > 0:
        sub = ndimage.binary_opening(sub, _disk(open_radius))
    if close_radius > 0:
        # Pad so the closing does not glue the blob to the box's edge.
        p = close_radius + 1
        sub = ndimage.binary_closing(np.pad(sub, p), _disk(close_radius))[p:-p, p:-p]
    sub = ndimage.binary_fill_holes(sub)
    out = np.zeros_like(fg)
    out[y0:y1, x0:x1] = sub
    return out


#: Raw areas for the area-jump check are counted on every RAW_STEP-th pixel (x and y).
RAW_STEP = 4


def raw_area(frame: np.ndarray, threshold: float, background: np.ndarray | None) -> float:
    """A cheap estimate of a frame's foreground area (full-frame pixels), before morphology:
    the mask frame's pixels above ``threshold``, or, with a ``background`` ([H, W, 3] uint8),
    the colour frame's pixels differing from it by more than ``threshold`` in some channel."""
    s = RAW_STEP
    if background is None:
        n = np.count_nonzero(frame[::s, ::s] > threshold * 255.0)
    else:
        d = np.abs(frame[::s, ::s].astype(np.int16) - background[::s, ::s].astype(np.int16))
        n = np.count_nonzero(d.max(axis=2) > threshold * 255.0)
    return float(n * s * s)


@dataclass
class Blobs:
    """The connected components of a view's mask, kept in the window round them (the animal
    covers a few percent of a frame, so the work stays there).

    Attributes:
        labels: [h, w] int32 labels of the window, 0 = background, 1..n = blobs.
        origin: (y0, x0) of the window in the frame.
        shape: (H, W) of the frame.
        areas: [n + 1] pixel count per label (index 0 unused).
        candidates: labels of the blobs worth keeping (not speckle), largest first.
    """

    labels: np.ndarray
    origin: tuple[int, int]
    shape: tuple[int, int]
    areas: np.ndarray
    candidates: list[int]

    def window(self, frame_mask: np.ndarray) -> np.ndarray:
        """The part of a full-frame [H, W] array under this window."""
        y0, x0 = self.origin
        return frame_mask[y0:y0 + self.labels.shape[0], x0:x0 + self.labels.shape[1]]

    def mask(self, keep: list[int]) -> np.ndarray:
        """[H, W] bool union of the blobs ``keep``."""
        out = np.zeros(self.shape, bool)
        if keep:
            lut = np.zeros(len(self.areas), bool)
            lut[keep] = True
            self.window(out)[:] = lut[self.labels]
        return out


def find_blobs(fg: np.ndarray) -> Blobs:
    """Label the 8-connected blobs of a [H, W] bool mask."""
    rows, cols = np.flatnonzero(fg.any(1)), np.flatnonzero(fg.any(0))
    if not len(rows):
        return Blobs(np.zeros((0, 0), np.int32), (0, 0), fg.shape, np.zeros(1, np.int64), [])
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    labels, n = ndimage.label(fg[y0:y1, x0:x1], structure=np.ones((3, 3), bool))
    areas = np.bincount(labels.ravel(), minlength=n + 1)
    areas[0] = 0
    order = [int(i) for i in np.argsort(-areas[1:]) + 1]
    big = areas[order[0]]
    return Blobs(labels, (int(y0), int(x0)), fg.shape, areas,
                 [i for i in order if areas[i] >= MIN_BLOB_FRACTION * big])


def _shrink(cam: Camera, mask: np.ndarray, factor: int) -> tuple[Camera, np.ndarray]:
    """A mask pooled by ``factor`` (a block is foreground if any pixel is) and its camera."""
    if factor == 1:
        return cam, mask
    H, W = mask.shape
    h, w = H // factor, W // factor
    m = mask[:h * factor, :w * factor].reshape(h, factor, w, factor).any(axis=(1, 3))
    # Dropping the last rows/columns leaves the pixel grid's origin where it was.
    return cam.cropped(0, 0, w * factor, h * factor).resized(w, h), m


def hull_projection(cameras: list[Camera], masks: list[np.ndarray], target: Camera,
                    grid: int) -> np.ndarray | None:
    """Where the visual hull of ``masks`` (seen by ``cameras``) lands in ``target``.

    Args:
        cameras, masks: C cameras and their [h, w] bool masks (small: see :func:`cross_view`).
        target: the camera to project into (same scale as the masks).
        grid: voxels along the hull box's longest side.
    Returns:
        [target.h, target.w] bool, or None when the hull is empty (the views disagree).
    """
    if sum(int(m.any()) for m in masks) < 2:
        return None
    hull = carve_visual_hull(cameras, masks, grid=grid)
    if not len(hull.points):
        return None
    uv, z = target.project(hull.points)
    ok = (z > 0) & np.isfinite(uv).all(axis=1)
    out = np.zeros((target.h, target.w), bool)
    if not ok.any():
        return out
    uv, z = uv[ok], z[ok]
    iu = np.clip(uv[:, 0].astype(np.int64), 0, target.w - 1)
    iv = np.clip(uv[:, 1].astype(np.int64), 0, target.h - 1)
    inside = (uv[:, 0] >= 0) & (uv[:, 0] < target.w) & (uv[:, 1] >= 0) & (uv[:, 1] < target.h)
    out[iv[inside], iu[inside]] = True
    # Each voxel covers a footprint of about its diagonal's projection around its centre.
    r = int(math.ceil(0.5 * math.sqrt(3) * hull.voxel_size * max(target.fx, target.fy)
                      / float(z.min()))) + 1
    # A square footprint (separable, fast) keeps the projection a superset.
    return ndimage.maximum_filter(out, size=2 * r + 1)


@dataclass
class ViewMask:
    """One view's final mask and how well the other views support it.

    Attributes:
        mask: [H, W] bool.
        support: fraction of ``mask`` inside the other views' hull (1.0 without the check,
            NaN when it could not be measured).
        dropped: number of blobs dropped as unsupported.
        lost_largest: the view's largest blob was among them.
    """

    mask: np.ndarray
    support: float = 1.0
    dropped: int = 0
    lost_largest: bool = False


def largest_only(blobs: Blobs) -> ViewMask:
    """Keep a view's largest blob (no cross-view information)."""
    return ViewMask(blobs.mask(blobs.candidates[:1]))


def cross_view(cameras: list[Camera], blobs: list[Blobs], grid: int) -> list[ViewMask]:
    """Make the views' masks agree: keep in each view the blobs that the visual hull carved
    from the other views' masks covers (at least ``BLOB_SUPPORT`` of each blob).

    Args:
        cameras: C full-frame cameras.
        blobs: C views' blobs (full-frame labels).
        grid: voxels along the hull box's longest side.
    Returns:
        C :class:`ViewMask`.
    """
    full = [b.mask(b.candidates) for b in blobs]
    factor = max(1, math.ceil(max(max(c.w, c.h) for c in cameras) / HULL_IMAGE_SIDE))
    small = [_shrink(c, m, factor) for c, m in zip(cameras, full)]
    out = []
    for k, b in enumerate(blobs):
        others = [s for j, s in enumerate(small) if j != k]
        proj = hull_projection([s[0] for s in others], [s[1] for s in others], small[k][0],
                               grid)
        if proj is None or not b.candidates:
            out.append(ViewMask(b.mask(b.candidates[:1]), float("nan") if proj is None else 0.0))
            continue
        # The projection at full resolution, over the blobs' window only.
        (y0, x0), (h, w) = b.origin, b.labels.shape
        yy = np.minimum(np.arange(y0, y0 + h) // factor, proj.shape[0] - 1)
        xx = np.minimum(np.arange(x0, x0 + w) // factor, proj.shape[1] - 1)
        big = proj[yy[:, None], xx[None, :]]
        big[(np.arange(y0, y0 + h) >= proj.shape[0] * factor)[:, None]
            | (np.arange(x0, x0 + w) >= proj.shape[1] * factor)[None, :]] = False
        inside = np.bincount(b.labels[big], minlength=len(b.areas))
        keep = [i for i in b.candidates if inside[i] >= BLOB_SUPPORT * b.areas[i]]
        mask = b.mask(keep)
        area = int(b.areas[keep].sum()) if keep else 0
        support = float(inside[keep].sum() / area) if area else 0.0
        out.append(ViewMask(mask, support, len(b.candidates) - len(keep),
                            b.candidates[0] not in keep))
    return out
