"""Turntable videos of the rendered orbit: MP4 through imageio-ffmpeg, else an animated GIF."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

from ..fileio import atomic_path, atomic_write_bytes, to_uint8
from .contact_sheet import to_display_rgb


def _frames_uint8(frames: np.ndarray) -> np.ndarray:
    """[T, H, W, 3|4] float [0, 1] or uint8 -> [T, H', W', 3] uint8 with even H', W'.

    RGBA is composited over white (the dataset's default background); H and W are padded to
    even numbers because H.264 with yuv420p needs them.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] not in (3, 4) or len(frames) == 0:
        raise ValueError(f"turntable frames must be [T, H, W, 3|4] with T > 0, got {frames.shape}")
    out = np.stack([to_uint8(to_display_rgb(f, "white")) for f in frames])
    T, H, W, _ = out.shape
    if H % 2 or W % 2:
        out = np.pad(out, ((0, 0), (0, H % 2), (0, W % 2), (0, 0)), constant_values=255)
    return out


def _write_mp4(path: Path, frames: np.ndarray, fps: float) -> None:
    import imageio.v2 as imageio  # the legacy FFMPEG plugin is imageio-ffmpeg

    with atomic_path(path, suffix=".mp4") as tmp:
        writer = imageio.get_writer(tmp, format="FFMPEG", mode="I", fps=fps, codec="libx264",
                                    quality=7, pixelformat="yuv420p", macro_block_size=1,
                                    ffmpeg_log_level="error")
        try:
            for f in frames:
                writer.append_data(f)
        finally:
            writer.close()


def _gif_bytes(frames: np.ndarray, fps: float) -> bytes:
    imgs = [Image.fromarray(f) for f in frames]
    buf = io.BytesIO()
    imgs[0].save(buf, format="GIF", save_all=True, append_images=imgs[1:],
                 duration=max(20, round(1000.0 / fps)), loop=0, optimize=False)
    return buf.getvalue()


def ffmpeg_available() -> bool:
    """True when imageio can write MP4 (imageio-ffmpeg and its ffmpeg binary are present)."""
    try:
        import imageio_ffmpeg

        return Path(imageio_ffmpeg.get_ffmpeg_exe()).exists()
    except Exception:  # noqa: BLE001 - any failure to locate ffmpeg means "use GIF"
        return False


def write_turntable(path_without_ext: str | os.PathLike[str], frames: np.ndarray,
                    fps: float = 12.0, *, prefer: str = "mp4") -> Path:
    """Write the orbit as a looping video.

    Args:
        path_without_ext: destination without extension, e.g. ``OUT/scene/turntable``.
        frames: [T, H, W, 3] or [T, H, W, 4] float in [0, 1] (or uint8); RGBA over white.
        fps: frames per second.
        prefer: ``"mp4"`` (falls back to GIF when ffmpeg is missing or fails) or ``"gif"``.
    Returns:
        The file written: ``<path>.mp4`` or ``<path>.gif``.
    """
    base = Path(path_without_ext)
    base.parent.mkdir(parents=True, exist_ok=True)
    f8 = _frames_uint8(frames)
    if prefer == "mp4" and ffmpeg_available():
        path = base.with_name(base.name + ".mp4")
        try:
            _write_mp4(path, f8, fps)
            return path
        except Exception:  # noqa: BLE001 - a broken ffmpeg must not fail the scene: use GIF
            pass
    path = base.with_name(base.name + ".gif")
    atomic_write_bytes(path, _gif_bytes(f8, fps))
    return path
