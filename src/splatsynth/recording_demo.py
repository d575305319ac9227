"""``splatsynth demo --recording``: the front door end to end on the built-in recording.

make the recording (toy mouse walking, real DANNCE rig, markerless layout)
  -> ingest (mask videos and, for comparison, the background model), scored against the true
     silhouettes
  -> batch (fit every ingested scene into one GS-LRM dataset)
  -> the training-data check (``splatsynth mix --check``'s validation of the dataset)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .batch import BatchConfig, run_batch
from .config import RunConfig
from .demo.recording import make_demo_recording, mask_iou, true_silhouette
from .errors import SplatsynthError
from .fileio import atomic_write_text, read_list_file
from .ingest import IngestConfig, ingest


@dataclass(frozen=True)
class RecordingDemoConfig:
    """How big the recording demo is."""

    size: tuple[int, int] = (576, 512)
    """Frame size (w, h) of the recording: half the real rig's 1152 x 1024, so the demo makes
    its videos in about a minute (the intrinsics are scaled, the geometry is the real rig's)."""
    frames: int = 60
    """Frames in the recording (the mouse walks one lap)."""
    every: int = 20
    """Fit every N-th ingested frame (each fit takes tens of seconds on 2 cores)."""
    ingest: IngestConfig = field(default_factory=lambda: IngestConfig(progress=False))
    """Ingest knobs (--every is set from ``every``)."""


@dataclass
class RecordingDemoResult:
    """Where things went and how well the masks matched the truth."""

    recording: Path
    scenes: Path
    dataset: Path
    iou: dict[str, dict[str, float]] = field(default_factory=dict)
    batch_exit: int = 0
    check: str = ""


def score_masks(recording: Path, out: Path, cfg: IngestConfig) -> tuple[dict[str, float], object]:
    """Ingest ``recording`` into ``out`` and score every view's mask against the truth.

    Returns:
        ({"mean", "min", "p10"} IoU over frames x views, the IngestSummary).
    """
    ious: list[float] = []

    def on_frame(res) -> None:
        for k, m in enumerate(res.masks):
            ious.append(mask_iou(m, true_silhouette(recording, k, res.frame)))

    summary = ingest("markerless", recording, out, replace(cfg, force=True), on_frame=on_frame)
    a = np.asarray(ious) if ious else np.zeros(1)
    return {"mean": float(a.mean()), "min": float(a.min()),
            "p10": float(np.percentile(a, 10))}, summary


def run_recording_demo(out: str | Path, run_cfg: RunConfig | None = None,
                       cfg: RecordingDemoConfig | None = None, *, force: bool = False,
                       log=print) -> RecordingDemoResult:
    """Make the demo recording under ``out/recording``, ingest it into ``out/scenes``, fit
    every ``cfg.every``-th frame into ``out/dataset`` and check the dataset for training.
    Prints the mask IoU of both mask sources against the true silhouettes."""
    cfg = cfg or RecordingDemoConfig()
    out = Path(out)
    t = time.perf_counter()
    rec = make_demo_recording(out / "recording", size=cfg.size, frames=cfg.frames, force=force)
    log(f"demo recording: {rec} ({time.perf_counter() - t:.1f} s)")
    res = RecordingDemoResult(rec, out / "scenes", out / "dataset")
    # The background model's masks are scored too (into a scratch folder), for comparison.
    res.iou["background"], s_bg = score_masks(rec, out / "scenes_background",
                                              replace(cfg.ingest, masks="background"))
    res.iou["videos"], s = score_masks(rec, res.scenes, replace(cfg.ingest, masks="videos"))
    log(str(s))
    for method, sc in (("videos", s), ("background", s_bg)):
        i = res.iou[method]
        log(f"mask IoU against the true silhouettes, masks from {method}: mean {i['mean']:.3f}, "
            f"10th percentile {i['p10']:.3f}, min {i['min']:.3f} ({len(sc.written)} scenes, "
            f"{len(sc.skipped)} frames skipped)")
    scenes = read_list_file(s.scenes_list, what="scene list")
    chosen = [p for p in scenes if int(p.name.rsplit("_f", 1)[1]) % cfg.every == 0]
    if not chosen:
        raise SplatsynthError(f"{s.scenes_list}: no ingested scene to fit")
    summary = run_batch(chosen, res.dataset, run_cfg, BatchConfig(progress=False), log=log)
    log(summary.format())
    res.batch_exit = summary.exit_code
    res.check = check_dataset(res.dataset)
    log(res.check)
    return res


def check_dataset(dataset: Path) -> str:
    """The training feed's check of a finished dataset (its train and val lists as one mix)."""
    from .training import check_mix

    lists = [p for p in (dataset / "data_gslrm_train.txt", dataset / "data_gslrm_val.txt")
             if p.is_file() and read_list_file(p)]
    entries = "".join(f"  - {{name: {p.stem}, path: {p.resolve()}, weight: 1}}\n" for p in lists)
    mix = dataset / "mix.yaml"
    atomic_write_text(mix, f"datasets:\n{entries}num_views: 8\nnum_input_views: 4\n")
    return check_mix(mix)
