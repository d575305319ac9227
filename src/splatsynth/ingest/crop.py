"""Square crops round the animal, resized, with the intrinsics moved exactly.

Convention (SPEC section 2): pixel (i, j) covers [i, i+1) x [j, j+1). A crop starting at the
integer pixel (x0, y0) moves every image point by (-x0, -y0); resizing a side of S pixels to N
scales every point by N / S about the image corner (0, 0) — which is how Pillow's resampling
maps output pixel centres to input positions. So cx' = (cx - x0) N / S, fx' = fx N / S, and
:meth:`Camera.cropped` then :meth:`Camera.resized` say exactly that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..cameras import Camera


@dataclass(frozen=True)
class CropBox:
    """A square window [x0, x0 + side) x [y0, y0 + side) in full-frame pixels (it may reach
    past the frame: that part is black and transparent), resized to ``size``."""

    x0: int
    y0: int
    side: int
    size: int

    @property
    def scale(self) -> float:
        return self.size / self.side

    def camera(self, cam: Camera) -> Camera:
        """The camera of the cropped, resized image."""
        return cam.cropped(self.x0, self.y0, self.side, self.side).resized(self.size, self.size)

    def points(self, uv: np.ndarray) -> np.ndarray:
        """[N, 2] full-frame pixels -> [N, 2] pixels of the crop."""
        return (np.asarray(uv, np.float64) - [self.x0, self.y0]) * self.scale

    def to_dict(self) -> dict:
        return {"x0": self.x0, "y0": self.y0, "side": self.side, "size": self.size}


def subject_box(mask: np.ndarray, margin: float, size: int, min_side: int = 32) -> CropBox:
    """The square crop round a mask's bounding box with ``margin`` (a fraction of the box's
    longer side) on every side, centred on the box.

    Args:
        mask: [H, W] bool, not empty.
        margin: extra room per side, fraction of the longer side.
        size: output side in pixels.
        min_side: smallest crop side in full-frame pixels.
    """
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    y0, y1 = int(rows[0]), int(rows[-1]) + 1
    x0, x1 = int(cols[0]), int(cols[-1]) + 1
    side = max(int(math.ceil(max(x1 - x0, y1 - y0) * (1 + 2 * margin))), min_side)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return CropBox(int(math.floor(cx - side / 2 + 0.5)), int(math.floor(cy - side / 2 + 0.5)),
                   side, size)


def _window(img: np.ndarray, box: CropBox) -> np.ndarray:
    """The ``box.side`` square of ``img`` ([H, W] or [H, W, C]), zero outside the frame."""
    H, W = img.shape[:2]
    out = np.zeros((box.side, box.side) + img.shape[2:], img.dtype)
    xa, ya = max(box.x0, 0), max(box.y0, 0)
    xb, yb = min(box.x0 + box.side, W), min(box.y0 + box.side, H)
    if xa < xb and ya < yb:
        out[ya - box.y0:yb - box.y0, xa - box.x0:xb - box.x0] = img[ya:yb, xa:xb]
    return out


def crop_image(img: np.ndarray, box: CropBox, *, smooth: bool = True) -> np.ndarray:
    """Cut ``box`` out of a uint8 image and resize it to ``box.size`` squared.

    Args:
        img: [H, W, 3] or [H, W] uint8.
        smooth: Lanczos (colour) when True, bilinear (masks) when False; both antialias when
            shrinking.
    Returns:
        [size, size, 3] or [size, size] uint8.
    """
    win = _window(img, box)
    if box.side == box.size:
        return win
    pil = Image.fromarray(win)
    method = Image.Resampling.LANCZOS if smooth else Image.Resampling.BILINEAR
    return np.asarray(pil.resize((box.size, box.size), method))

