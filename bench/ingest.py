"""Ingest throughput and mask quality on the demo recording at the real rig's size.

    python bench/ingest.py [--frames 60] [--size 1152 1024] [--workers 1 2] [--out DIR]

Makes the demo recording (6 cameras, H.264, the real DANNCE rig) once under --out, then for
each mask source (mask videos, background model) and worker count ingests every frame
(decode + mask + cross-view + crop to 512 + PNG + write) and prints frames/s, the time for
1,600 scenes, and the mask IoU against the true silhouettes. It also writes contact sheets of
mask outlines over the frames (green: truth, magenta: ingest) to --out.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from splatsynth.demo.recording import make_demo_recording, mask_iou, true_silhouette
from splatsynth.ingest import IngestConfig, ingest
from splatsynth.ingest.formats import read_recording
from splatsynth.ingest.video import read_synced


def overlay_sheet(rec: Path, masks: dict[int, list[np.ndarray]], path: Path, tile: int = 200
                  ) -> None:
    """Rows = frames, columns = cameras: each camera's frame round the animal with the true
    silhouette's outline (green) and the ingested mask's (magenta)."""
    r = read_recording("markerless", rec)
    rows = []
    for f, imgs in read_synced([c.video for c in r.cameras], sorted(masks), [False] * 6):
        tiles = []
        for k, img in enumerate(imgs):
            truth, m = true_silhouette(rec, k, f), masks[f][k]
            out = img.copy()
            width = max(1, img.shape[0] // 400)
            for mm, col in ((truth, (0, 255, 0)), (m, (255, 0, 255))):
                edge = mm & ~ndimage.binary_erosion(mm)
                out[ndimage.binary_dilation(edge, iterations=width)] = col
            ys, xs = np.nonzero(truth | m)
            pad = img.shape[0] // 40
            y0, x0 = max(ys.min() - pad, 0), max(xs.min() - pad, 0)
            side = max(ys.max() - y0, xs.max() - x0) + pad
            crop = Image.fromarray(out[y0:y0 + side, x0:x0 + side])
            tiles.append(np.asarray(crop.resize((tile, tile), Image.Resampling.LANCZOS)))
        rows.append(np.concatenate(tiles, 1))
    Image.fromarray(np.concatenate(rows, 0)).save(path)


def run(rec: Path, out: Path, masks: str, workers: int, sheet_frames: list[int]) -> dict:
    ious: list[float] = []
    keep: dict[int, list[np.ndarray]] = {}

    def on_frame(res) -> None:
        for k, m in enumerate(res.masks):
            ious.append(mask_iou(m, true_silhouette(rec, k, res.frame)))
        if res.frame in sheet_frames:
            keep[res.frame] = res.masks

    t = time.perf_counter()
    s = ingest("markerless", rec, out / f"scenes_{masks}_w{workers}",
               IngestConfig(masks=masks, workers=workers, force=True, progress=False),
               on_frame=on_frame)
    dt = time.perf_counter() - t
    frames = len(s.written) + len(s.skipped)
    a = np.asarray(ious)
    if keep:
        overlay_sheet(rec, keep, out / f"overlay_{masks}.png")
    return {"masks": masks, "workers": workers, "frames": frames, "seconds": dt,
            "fps": frames / dt, "written": len(s.written), "skipped": len(s.skipped),
            "iou_mean": a.mean(), "iou_p10": np.percentile(a, 10), "iou_min": a.min()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--size", type=int, nargs=2, default=(1152, 1024))
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--out", type=Path, default=Path("bench_ingest_out"))
    a = ap.parse_args()
    t = time.perf_counter()
    rec = make_demo_recording(a.out, size=tuple(a.size), frames=a.frames)
    print(f"recording {rec}: {a.frames} frames x 6 cameras at {a.size[0]}x{a.size[1]} "
          f"(made or reused in {time.perf_counter() - t:.0f} s)")
    sheet = [a.frames * i // 5 for i in range(1, 5)]
    print(f"{'masks':<11} {'workers':>7} {'frames/s':>9} {'1600 scenes':>12} {'IoU mean':>9} "
          f"{'p10':>6} {'min':>6} {'skipped':>8}")
    for masks in ("videos", "background"):
        for w in a.workers:
            r = run(rec, a.out, masks, w, sheet if w == a.workers[0] else [])
            print(f"{masks:<11} {w:>7} {r['fps']:>9.2f} {1600 / r['fps'] / 60:>10.1f} m "
                  f"{r['iou_mean']:>9.3f} {r['iou_p10']:>6.3f} {r['iou_min']:>6.3f} "
                  f"{r['skipped']:>8}", flush=True)
    print(f"overlays: {a.out}/overlay_videos.png, {a.out}/overlay_background.png")


if __name__ == "__main__":
    main()
