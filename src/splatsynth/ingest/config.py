"""``IngestConfig``: how a recording becomes scene folders; one dotted name per knob
(``ingest.every`` in errors and ``source.json``, ``--every`` on the command line)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from ..errors import SplatsynthError


def _bad(knob: str, what: str, value: object) -> SplatsynthError:
    return SplatsynthError(f"ingest.{knob} {what}, got {value!r}")


@dataclass(frozen=True)
class BackgroundConfig:
    """The per-camera background model used when a recording has no mask videos."""

    samples: int = 31
    """Frames sampled evenly across the whole recording for the temporal median (the arena is
    static and the animal moves, so each pixel shows the floor in most samples)."""
    threshold: float = 0.10
    """A pixel is foreground where its largest per-channel difference from the background
    exceeds this (colours in [0, 1])."""
    open_radius: float = 2.0
    """Radius of the opening that removes speckle before blobs are found, in pixels of a
    1024-pixel-high frame (scaled with the frame: thin parts such as a tail are only a few
    pixels wide)."""
    close_radius: float = 4.0
    """Radius of the closing that bridges small gaps (fur matching the floor), in pixels of a
    1024-pixel-high frame (scaled like open_radius)."""

    def __post_init__(self) -> None:
        prefix = "background"
        if self.samples < 3:
            raise _bad(f"{prefix}.samples", "must be >= 3", self.samples)
        if not 0 < self.threshold < 1:
            raise _bad(f"{prefix}.threshold", "must be in (0, 1)", self.threshold)
        for name in ("open_radius", "close_radius"):
            if getattr(self, name) < 0:
                raise _bad(f"{prefix}.{name}", "must be >= 0", getattr(self, name))


@dataclass(frozen=True)
class CheckConfig:
    """Per-frame checks; a view that fails one is a bad view, and a frame with more bad views
    than ``max_bad_views`` is skipped (its reasons go to ingest.jsonl)."""

    min_area: int = 200
    """A view whose mask has fewer foreground pixels than this (full-frame pixels) is empty."""
    max_border_fraction: float = 0.10
    """A view whose silhouette outline lies on the image border for more than this fraction
    has the animal cut off by the frame (the scene checks use the same rule)."""
    max_area_ratio: float = 2.0
    """A view whose mask area differs from the mean of the same camera's neighbouring frames
    (the one before and the one after, decoded anyway) by more than this factor, either way,
    has jumped in time (a glitch, a dropped or stale mask frame). Areas for this check are
    counted on every 4th pixel of the raw threshold, before morphology."""
    min_support: float = 0.85
    """Cross-view consistency: the fraction of a view's mask that the visual hull of the other
    views covers; below it the view disagrees with the rig (wrong frame, wrong mask)."""
    max_bad_views: int = 1
    """Bad views a frame may have; they are left out of its scene. More skips the frame."""

    def __post_init__(self) -> None:
        prefix = "checks"
        if self.min_area < 1:
            raise _bad(f"{prefix}.min_area", "must be >= 1", self.min_area)
        if not 0 < self.max_border_fraction <= 1:
            raise _bad(f"{prefix}.max_border_fraction", "must be in (0, 1]",
                       self.max_border_fraction)
        if not (self.max_area_ratio > 1 and math.isfinite(self.max_area_ratio)):
            raise _bad(f"{prefix}.max_area_ratio", "must be a number > 1", self.max_area_ratio)
        if not 0 <= self.min_support <= 1:
            raise _bad(f"{prefix}.min_support", "must be in [0, 1]", self.min_support)
        if self.max_bad_views < 0:
            raise _bad(f"{prefix}.max_bad_views", "must be >= 0", self.max_bad_views)


@dataclass(frozen=True)
class IngestConfig:
    """Which frames of a recording become scenes, and how their masks and crops are made."""

    every: int = 1
    """Take every N-th frame: START, START + N, START + 2N, ..."""
    frames: str = ":"
    """START:STOP, 0-based and half-open; either end may be left out (":" = all frames)."""
    skip: str = ""
    """Frames to leave out, comma-separated (e.g. a recording's known glitch frames
    5900,11800,17700)."""
    masks: Literal["auto", "videos", "background"] = "auto"
    """Where masks come from: the recording's mask videos ("videos"), a background model per
    camera ("background"), or the videos when the recording has them ("auto")."""
    mask_threshold: float = 0.5
    """Mask videos: a pixel is the animal where the (lossy, soft-edged) mask is above this."""
    cross_view: bool = True
    """Make the views' masks agree: drop each view's blobs that the visual hull carved from the
    other views does not cover, and check each view's support (checks.min_support)."""
    hull_grid: int = 40
    """Voxels along the longest side of the box carved for the cross-view check."""
    crop: Literal["subject", "none"] = "subject"
    """"subject": a square crop round the animal's mask plus a margin, resized to --size;
    "none": full frames at their recorded size."""
    size: int = 512
    """Width and height of the cropped images (--crop subject)."""
    margin: float = 0.2
    """Margin round the mask's bounding box on each side, as a fraction of its longer side."""
    workers: int = 1
    """Threads that mask, crop and encode frames while the videos are decoded (decoding stays
    in one thread, in order)."""
    force: bool = False
    """Redo scene folders that already exist (otherwise they are skipped: re-running resumes)."""
    progress: bool = True
    """Show a progress bar on stderr."""
    background: BackgroundConfig = field(default_factory=BackgroundConfig)
    """The background model (masks from video frames alone)."""
    checks: CheckConfig = field(default_factory=CheckConfig)
    """Per-frame checks and how many bad views a frame may have."""

    def __post_init__(self) -> None:
        if self.every < 1:
            raise _bad("every", "must be >= 1", self.every)
        self.frame_range  # noqa: B018  # parses and validates
        self.skip_frames  # noqa: B018
        if self.masks not in ("auto", "videos", "background"):
            raise _bad("masks", "must be auto, videos or background", self.masks)
        if self.crop not in ("subject", "none"):
            raise _bad("crop", "must be subject or none", self.crop)
        if not 0 < self.mask_threshold < 1:
            raise _bad("mask_threshold", "must be in (0, 1)", self.mask_threshold)
        if self.hull_grid < 8:
            raise _bad("hull_grid", "must be >= 8", self.hull_grid)
        if self.size < 16:
            raise _bad("size", "must be >= 16", self.size)
        if not (0 <= self.margin <= 2):
            raise _bad("margin", "must be in [0, 2]", self.margin)
        if self.workers < 1:
            raise _bad("workers", "must be >= 1", self.workers)

    @property
    def frame_range(self) -> tuple[int, int | None]:
        """(START, STOP) from :attr:`frames`; STOP None = to the end."""
        parts = self.frames.split(":")
        if len(parts) != 2:
            raise _bad("frames", "must be START:STOP (e.g. 0:1000, 100:, :500)", self.frames)
        try:
            start = int(parts[0]) if parts[0].strip() else 0
            stop = int(parts[1]) if parts[1].strip() else None
        except ValueError:
            raise _bad("frames", "must be START:STOP with integer frame numbers",
                       self.frames) from None
        if start < 0 or (stop is not None and stop <= start):
            raise _bad("frames", "must have 0 <= START < STOP", self.frames)
        return start, stop

    @property
    def skip_frames(self) -> frozenset[int]:
        """The frame numbers of :attr:`skip`."""
        out = set()
        for tok in self.skip.replace(" ", ",").split(","):
            if not tok:
                continue
            try:
                f = int(tok)
            except ValueError:
                raise _bad("skip", "must be comma-separated frame numbers", self.skip) from None
            if f < 0:
                raise _bad("skip", "must hold frame numbers >= 0", self.skip)
            out.add(f)
        return frozenset(out)

    def select(self, n_frames: int, where: str) -> list[int]:
        """The frames to ingest from a recording of ``n_frames`` frames, in order.

        Raises:
            SplatsynthError: START, STOP or a skipped frame lies outside the recording
                (``where`` names it).
        """
        start, stop = self.frame_range
        if start >= n_frames:
            raise SplatsynthError(f"{where}: --frames {self.frames} starts at frame {start} but "
                                  f"the recording has {n_frames} frames (0..{n_frames - 1})")
        if stop is not None and stop > n_frames:
            raise SplatsynthError(f"{where}: --frames {self.frames} ends at frame {stop} but the "
                                  f"recording has {n_frames} frames (STOP is at most {n_frames})")
        outside = sorted(f for f in self.skip_frames if f >= n_frames)
        if outside:
            raise SplatsynthError(f"{where}: --skip names frame(s) {outside[:5]} beyond the "
                                  f"recording's {n_frames} frames")
        stop = n_frames if stop is None else stop
        return [f for f in range(start, stop, self.every) if f not in self.skip_frames]

    def to_dict(self) -> dict:
        """The resolved knobs, as recorded in ``source.json``."""
        from dataclasses import asdict

        return asdict(self)
