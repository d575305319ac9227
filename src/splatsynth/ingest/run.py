"""``ingest(format, src, out, cfg)``: a recording -> scene folders, resumably.

The videos are decoded once, in order, in this thread; ``cfg.workers`` threads mask, crop and
encode the frames (NumPy, SciPy, Pillow and FFmpeg release the GIL for the heavy parts); the
results are checked against the earlier frames and written in frame order. At most
``2 * workers`` frames are in flight, so memory stays bounded however long the recording.
"""

from __future__ import annotations

import re
import sys
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SceneError, SplatsynthError
from ..fileio import check_output_path, read_jsonl
from .checks import check_area_jump
from .config import IngestConfig
from .formats import read_recording
from .frame import FrameResult, process_frame
from .masks import background_median, raw_area
from .recording import Recording
from .rig import RigRefinement, refine_rig, write_rig_report
from .video import read_synced
from .writer import (
    INGEST_LOG,
    SCENES_LIST,
    AlreadyFinished,
    is_finished,
    remove_stale,
    scene_id,
    scene_problems,
    write_lists,
    write_scene,
)

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass
class IngestSummary:
    """What an ingest did.

    Attributes:
        recording: the recording's name.
        out: the scenes folder.
        mask_method: "videos" or "background".
        selected: frames selected by --frames/--every/--skip.
        written: scene folders written by this run.
        already_done: selected frames whose folder existed (skipped: resumed).
        skipped: {frame: reason} of frames that failed their checks.
        seconds: wall time.
        scenes_list: path of scenes.txt.
        log: path of ingest.jsonl.
        rig: the rig refinement (None when no scene was to be written).
        rig_report: path of rig_<recording>.json (None with it).
    """

    recording: str
    out: Path
    mask_method: str
    selected: int = 0
    written: list[Path] = field(default_factory=list)
    already_done: int = 0
    skipped: dict[int, str] = field(default_factory=dict)
    seconds: float = 0.0
    scenes_list: Path | None = None
    log: Path | None = None
    rig: RigRefinement | None = None
    rig_report: Path | None = None

    def __str__(self) -> str:
        rate = (len(self.written) + len(self.skipped)) / self.seconds if self.seconds else 0.0
        rig = ""
        if self.rig is not None:
            rig = "\n" + "\n".join(self.rig.lines())
            if self.rig_report is not None:
                rig += f"\nrig report: {self.rig_report}"
        return (f"{self.recording}: {self.selected} frames selected, {len(self.written)} scenes "
                f"written, {self.already_done} already there, {len(self.skipped)} skipped "
                f"(see {self.log}); masks from {self.mask_method}; {self.seconds:.1f} s "
                f"({rate:.1f} frames/s){rig}\nscene list: {self.scenes_list}")


def mask_method(rec: Recording, cfg: IngestConfig) -> str:
    """"videos" or "background" for this recording and ``cfg.masks``."""
    if cfg.masks == "videos" and not rec.has_masks:
        raise SplatsynthError(f"{rec.path}: --masks videos, but the recording has no mask "
                              "videos")
    if cfg.masks == "auto":
        return "videos" if rec.has_masks else "background"
    return cfg.masks


