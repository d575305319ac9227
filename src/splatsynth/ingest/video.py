"""Frame sources: a video file, a video in segments, or a folder of images; decoded in order.

Videos are decoded with PyAV (FFmpeg), each exactly once and front to back: seeking is slow and
not frame-accurate in many mp4s, so frame ``k`` is the ``k``-th frame the decoder returns. Only
the frames asked for are converted to arrays. The background model's samples are the one
exception: they may come from a seek, since an approximate frame serves a median as well.

Every error names the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import SplatsynthError

Frame = tuple[int, np.ndarray]
"""A frame number and its image."""

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def natural_key(p: Path) -> list:
    """Sort key putting ``frame2.png`` before ``frame10.png``."""
    return [int(s) if s.isdigit() else s for s in re.split(r"(\d+)", p.name)]


def _av():
    try:
        import av
    except ImportError as e:  # pragma: no cover - the dependency is declared
        raise SplatsynthError("reading videos needs PyAV: pip install av") from e
    return av


class FrameSource:
    """One camera's frames (colour or mask), read in order.

    Attributes:
        path: the file or folder, for messages.
        n_frames: number of frames.
        fps: frames per second, or None when unknown (image folders).
        size: (w, h) in pixels.
    """

    path: Path
    n_frames: int
    fps: float | None
    size: tuple[int, int]

    def read(self, indices: Iterable[int], *, gray: bool = False) -> Iterator[Frame]:
        """Decode front to back and yield ``(k, frame)`` for each wanted ``k`` in ascending order.

        Args:
            indices: ascending frame numbers, each < ``n_frames``.
            gray: single channel (masks) instead of RGB.
        Yields:
            ``(k, [H, W, 3] uint8)`` or ``(k, [H, W] uint8)`` with ``gray``.
        Raises:
            SplatsynthError: the file is unreadable or ends before a wanted frame (truncated).
        """
        raise NotImplementedError

    def sample(self, indices: list[int], *, gray: bool = False) -> list[np.ndarray]:
        """Frames at (about) ``indices``, for statistics such as a background median; may seek,
        so a video may give a neighbour of the frame asked for."""
        return [f for _, f in self.read(sorted(set(indices)), gray=gray)]

    def time_of(self, k: int) -> float | None:
        """Time stamp (seconds) of frame ``k``, from the frame rate; None without one."""
        return None if not self.fps else k / self.fps


class VideoFile(FrameSource):
    """A single video file (anything FFmpeg reads)."""

    def __init__(self, path: str | Path) -> None:
        av = _av()
        self.path = Path(path)
        if not self.path.is_file():
            raise SplatsynthError(f"{self.path}: video not found")
        try:
            with av.open(str(self.path)) as c:
                if not c.streams.video:
                    raise SplatsynthError(f"{self.path}: holds no video stream")
                s = c.streams.video[0]
                self.size = (int(s.codec_context.width), int(s.codec_context.height))
                rate = s.average_rate or s.guessed_rate
                self.fps = float(rate) if rate else None
                self._rate = Fraction(rate) if rate else None
                self._time_base = s.time_base
                self._start = s.start_time or 0
                n = int(s.frames or 0)
                if n <= 0:
                    # No count in the header (some containers): count packets, no decoding.
                    n = sum(1 for p in c.demux(s) if p.size)
        except SplatsynthError:
            raise
        except Exception as e:  # PyAV raises many FFmpeg error types
            raise SplatsynthError(f"{self.path}: cannot read video ({_reason(e)})") from e
        if self.size[0] <= 0 or self.size[1] <= 0 or n <= 0:
            raise SplatsynthError(f"{self.path}: video has no frames or no size")
        self.n_frames = n

    def read(self, indices: Iterable[int], *, gray: bool = False) -> Iterator[Frame]:
        av = _av()
        want = iter(indices)
        nxt = next(want, None)
        if nxt is None:
            return
        fmt = "gray" if gray else "rgb24"
        k = -1
        try:
            with av.open(str(self.path)) as c:
                s = c.streams.video[0]
                s.thread_type = "AUTO"
                for frame in c.decode(s):
                    k += 1
                    if k == nxt:
                        yield k, frame.to_ndarray(format=fmt)
                        nxt = next(want, None)
                        if nxt is None:
                            return
                    elif nxt < k:
                        raise ValueError(f"frame numbers must ascend, got {nxt} after {k}")
        except (SplatsynthError, ValueError, GeneratorExit):
            raise
        except Exception as e:
            raise SplatsynthError(f"{self.path}: cannot decode frame {k + 1} "
                                  f"({_reason(e)}); the file may be truncated or corrupt") from e
        raise SplatsynthError(f"{self.path}: truncated: decoding ended after {k + 1} frames but "
                              f"the header says {self.n_frames} (frame {nxt} was asked for)")

    def sample(self, indices: list[int], *, gray: bool = False) -> list[np.ndarray]:
        av = _av()
        fmt = "gray" if gray else "rgb24"
        out = []
        if self._rate is None:
            return super().sample(indices, gray=gray)
        try:
            with av.open(str(self.path)) as c:
                s = c.streams.video[0]
                for k in sorted(set(indices)):
                    target = self._start + int(Fraction(k) / self._rate / self._time_base)
                    c.seek(target, stream=s, backward=True, any_frame=False)
                    got = None
                    for frame in c.decode(s):
                        got = frame
                        if frame.pts is None or frame.pts >= target:
                            break
                    if got is not None:
                        out.append(got.to_ndarray(format=fmt))
        except Exception as e:
            raise SplatsynthError(f"{self.path}: cannot sample frames ({_reason(e)})") from e
        if not out:
            raise SplatsynthError(f"{self.path}: no frame could be decoded")
        return out


class VideoSegments(FrameSource):
    """A video split into consecutive files (DANNCE's ``Camera1/0.mp4``, ``3500.mp4``, ...)."""

    def __init__(self, files: list[Path]) -> None:
        if not files:
            raise SplatsynthError("no video files given")
        self.parts = [VideoFile(f) for f in files]
        self.path = files[0].parent if len(files) > 1 else files[0]
        first = self.parts[0]
        for p in self.parts[1:]:
            if p.size != first.size or not _same_rate(p.fps, first.fps):
                raise SplatsynthError(f"{p.path}: {p.size[0]}x{p.size[1]} at {p.fps} fps, but "
                                      f"{first.path} is {first.size[0]}x{first.size[1]} at "
                                      f"{first.fps} fps")
        self.size, self.fps = first.size, first.fps
        self.offsets = np.cumsum([0] + [p.n_frames for p in self.parts])
        self.n_frames = int(self.offsets[-1])
        for p, off in zip(self.parts, self.offsets[:-1]):
            if p.path.stem.isdigit() and int(p.path.stem) != off and len(self.parts) > 1:
                raise SplatsynthError(f"{p.path}: a segment named by its first frame should "
                                      f"start at frame {off} (the earlier segments hold {off})")

    def read(self, indices: Iterable[int], *, gray: bool = False) -> Iterator[Frame]:
        idx = list(indices)
        for p, off in zip(self.parts, self.offsets[:-1]):
            local = [k - off for k in idx if off <= k < off + p.n_frames]
            for k, f in p.read(local, gray=gray):
                yield int(k + off), f

    def sample(self, indices: list[int], *, gray: bool = False) -> list[np.ndarray]:
        out = []
        for p, off in zip(self.parts, self.offsets[:-1]):
            local = [k - off for k in indices if off <= k < off + p.n_frames]
            if local:
                out += p.sample(local, gray=gray)
        return out


class ImageFolder(FrameSource):
    """A folder of one image per frame, in natural name order (``0.png``, ``1.png``, ...)."""

    def __init__(self, folder: str | Path, fps: float | None = None) -> None:
        from PIL import Image

        self.path = Path(folder)
        if not self.path.is_dir():
            raise SplatsynthError(f"{self.path}: image folder not found")
        self.files = sorted((p for p in self.path.iterdir()
                             if p.suffix.lower() in IMAGE_SUFFIXES), key=natural_key)
        if not self.files:
            raise SplatsynthError(f"{self.path}: holds no images ({', '.join(IMAGE_SUFFIXES)})")
        try:
            with Image.open(self.files[0]) as im:
                self.size = im.size
        except Exception as e:
            raise SplatsynthError(f"{self.files[0]}: cannot read image ({_reason(e)})") from e
        self.n_frames = len(self.files)
        self.fps = fps

    def read(self, indices: Iterable[int], *, gray: bool = False) -> Iterator[Frame]:
        from PIL import Image

        for k in indices:
            f = self.files[k]
            try:
                with Image.open(f) as im:
                    arr = np.asarray(im.convert("L" if gray else "RGB"))
            except Exception as e:
                raise SplatsynthError(f"{f}: cannot read image ({_reason(e)})") from e
            if (arr.shape[1], arr.shape[0]) != self.size:
                raise SplatsynthError(f"{f}: image is {arr.shape[1]}x{arr.shape[0]}, the "
                                      f"folder's first is {self.size[0]}x{self.size[1]}")
            yield k, arr


def open_source(path: str | Path, fps: float | None = None) -> FrameSource:
    """A video file, a folder of video segments, or a folder of images."""
    p = Path(path)
    if p.is_file():
        return VideoFile(p)
    if p.is_dir():
        vids = sorted((f for f in p.iterdir() if f.suffix.lower() in VIDEO_SUFFIXES),
                      key=natural_key)
        if vids:
            return VideoSegments(vids) if len(vids) > 1 else VideoFile(vids[0])
        return ImageFolder(p, fps)
    raise SplatsynthError(f"{p}: no such video or image folder")


def _same_rate(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= 1e-3 * max(a, b)


def _reason(e: BaseException) -> str:
    return str(e).strip() or type(e).__name__


def check_sync(colour: list[FrameSource], masks: list[FrameSource] | None) -> int:
    """Check that the cameras' streams can be read in lockstep; return the frame count.

    Raises:
        SplatsynthError: naming the file whose frame count, rate or size (masks: against their
            own camera's video) differs.
    """
    ref = colour[0]
    for s in colour[1:]:
        if s.n_frames != ref.n_frames:
            raise SplatsynthError(f"{s.path}: {s.n_frames} frames, but {ref.path} has "
                                  f"{ref.n_frames}; the cameras must be synchronized frame for "
                                  "frame")
        if not _same_rate(s.fps, ref.fps):
            raise SplatsynthError(f"{s.path}: {s.fps} frames/s, but {ref.path} runs at "
                                  f"{ref.fps} frames/s")
    for s, m in zip(colour, masks or []):
        if m.size != s.size:
            raise SplatsynthError(f"{m.path}: mask video is {m.size[0]}x{m.size[1]} but its "
                                  f"video {s.path} is {s.size[0]}x{s.size[1]}")
        if m.n_frames != s.n_frames:
            raise SplatsynthError(f"{m.path}: {m.n_frames} mask frames, but its video {s.path} "
                                  f"has {s.n_frames}")
        if not _same_rate(m.fps, s.fps) and m.fps is not None and s.fps is not None:
            raise SplatsynthError(f"{m.path}: mask video runs at {m.fps} frames/s, its video "
                                  f"{s.path} at {s.fps}")
    return ref.n_frames


def read_synced(streams: list[FrameSource], indices: list[int], gray: list[bool]
                ) -> Iterator[tuple[int, list[np.ndarray]]]:
    """Decode several streams in lockstep: ``(k, [frame of each stream])`` for each wanted k.

    Memory holds one frame per stream (plus the decoders' own buffers), whatever the length.
    """
    gens = [s.read(indices, gray=g) for s, g in zip(streams, gray)]
    try:
        for k in indices:
            frames = []
            for s, g in zip(streams, gens):
                got = next(g, None)
                if got is None or got[0] != k:
                    raise SplatsynthError(f"{s.path}: frame {k} could not be read")
                frames.append(got[1])
            yield k, frames
    finally:
        for g in gens:
            g.close()
