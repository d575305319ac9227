"""Refine a rig's calibration once per recording from its keypoint tracks (``--rig.refine``).

A calibration error belongs to the rig, not to a frame: one frame's few noisy labels cannot
pin a camera to better than half a degree, but a hundred frames of the animal moving round the
arena pin it to a few hundredths (bench/RESULTS.md, "Rig refinement from keypoint tracks").
So the ingest gathers the tracks of frames spread across the whole recording, already in the
pinhole images the scenes use, stacks them as more keypoints of one rig ([C, F * K, 3]) and
runs :func:`splatsynth.cameras.align_to_keypoints` on them (camera 0 is the gauge; the others
turn and their centres move near their calibrated places). When its F-test accepts, every scene
is written with the refined cameras; either way the outcome goes to every scene's
``source.json`` and to ``<scenes>/rig_<recording>.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..cameras import Camera, image_shift_px
from ..cameras.keypoint_alignment import align_to_keypoints
from ..errors import SplatsynthError
from ..fileio import atomic_write_json
from .config import RigConfig
from .recording import Recording

#: The rig report's file name in the scenes folder.
RIG_REPORT = "rig_{recording}.json"


@dataclass
class RigRefinement:
    """What the rig refinement did.

    Attributes:
        refine: the method ("keypoints" or "off").
        applied: whether the scenes get refined cameras.
        reason: why not (empty when applied).
        names: the C camera names, in rig order.
        cameras: the C cameras the scenes get (refined when applied, else as given).
        given: the C cameras as calibrated.
        frames: the frames whose tracks were used.
        rotation_deg: [C] each camera's turn (0 for the gauge and when not applied).
        centre_shift: [C] how far each centre moved, as a fraction of its distance to the
            subject.
        shift_px: [C] how far the correction moves the subject in each full frame (median over
            the triangulated keypoints, pixels).
        residual_before: (median, p90) reprojection error of the used labels (pixels) at the
            given cameras; NaN when nothing was solved.
        residual_after: the same at the refined cameras.
        num_points: 3D points the solve used.
        warn_deg: the flagging threshold (``ingest.rig.warn_deg``).
    """

    refine: str
    applied: bool
    reason: str
    names: list[str]
    cameras: list[Camera]
    given: list[Camera]
    frames: list[int] = field(default_factory=list)
    rotation_deg: np.ndarray = field(default_factory=lambda: np.zeros(0))
    centre_shift: np.ndarray = field(default_factory=lambda: np.zeros(0))
    shift_px: np.ndarray = field(default_factory=lambda: np.zeros(0))
    residual_before: tuple[float, float] = (float("nan"), float("nan"))
    residual_after: tuple[float, float] = (float("nan"), float("nan"))
    num_points: int = 0
    warn_deg: float = 0.3

    @property
    def suspect(self) -> list[str]:
        """Cameras whose correction exceeds ``warn_deg`` (their calibration is suspect)."""
        if not self.applied:
            return []
        return [n for n, r in zip(self.names, self.rotation_deg) if r > self.warn_deg]

    def to_source(self) -> dict:
        """The digest every scene's ``source.json`` carries."""
        out: dict = {"refine": self.refine, "applied": self.applied, "reason": self.reason}
        if self.refine == "off":
            return out
        out["frames_used"] = len(self.frames)
        if self.applied:
            out["rotation_deg"] = {n: round(float(r), 4)
                                   for n, r in zip(self.names, self.rotation_deg)}
            out["shift_px"] = {n: round(float(s), 2) for n, s in zip(self.names, self.shift_px)}
            out["suspect"] = self.suspect
        out["residual_px_before"] = _stats(self.residual_before)
        out["residual_px_after"] = _stats(self.residual_after)
        return out

    def to_report(self) -> dict:
        """The rig report: the digest plus per camera the correction and both calibrations
        (cameras.json frames of the full pinhole frame, SPEC section 3)."""
        doc = self.to_source()
        doc.update(frames=[int(f) for f in self.frames], num_points=self.num_points,
                   warn_deg=self.warn_deg, cameras=[])
        for i, n in enumerate(self.names):
            row: dict = {"name": n, "given": _frame(self.given[i])}
            if self.applied:
                row.update(rotation_deg=float(self.rotation_deg[i]),
                           centre_shift=float(self.centre_shift[i]),
                           shift_px=float(self.shift_px[i]), suspect=n in self.suspect,
                           refined=_frame(self.cameras[i]))
            doc["cameras"].append(row)
        return doc

    def lines(self) -> list[str]:
        """The printed summary: one line, plus a warning line per suspect camera."""
        if self.refine == "off":
            return ["rig: calibration as given (--rig.refine off)"]
        if not self.applied:
            return [f"rig: calibration as given, not refined from keypoint tracks: {self.reason}"]
        per = ", ".join(f"{n} {r:.2f} deg ({s:.0f} px)" for n, r, s in
                        zip(self.names[1:], self.rotation_deg[1:], self.shift_px[1:]))
        out = [f"rig refined from the keypoint tracks of {len(self.frames)} frames "
               f"({self.names[0]} fixed): {per}; reprojection error median "
               f"{self.residual_before[0]:.2f} -> {self.residual_after[0]:.2f} px, p90 "
               f"{self.residual_before[1]:.2f} -> {self.residual_after[1]:.2f} px"]
        for n in self.suspect:
            r = self.rotation_deg[self.names.index(n)]
            out.append(f"WARNING: camera {n}'s calibration is off by {r:.2f} deg (more than "
                       f"--rig.warn_deg {self.warn_deg:g}): re-calibrate it, or check its "
                       "keypoint track")
        return out


