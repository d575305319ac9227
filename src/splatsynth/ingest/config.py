"""``IngestConfig``: how a recording becomes scene folders; one dotted name per knob
(``ingest.every`` in errors and ``source.json``, ``--every`` on the command line)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from ..errors import SplatsynthError
from ..knobs import Knobs


def _bad(knob: str, what: str, value: object) -> SplatsynthError:
    return SplatsynthError(f"ingest.{knob} {what}, got {value!r}")


@dataclass(frozen=True)
class BackgroundConfig(Knobs):
    """The per-camera background model used when a recording has no mask videos."""

    samples: int = 31
    """Frames sampled evenly across the whole recording for the temporal median (the arena is
    static and the animal moves, so each pixel shows the floor in most samples)."""
    threshold: float = 0.07
    """A pixel is foreground where its largest per-channel difference from the background
    exceeds this (colours in [0, 1]). On the demo recording (H.264, the real rig's 1152 x 1024
    frames) mask IoU against the truth is 0.891 mean / 0.768 p10 at 0.10, where the brown fur
    over the dark arena wall falls under it, and 0.93-0.94 / 0.88-0.89 from 0.06 to 0.08;
    below that, compression noise starts to pass (bench/RESULTS.md, "Ingest")."""
    open_radius: float = 2.0
    """Radius of the opening that removes speckle before blobs are found, in pixels of a
    1024-pixel-high frame (scaled with the frame: thin parts such as a tail are only a few
    pixels wide)."""
    close_radius: float = 4.0
    """Radius of the closing that bridges small gaps (fur matching the floor), in pixels of a
    1024-pixel-high frame (scaled like open_radius)."""

    section: ClassVar[str] = "ingest.background"

    def __post_init__(self) -> None:
        super().__post_init__()
        self._at_least("samples", 3)
        self._check("threshold", 0 < self.threshold < 1, "in (0, 1)")
        self._at_least("open_radius", 0)
        self._at_least("close_radius", 0)


@dataclass(frozen=True)
class CheckConfig(Knobs):
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

    section: ClassVar[str] = "ingest.checks"

    def __post_init__(self) -> None:
        super().__post_init__()
        self._at_least("min_area", 1)
        self._check("max_border_fraction", 0 < self.max_border_fraction <= 1, "in (0, 1]")
        self._check("max_area_ratio", self.max_area_ratio > 1, "> 1")
        self._within("min_support", 0, 1)
        self._at_least("max_bad_views", 0)


@dataclass(frozen=True)
class RigConfig(Knobs):
    """Refining the rig's calibration once per recording from its keypoint tracks, before any
    scene is written (docs/ingest.md, "Rig refinement")."""

    refine: Literal["keypoints", "off"] = "keypoints"
    """"keypoints": a robust bundle adjustment of cameras 1..C-1 (camera 0 is the gauge) over
    the tracks of up to ``frames`` frames spread across the recording; applied when an F-test
    says the tracks show the calibration to be off beyond their noise, and every scene gets
    the refined cameras. "off": the calibration as given. A recording without tracks is
    ingested as given either way (source.json says why)."""
    frames: int = 300
    """Frames whose tracks are used, spread evenly over the frames that have tracks (all of
    the recording, not just the selected ones: the calibration belongs to the rig, and every
    run of a resumed or split ingest should agree on it)."""
    noise_px: float = 3.0
    """Expected label error (pixels of the full frame): the robust loss's scale. 3 px is what
    the real DANNCE labels show (bench/RESULTS.md, "Pose refinement")."""
    centre_sigma: float = 0.005
    """How far a camera's centre may plausibly be off, as a fraction of its distance to the
    subject (0 keeps the centres fixed and turns the cameras only). Many frames tell a centre's
    error from a turn; with centres fixed, a 0.5 % centre error leaves 0.2 deg of turn behind
    on the demo rig, with them free 0.05 deg."""
    warn_deg: float = 0.3
    """A camera whose correction turns it by more than this is flagged (its calibration is
    suspect: re-calibrate, or check that camera's tracks)."""

    section: ClassVar[str] = "ingest.rig"

    def __post_init__(self) -> None:
        super().__post_init__()
        self._at_least("frames", 1)
        self._check("noise_px", self.noise_px > 0, "> 0")
        self._within("centre_sigma", 0, 0.1)
        self._check("warn_deg", self.warn_deg > 0, "> 0")


@dataclass(frozen=True)
class IngestConfig(Knobs):
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
    rig: RigConfig = field(default_factory=RigConfig)
    """Refining the rig's calibration from the recording's keypoint tracks."""

    section: ClassVar[str] = "ingest"

    def __post_init__(self) -> None:
        super().__post_init__()  # types, Literal values (masks, crop), finite numbers
        self._at_least("every", 1)
        self.frame_range  # noqa: B018  # parses and validates
        self.skip_frames  # noqa: B018
        self._check("mask_threshold", 0 < self.mask_threshold < 1, "in (0, 1)")
        self._at_least("hull_grid", 8)
        self._at_least("size", 16)
        self._within("margin", 0, 2)
        self._at_least("workers", 1)

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
