"""Contact sheets: labelled rows of image tiles (inputs, re-renders, orbit, ground truth).

Layout: an optional label column ``label_width`` pixels wide, then ``cols`` square tiles of
``tile`` pixels per row, where ``cols`` is the longest row. Each image is fitted into its tile
with its aspect ratio kept and centred; RGBA images are composited over a checkerboard (or
white) so transparency is visible.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..fileio import to_uint8, write_png

LABEL_WIDTH = 96
_BG = (40, 40, 40)  # sheet background: dark, so white-background renders stand out
_CHECK = (0.80, 1.0)  # checkerboard greys
_CHECK_SQUARE = 8


def _checkerboard(h: int, w: int) -> np.ndarray:
    """[h, w, 3] float checkerboard."""
    yy, xx = np.mgrid[:h, :w]
    odd = ((yy // _CHECK_SQUARE + xx // _CHECK_SQUARE) % 2).astype(bool)
    g = np.where(odd, _CHECK[0], _CHECK[1]).astype(np.float32)
    return np.repeat(g[..., None], 3, axis=-1)


def to_display_rgb(img: np.ndarray, background: Literal["checker", "white"] = "checker"
                   ) -> np.ndarray:
    """Any [H, W], [H, W, 1], [H, W, 3] or [H, W, 4] image -> [H, W, 3] float in [0, 1].

    Floats are taken as [0, 1], uint8 as [0, 255]; single-channel images (depth, alpha) are
    min-max normalized so they are visible; RGBA is composited (straight alpha).
    """
    a = np.asarray(img)
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / 255.0
    else:
        a = np.nan_to_num(a.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim == 2:
        lo, hi = float(a.min()), float(a.max())
        a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
        return np.repeat(a[..., None], 3, axis=-1)
    if a.ndim != 3 or a.shape[-1] not in (3, 4):
        raise ValueError(f"contact sheet images must be [H, W], [H, W, 3] or [H, W, 4], "
                         f"got {a.shape}")
    if a.shape[-1] == 3:
        return np.clip(a, 0.0, 1.0)
    rgb, alpha = np.clip(a[..., :3], 0, 1), np.clip(a[..., 3:], 0, 1)
    bg = (_checkerboard(*a.shape[:2]) if background == "checker"
          else np.ones_like(rgb))
    return rgb * alpha + bg * (1.0 - alpha)


def _fit_tile(img: np.ndarray, tile: int, pad: int,
              background: Literal["checker", "white"]) -> np.ndarray:
    """[tile, tile, 3] uint8 with ``img`` fitted inside a ``pad`` border, aspect kept.

    RGBA images are resized first and composited afterwards, so the checkerboard has the same
    square size in every tile whatever the source resolution.
    """
    a = np.asarray(img)
    rgba = a.ndim == 3 and a.shape[-1] == 4
    if rgba:
        a = a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a
        src = np.concatenate([to_uint8(a[..., :3]), to_uint8(a[..., 3:])], -1)
    else:
        src = to_uint8(to_display_rgb(a, background))
    h, w = src.shape[:2]
    inner = tile - 2 * pad
    s = inner / max(h, w)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    # Pillow premultiplies RGBA while resampling, so soft edges do not pick up hidden colour.
    small = np.asarray(Image.fromarray(src).resize((nw, nh), Image.Resampling.LANCZOS))
    if rgba:
        small = to_uint8(to_display_rgb(small, background))
    out = np.empty((tile, tile, 3), np.uint8)
    out[:] = _BG
    y0, x0 = (tile - nh) // 2, (tile - nw) // 2
    out[y0:y0 + nh, x0:x0 + nw] = small
    return out


def contact_sheet(rows: Sequence[tuple[str, Sequence[np.ndarray | None]]], *, tile: int = 160,
                  labels: bool = True, label_width: int = LABEL_WIDTH, pad: int = 2,
                  background: Literal["checker", "white"] = "checker",
                  captions: Sequence[Sequence[str | None]] | None = None) -> np.ndarray:
    """Lay out labelled rows of images.

    Args:
        rows: ``[(label, [image, ...]), ...]``, e.g. ``("inputs", views)``; images are
            [H, W], [H, W, 3] or [H, W, 4] float in [0, 1] (or uint8); None leaves a gap.
        tile: side of each square tile in pixels.
        labels: draw each row's label in a left column ``label_width`` wide.
        pad: border inside each tile.
        background: what RGBA images are composited over.
        captions: optional per-row, per-image short texts (e.g. ``"28.1 dB"``) drawn in the
            tile's corner.
    Returns:
        [len(rows) * tile, (label_width if labels else 0) + cols * tile, 3] uint8, where cols
        is the length of the longest row.
    """
    if tile < 8 or pad * 2 >= tile:
        raise ValueError(f"tile {tile} too small for padding {pad}")
    n_rows = len(rows)
    cols = max((len(imgs) for _, imgs in rows), default=0)
    lw = label_width if labels else 0
    sheet = np.empty((max(n_rows, 0) * tile, lw + cols * tile, 3), np.uint8)
    sheet[:] = _BG
    for r, (_, imgs) in enumerate(rows):
        for c, img in enumerate(imgs):
            if img is not None:
                sheet[r * tile:(r + 1) * tile, lw + c * tile:lw + (c + 1) * tile] = _fit_tile(
                    img, tile, pad, background)
    if not (labels or captions) or sheet.size == 0:
        return sheet
    pil = Image.fromarray(sheet)
    draw = ImageDraw.Draw(pil)
    font = _font(max(10, tile // 12))
    if labels:
        for r, (label, _) in enumerate(rows):
            text = _fit_text(draw, str(label), font, lw - 8)
            draw.text((6, r * tile + tile // 2), text, fill=(235, 235, 235), font=font,
                      anchor="lm")
    for r, row_caps in enumerate(captions or []):
        for c, cap in enumerate(row_caps):
            if cap and c < cols:
                xy = (lw + c * tile + pad + 3, r * tile + pad + 2)
                box = draw.textbbox(xy, str(cap), font=font)
                draw.rectangle(box, fill=(0, 0, 0))
                draw.text(xy, str(cap), fill=(255, 255, 0), font=font)
    return np.asarray(pil)


def _font(size: int):
    """PIL's built-in font at ``size`` (scalable with FreeType, else the fixed bitmap font)."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):
        return ImageFont.load_default()


def _fit_text(draw: ImageDraw.ImageDraw, text: str, font, max_w: int) -> str:
    """``text`` shortened with an ellipsis until it fits in ``max_w`` pixels."""
    if draw.textlength(text, font=font) <= max_w:
        return text
    while text and draw.textlength(text + "...", font=font) > max_w:
        text = text[:-1]
    return text + "..."


def save_png(path: str | os.PathLike[str], img: np.ndarray) -> Path:
    """Write a contact sheet (uint8, or float in [0, 1]) as PNG, atomically."""
    a = np.asarray(img)
    if a.dtype != np.uint8:
        a = to_uint8(a)
    return write_png(path, a)
