"""Image and mask files -> float32 arrays in [0, 1] (PNGs are written by :mod:`splatsynth.fileio`).

Pillow reads everything; 8-bit and 16-bit greyscale keep their full precision. Pillow has no
16-bit colour mode, so 16-bit RGB(A) PNGs arrive at 8-bit precision (within 1/255, which the
8-bit outputs cannot tell apart anyway).

:func:`load_image` and :func:`load_mask` are the input contract every command reads images
through: a missing file, a file that is not an image, a truncated or corrupt one, or one larger
than :data:`~splatsynth.cameras.MAX_IMAGE_PIXELS` (checked from the header, before decoding)
raises :class:`~splatsynth.errors.SplatsynthError` naming the file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..cameras import image_size_problem
from ..errors import SplatsynthError

T = TypeVar("T")

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


def image_file_problem(path: str | Path) -> str | None:
    """What stops ``path`` being read as an image, from its header only (None: it opens).

    Missing, not a file, not an image Pillow knows, or larger than splatsynth reads.
    """
    path = Path(path)
    if not path.exists():
        return "missing image"
    if not path.is_file():
        return "not a file"
    try:
        with Image.open(path) as im:
            w, h = im.size
    except Exception as e:  # Pillow raises many types  # noqa: BLE001
        return f"unreadable image ({_reason(e)})"
    return image_size_problem(w, h)


def load_image(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`read_image` under the input contract (see the module docstring).

    Raises:
        ImageError: (a SplatsynthError) ``"<path>: <reason>"`` for a missing, unreadable,
            truncated, corrupt or too large image.
    """
    return _checked(path, read_image)


def load_mask(path: str | Path) -> np.ndarray:
    """:func:`read_mask` under the input contract (see :func:`load_image`)."""
    return _checked(path, read_mask)


class ImageError(SplatsynthError):
    """An image file that cannot be used.

    Attributes:
        path: the file.
        reason: what is wrong with it (the message is ``"<path>: <reason>"``).
    """

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


def _checked(path: str | Path, read: Callable[[Path], T]) -> T:
    path = Path(path)
    problem = image_file_problem(path)
    if problem is not None:
        raise ImageError(path, problem)
    try:
        return read(path)
    except Exception as e:  # a truncated or corrupt file fails only when decoded  # noqa: BLE001
        raise ImageError(path, f"unreadable image ({_reason(e)})") from e


def _reason(e: BaseException) -> str:
    # Pillow's own message for this one repeats the file's path; the caller names it once.
    if isinstance(e, UnidentifiedImageError):
        return "not an image format Pillow knows"
    return str(e).strip() or type(e).__name__


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