def ingest(fmt: str, src: str | Path, out: str | Path, cfg: IngestConfig | None = None, *,
           name: str | None = None, on_frame=None) -> IngestSummary:
    """Turn a recording into one scene folder per selected frame (SPEC section 3b).

    Args:
        fmt: "markerless", "dannce" or "manifest".
        src: the recording folder (markerless, dannce) or YAML file (manifest).
        out: the scenes folder; ``out/<recording>_f<frame>/``, ``scenes.txt``, ``ingest.jsonl``.
        cfg: the knobs (:class:`IngestConfig`).
        name: the recording's name in scene ids (default: the format's, e.g. the folder name).
        on_frame: called with every :class:`~.frame.FrameResult` (full-frame masks included),
            in frame order, e.g. to score masks; None skips keeping the masks.
    Returns:
        An :class:`IngestSummary`.
    Raises:
        SplatsynthError: the recording is unreadable or inconsistent, or frames are out of
            range; the message names the file.
    """
    cfg = cfg or IngestConfig()
    t0 = time.perf_counter()
    out = check_output_path(out, what="scenes folder")  # before hours of decoding
    rec = read_recording(fmt, src, name)
    if not _SAFE_NAME.match(rec.name):
        raise SplatsynthError(f"{rec.path}: recording name {rec.name!r} cannot name a folder "
                              "(use letters, digits, '.', '_', '-'; give --name)")
    n = rec.check()
    frames = cfg.select(n, str(rec.path))
    method = mask_method(rec, cfg)
    out.mkdir(parents=True, exist_ok=True)
    remove_stale(out, rec.name)
    summary = IngestSummary(rec.name, out, method, selected=len(frames))
    todo = [f for f in frames if cfg.force or not is_finished(out / scene_id(rec.name, f))]
    summary.already_done = len(frames) - len(todo)
    if todo:
        # Once per recording, before any scene: every scene gets the same (refined) rig.
        rec, summary.rig = refine_rig(rec, n, cfg.skip_frames, cfg.rig)
        summary.rig_report = write_rig_report(out, rec.name, summary.rig)
        if cfg.progress:
            for line in summary.rig.lines():
                print(line, file=sys.stderr, flush=True)
    backgrounds = raw_backgrounds = None
    if todo and method == "background":
        raw_backgrounds = [background_median(c.video, cfg.background.samples)
                           for c in rec.cameras]
        # The median of undistorted frames is the undistorted median (up to resampling).
        backgrounds = [b if c.undistort is None else c.undistort.image(b)
                       for b, c in zip(raw_backgrounds, rec.cameras)]
    # The area check compares each frame with its neighbours, so they are decoded too.
    wanted = sorted({j for f in todo for j in (f - 1, f, f + 1) if 0 <= j < n})
    todo_set = set(todo)
    raw: dict[int, list[float]] = {}
    C = len(rec.cameras)

    def raw_areas(imgs: list) -> list[float]:
        if method == "videos":
            return [raw_area(m, cfg.mask_threshold, None) for m in imgs[C:]]
        return [raw_area(f, cfg.background.threshold, b) for f, b in zip(imgs, raw_backgrounds)]

    streams = [c.video for c in rec.cameras]
    gray = [False] * len(streams)
    if method == "videos":
        streams += [c.mask for c in rec.cameras]
        gray += [True] * C
    bar = _progress(len(todo), rec.name, cfg.progress)
    inflight: deque[Future] = deque()
    keep = on_frame is not None

    def finish(fut: Future) -> None:
        res: FrameResult = fut.result()
        f = res.frame
        for k, c in enumerate(res.checks):
            if c.ok and f in raw:
                nb = [raw[j][k] for j in (f - 1, f + 1) if j in raw]
                check_area_jump(c, raw[f][k], nb, cfg.checks)
        for j in [j for j in raw if j < f - 1]:
            del raw[j]
        _commit(rec, res, out, cfg, method, summary)
        if on_frame is not None:
            on_frame(res)
        bar.update(1)

    try:
        with ThreadPoolExecutor(max_workers=cfg.workers) as pool:
            for k, imgs in read_synced(streams, wanted, gray):
                raw[k] = raw_areas(imgs)
                if k not in todo_set:
                    continue
                colour, masks = imgs[:C], (imgs[C:] if method == "videos" else None)
                inflight.append(pool.submit(process_frame, rec, k, colour, masks, backgrounds,
                                            cfg, keep))
                # Keep one frame decoded past the oldest in flight, for its area check.
                while len(inflight) > 2 * cfg.workers:
                    finish(inflight.popleft())
            while inflight:
                finish(inflight.popleft())
    finally:
        for fut in inflight:
            fut.cancel()
        bar.close()
        summary.scenes_list, summary.log = write_lists(
            out, rec.name, {f: _log_row(rec.name, f, r) for f, r in summary.skipped.items()})
    summary.seconds = time.perf_counter() - t0
    return summary


def _log_row(recording: str, frame: int, reason: str) -> dict:
    return {"recording": recording, "frame": frame, "scene": scene_id(recording, frame),
            "reason": reason}


def _commit(rec: Recording, res: FrameResult, out: Path, cfg: IngestConfig, method: str,
            summary: IngestSummary) -> None:
    """Write the frame's scene, or record why it is skipped."""
    bad = [c for c in res.checks if not c.ok]
    good = [c for c in res.checks if c.ok]
    if len(bad) > cfg.checks.max_bad_views or len(good) < 2:
        why = "; ".join(f"{c.view}: {', '.join(c.problems)}" for c in bad)
        summary.skipped[res.frame] = (f"{len(bad)} bad view(s) (checks.max_bad_views "
                                      f"{cfg.checks.max_bad_views}): {why}")
        return
    sid = scene_id(rec.name, res.frame)
    source = {
        "recording": rec.name, "format": rec.format, "path": str(Path(rec.path).resolve()),
        "frame": res.frame, "time": rec.cameras[0].video.time_of(res.frame),
        "fps": rec.fps, "mask_method": method, "crop": cfg.crop,
        "crops": {k: b.to_dict() for k, b in res.crops.items()},
        "calibration": rec.calibration,
        "rig": None if summary.rig is None else {
            **summary.rig.to_source(),
            "report": None if summary.rig_report is None else summary.rig_report.name},
        "views": [c.view for c in good], "dropped_views": [c.view for c in bad],
        "checks": [c.to_dict() for c in res.checks],
        "config": cfg.to_dict(),
    }
    try:
        path = write_scene(out / sid, [res.views[c.view] for c in good], rec.keypoint_names,
                           source, force=cfg.force)
    except AlreadyFinished:
        summary.already_done += 1
        return
    except SceneError as e:
        summary.skipped[res.frame] = "scene check failed: " + "; ".join(scene_problems(e))
        return
    summary.written.append(path)


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, name: str, show: bool):
    if not show or total == 0:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=f"ingest {name}", unit="frame", file=sys.stderr,
                mininterval=0.5)


def read_skipped(out: str | Path) -> list[dict]:
    """The rows of ``out/ingest.jsonl``."""
    return read_jsonl(Path(out) / INGEST_LOG)


def scenes_list(out: str | Path) -> Path:
    """Where ``scenes.txt`` is."""
    return Path(out) / SCENES_LIST
