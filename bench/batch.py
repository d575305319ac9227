"""Batch throughput: scenes per hour with 1 and 2 local workers, and the projected time for
1,600 scenes on this machine.

Makes N synthetic demo scenes (different rig seeds, no ground-truth folder, like real
captures), runs ``run_batch`` on them into a fresh OUT once per worker count, and prints wall
time, scenes per hour and the projection. The wall time includes starting the workers (a few
seconds each: importing torch and loading numba's cached kernels), which a 1,600-scene batch
pays once, so small N slightly understates the long-run rate.

    .venv/bin/python bench/batch.py                        # the reduced preset, 4 scenes
    .venv/bin/python bench/batch.py --preset default --scenes 2 --workers 1 2

Uses only the public API.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from splatsynth.batch import BatchConfig, run_batch
from splatsynth.config import RunConfig
from splatsynth.demo import make_demo_scene

PRESETS = {
    # What the numbers below are measured with: a shrunk fit that still does every stage
    # (fit, leave-one-view-out fit, 32-view orbit, contact sheet, lists).
    "reduced": dict(input_size=256, iterations=300, num_gaussians=10000, orbit_size=256),
    # The product defaults (SPEC section 5): 512 px inputs, 1000 steps, 20k Gaussians.
    "default": dict(input_size=512, iterations=1000, num_gaussians=20000, orbit_size=512),
}


def run_config(p: dict, holdout: bool) -> RunConfig:
    cfg = RunConfig()
    return replace(cfg, fit=replace(cfg.fit, iterations=p["iterations"],
                                    num_gaussians=p["num_gaussians"], progress=False),
                   orbit=replace(cfg.orbit, size=p["orbit_size"]),
                   output=replace(cfg.output, holdout=holdout))


def make_scenes(root: Path, n: int, size: int, views: int) -> list[Path]:
    scenes = []
    for i in range(n):
        s = make_demo_scene(root / f"tmp{i}", size=size, n_views=views, seed=i)
        shutil.rmtree(s / "gt", ignore_errors=True)
        dst = root / f"mouse_{i:03d}"
        s.rename(dst)
        shutil.rmtree(root / f"tmp{i}")
        scenes.append(dst)
    return scenes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", choices=sorted(PRESETS), default="reduced")
    ap.add_argument("--scenes", type=int, default=4)
    ap.add_argument("--views", type=int, default=6, help="input views per scene")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--no-holdout", action="store_true",
                    help="skip the leave-one-view-out fit (halves the fit time; no gate)")
    ap.add_argument("--target", type=int, default=1600, help="scenes to project for")
    ap.add_argument("--keep", type=Path, default=None, help="keep the outputs here")
    a = ap.parse_args()

    p = PRESETS[a.preset]
    cfg = run_config(p, holdout=not a.no_holdout)
    root = Path(tempfile.mkdtemp(prefix="splatsynth-bench-batch-"))
    t = time.perf_counter()
    scenes = make_scenes(root / "scenes", a.scenes, p["input_size"], a.views)
    print(f"made {a.scenes} demo scenes ({a.views} views, {p['input_size']} px) in "
          f"{time.perf_counter() - t:.1f} s")
    print(f"preset {a.preset}: fit.iterations={p['iterations']} fit.num_gaussians="
          f"{p['num_gaussians']} orbit 32 views at {p['orbit_size']} px, holdout="
          f"{not a.no_holdout}; {os.cpu_count()} cores")
    rows = []
    for w in a.workers:
        out = root / f"out_w{w}"
        t0 = time.perf_counter()
        s = run_batch(scenes, out, cfg, BatchConfig(workers=w, progress=False), log=lambda m: None)
        wall = time.perf_counter() - t0
        if s.failed:
            raise SystemExit(f"{s.failed} scene(s) failed: {s.failures}")
        per_scene = [json.loads((out / r["scene_id"] / "report.json").read_text())
                     ["timings"]["total"] for r in s.rows]
        rate = a.scenes / wall * 3600
        rows.append((w, wall, rate, sum(per_scene) / len(per_scene)))
        print(f"workers={w} x {BatchConfig(workers=w).threads_per_scene()} thread(s): "
              f"{a.scenes} scenes in {wall:.1f} s -> {rate:.0f} scenes/hour "
              f"(mean {sum(per_scene) / len(per_scene):.1f} s per scene inside a worker)")
    best = max(rows, key=lambda r: r[2])
    base = next((r for r in rows if r[0] == 1), None)
    if base is not None and best is not base:
        print(f"speed-up {best[0]} workers vs 1: {best[2] / base[2]:.2f}x")
    hours = a.target / best[2]
    print(f"projected: {a.target} scenes with {best[0]} worker(s) on this machine: "
          f"{hours:.1f} h ({hours / 24:.2f} days) at preset {a.preset}")
    if a.keep:
        shutil.copytree(root, a.keep, dirs_exist_ok=True)
        print(f"outputs kept in {a.keep}")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":  # batch workers are spawned and re-import this file
    main()