def _stats(r: tuple[float, float]) -> dict:
    return {"median": _num(r[0]), "p90": _num(r[1])}


def _num(x: float) -> float | None:
    return round(float(x), 3) if np.isfinite(x) else None


def _frame(cam: Camera) -> dict:
    return {k: v for k, v in cam.to_frame().items() if k != "file_path"}


def track_frames(rec: Recording, skip: frozenset[int], limit: int, n_frames: int) -> list[int]:
    """Up to ``limit`` frames spread evenly over those whose tracks show at least one
    keypoint in two cameras (a DANNCE project's tracks are its few labelled frames), leaving
    out ``skip`` (known glitch frames)."""
    tracks = [c.keypoints for c in rec.cameras]
    if any(t is None for t in tracks):
        return []
    seen = np.stack([(t[:n_frames, :, 2] > 0) & np.isfinite(t[:n_frames]).all(-1)
                     for t in tracks])  # [C, F, K]
    ok = np.flatnonzero((seen.sum(0) >= 2).any(-1))
    ok = np.array([f for f in ok if f not in skip], int)
    if len(ok) > limit:
        ok = ok[np.unique(np.linspace(0, len(ok) - 1, limit).round().astype(int))]
    return [int(f) for f in ok]


def refine_cameras(cameras: list[Camera], tracks: np.ndarray, cfg: RigConfig,
                   names: list[str] | None = None, frames: list[int] | None = None
                   ) -> RigRefinement:
    """Refine cameras 1..C-1 from many frames of keypoints (camera 0 fixed).

    Args:
        cameras: C pinhole cameras of the full frames.
        tracks: [C, F, K, 3] (x, y, confidence) in those cameras' pixels; conf <= 0 or NaN is
            "not seen".
        cfg: the knobs (``ingest.rig``).
        names: camera names for the report (default cam0, cam1, ...).
        frames: the frame numbers of the F frames, for the report.
    Returns:
        :class:`RigRefinement`; a refusal (``applied`` False, with a reason) when the tracks
        cannot pin the rig or do not show it to be off. Never raises on bad tracks.
    """
    cams = list(cameras)
    names = names or [f"cam{i}" for i in range(len(cams))]
    tracks = np.asarray(tracks, np.float64)
    frames = list(range(tracks.shape[1])) if frames is None else list(frames)
    zeros = np.zeros(len(cams))
    base = RigRefinement(cfg.refine, False, "", names, cams, cams, frames, zeros, zeros.copy(),
                         zeros.copy(), warn_deg=cfg.warn_deg)
    if tracks.ndim != 4 or tracks.shape[0] != len(cams) or tracks.shape[-1] != 3 \
            or tracks.shape[1] == 0:
        return replace(base, reason=f"no usable keypoint tracks (shape {list(tracks.shape)})")
    C, F, K, _ = tracks.shape
    try:
        a = align_to_keypoints(cams, tracks.reshape(C, F * K, 3), gauge=0,
                               noise_px=cfg.noise_px, centre_sigma=cfg.centre_sigma or None)
    except (SplatsynthError, ValueError, np.linalg.LinAlgError) as e:
        return replace(base, reason=f"the bundle adjustment failed ({e})")
    base = replace(base, residual_before=a.residual_before, residual_after=a.residual_after,
                   num_points=a.num_points)
    if not a.applied:
        return replace(base, reason=a.reason)
    dist = np.array([np.linalg.norm(c.center - np.nanmean(a.points, 0)) for c in cams])
    return replace(base, applied=True, cameras=list(a.cameras), rotation_deg=a.rotation_deg,
                   centre_shift=a.centre_shift / np.maximum(dist, 1e-12),
                   shift_px=_subject_shift(cams, a.cameras, a.points))


def _subject_shift(before: list[Camera], after: list[Camera], points: np.ndarray) -> np.ndarray:
    """[C] median image displacement of the keypoints' 3D points between two calibrations."""
    pts = points[np.isfinite(points).all(1)]
    return np.array([image_shift_px(b, a, pts) for b, a in zip(before, after)])


def refine_rig(rec: Recording, n_frames: int, skip: frozenset[int], cfg: RigConfig
               ) -> tuple[Recording, RigRefinement]:
    """The recording with its cameras refined from its tracks (``cfg.refine``), and what was
    done. The recording is returned as given when refinement is off or refused."""
    cams = [c.camera for c in rec.cameras]
    names = [c.name for c in rec.cameras]
    off = RigRefinement(cfg.refine, False, "", names, cams, cams, warn_deg=cfg.warn_deg)
    if cfg.refine == "off":
        return rec, off
    missing = [c.name for c in rec.cameras if c.keypoints is None]
    if missing:
        why = ("the recording has no keypoint tracks" if len(missing) == len(names) else
               f"no keypoint track for camera(s) {', '.join(missing)}")
        return rec, replace(off, reason=why)
    frames = track_frames(rec, skip, cfg.frames, n_frames)
    if not frames:
        return rec, replace(off, reason="no frame's tracks show a keypoint in two cameras")
    tracks = np.stack([c.keypoints[frames] for c in rec.cameras])
    res = refine_cameras(cams, tracks, cfg, names, frames)
    if not res.applied:
        return rec, res
    streams = [replace(s, camera=c) for s, c in zip(rec.cameras, res.cameras)]
    return replace(rec, cameras=streams), res


def write_rig_report(out: Path, recording: str, res: RigRefinement) -> Path:
    """Write ``out/rig_<recording>.json`` (:meth:`RigRefinement.to_report`)."""
    path = Path(out) / RIG_REPORT.format(recording=recording)
    atomic_write_json(path, res.to_report(), indent=1)
    return path
