"""Image and mask files -> float32 arrays in [0, 1] (PNGs are written by :mod:`splatsynth.fileio`).

Pillow reads everything; 8-bit and 16-bit greyscale keep their full precision. Pillow has no
16-bit colour mode, so 16-bit RGB(A) PNGs arrive at 8-bit precision (within 1/255, which the
8-bit outputs cannot tell apart anyway).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")

_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")


def _grey(im: Image.Image) -> np.ndarray:
    """[H, W] float32 in [0, 1] from a single-channel Pillow image of any depth."""
    if im.mode in _SIXTEEN_BIT_MODES:
        return np.asarray(im, dtype=np.float32) / 65535.0
    if im.mode == "I":
        # Pillow opens 16-bit greyscale PNGs as 32-bit "I" on some versions.
        return np.clip(np.asarray(im, dtype=np.float32) / 65535.0, 0.0, 1.0)
    if im.mode == "F":
        return np.clip(np.asarray(im, dtype=np.float32), 0.0, 1.0)
    if im.mode != "L":
        im = im.convert("L")
    return np.asarray(im, dtype=np.float32) / 255.0


def read_image(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Read an image file.

    Args:
        path: any format Pillow reads (PNG 8/16-bit, JPEG, ...); RGB, RGBA, greyscale or palette.
    Returns:
        rgb: [H, W, 3] float32 in [0, 1] (greyscale is repeated over the three channels;
            colour is straight, not premultiplied by alpha).
        alpha: [H, W] float32 in [0, 1] when the file has an alpha channel, else None.
    Raises:
        OSError / PIL.UnidentifiedImageError / ValueError when the file cannot be decoded.
    """
    with Image.open(path) as im:
        im.load()
        mode = im.mode
        if mode in ("P", "PA"):
            im = im.convert("RGBA" if ("transparency" in im.info or mode == "PA") else "RGB")
            mode = im.mode
        if mode == "RGBA":
            a = np.asarray(im, dtype=np.float32) / 255.0
            return np.ascontiguousarray(a[..., :3]), np.ascontiguousarray(a[..., 3])
        if mode == "LA":
            a = np.asarray(im, dtype=np.float32) / 255.0
            return np.repeat(a[..., :1], 3, axis=-1), np.ascontiguousarray(a[..., 1])
        if mode == "RGB":
            return np.asarray(im, dtype=np.float32) / 255.0, None
        if mode in ("1", "L", "I", "F") or mode in _SIXTEEN_BIT_MODES:
            g = _grey(im)
            return np.repeat(g[..., None], 3, axis=-1), None
        return np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0, None


def read_mask(path: str | Path) -> np.ndarray:
    """Read a foreground mask: [H, W] float32 in [0, 1].

    A single-channel file is used as is; a colour file is converted to luminance; an RGBA or LA
    file uses its alpha channel (a cut-out saved as a mask).
    """
    with Image.open(path) as im:
        im.load()
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            return np.asarray(im.convert("RGBA"), dtype=np.float32)[..., 3] / 255.0
        return _grey(im)


def image_size(path: str | Path) -> tuple[int, int]:
    """(w, h) of an image file, read from its header only."""
    with Image.open(path) as im:
        return im.size


def find_image(stem_path: Path) -> Path | None:
    """``stem_path`` itself if it is a file, else the first ``stem_path.<ext>`` that exists."""
    if stem_path.is_file():
        return stem_path
    for ext in IMAGE_SUFFIXES + tuple(s.upper() for s in IMAGE_SUFFIXES):
        cand = stem_path.with_name(stem_path.name + ext)
        if cand.is_file():
            return cand
    return None
