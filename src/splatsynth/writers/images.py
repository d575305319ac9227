"""PNG encoding shared by the writers: float images in, 8/16-bit PNG bytes out."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

from .atomic import atomic_write_bytes


def to_uint8(x: np.ndarray) -> np.ndarray:
    """Float values in [0, 1] (clipped, NaN -> 0) to uint8 with round-to-nearest."""
    x = np.nan_to_num(np.asarray(x, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    return (np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def rgba_uint8(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Straight (un-premultiplied) RGBA for a PNG.

    Args:
        rgb: [H, W, 3] float colour in [0, 1], not multiplied by alpha.
        alpha: [H, W] float opacity in [0, 1].
    Returns:
        [H, W, 4] uint8.
    """
    return np.concatenate([to_uint8(rgb), to_uint8(alpha)[..., None]], axis=-1)


def png_bytes(img: np.ndarray) -> bytes:
    """Encode a uint8 [H, W], [H, W, 3] or [H, W, 4], or a uint16 [H, W] array as PNG."""
    img = np.ascontiguousarray(img)
    if img.dtype == np.uint16:
        if img.ndim != 2:
            raise ValueError(f"16-bit PNGs must be single-channel, got shape {img.shape}")
        pil = Image.fromarray(img.astype("<u2"))  # Pillow maps little-endian uint16 to I;16
    elif img.dtype == np.uint8:
        pil = Image.fromarray(img)
    else:
        raise ValueError(f"png_bytes expects uint8 or uint16, got {img.dtype}")
    buf = io.BytesIO()
    # compress_level 6 is zlib's default balance; level 9 costs ~3x the time for ~2% smaller.
    pil.save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def write_png(path: str | os.PathLike[str], img: np.ndarray) -> Path:
    """Write a uint8/uint16 image (see :func:`png_bytes`) atomically."""
    return atomic_write_bytes(path, png_bytes(img))
