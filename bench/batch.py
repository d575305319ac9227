"""Batch throughput: seconds per scene, scenes per hour and the projected time for 1,600
scenes on this machine, with the machine's speed measured in the same run.

The scenes are ingested from the demo recording (the toy mouse filmed by the real DANNCE rig's
six cameras, `splatsynth demo --recording` makes the same one): every ``--every``-th frame of
the 60 becomes a 512 px scene folder, as ``splatsynth ingest`` writes it. ``--source demo``
uses demo rigs instead (six jittered ring cameras, one rig seed per scene).

Each batch runs ``run_batch`` in a fresh process into a fresh OUT, at the product defaults
(``RunConfig()``: 1000 steps, 20k Gaussians, 32-view orbit at 512 px, no leave-one-out fit;
``--holdout`` adds it). A shared machine's speed changes from minute to minute, so compare
code versions as A/B pairs: ``--trees A B`` runs the same batch with each source tree in turn,
``--rounds`` times, alternating, and prints the ratio of the medians. The rasterizer
benchmark's iteration (bench/raster.py's 512 px / 20k-Gaussian case) is timed before and after,
and the load average is printed with every batch.

    python bench/batch.py --preset default --scenes 6               # this checkout
    python bench/batch.py --preset default --trees ../main/src src --rounds 2
    python bench/batch.py --preset reduced --source demo --workers 1 2

A batch's wall time includes starting its workers (importing torch, loading the compiled
kernels from the cache: a few seconds, once per worker); the "steady" rate leaves that out,
as a 1,600-scene batch pays it once.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent

PRESETS = {
    # the product defaults
    "default": dict(iterations=None, num_gaussians=None, orbit_size=None),
    # a shrunk fit that still does every stage, for quick comparisons
    "reduced": dict(iterations=300, num_gaussians=10000, orbit_size=256),
}


def run_config(preset: str, holdout: bool):
    from splatsynth.config import RunConfig

    p = PRESETS[preset]
    cfg = RunConfig()
    fit = replace(cfg.fit, progress=False)
    if p["iterations"]:
        fit = replace(fit, iterations=p["iterations"], num_gaussians=p["num_gaussians"])
    orbit = replace(cfg.orbit, size=p["orbit_size"]) if p["orbit_size"] else cfg.orbit
    return replace(cfg, fit=fit, orbit=orbit, output=replace(cfg.output, holdout=holdout))


# --- scenes --------------------------------------------------------------------------------


def recording_scenes(work: Path, n: int, every: int) -> list[Path]:
    """``n`` scene folders ingested from the demo recording (made once under ``work``)."""
    from splatsynth.demo.recording import make_demo_recording
    from splatsynth.fileio import read_list_file
    from splatsynth.ingest import IngestConfig, ingest

    rec = make_demo_recording(work / "recording", size=(576, 512), frames=60)
    summary = ingest("markerless", rec, work / "scenes", IngestConfig(
        every=every, masks="videos", progress=False, workers=1))
    scenes = read_list_file(summary.scenes_list, what="scene list")
    if len(scenes) < n:
        raise SystemExit(f"ingest gave {len(scenes)} scenes, asked for {n}: {summary}")
    return scenes[:n]


def demo_scenes(work: Path, n: int, views: int) -> list[Path]:
    """``n`` demo scenes (six ring cameras, a different rig seed each, no ground truth)."""
    from splatsynth.demo import make_demo_scene

    scenes = []
    for i in range(n):
        dst = work / "demo_scenes" / f"mouse_{i:03d}"
        if not (dst / "cameras.json").is_file():
            s = make_demo_scene(work / f"tmp{i}", size=512, n_views=views, seed=i)
            shutil.rmtree(s / "gt", ignore_errors=True)
            dst.parent.mkdir(parents=True, exist_ok=True)
            s.rename(dst)
            shutil.rmtree(work / f"tmp{i}")
        scenes.append(dst)
    return scenes


# --- one batch, in its own process -----------------------------------------------------------


def run_one(scenes_file: Path, out: Path, workers: int, preset: str, holdout: bool) -> dict:
    """Run the batch (in this process: the driver) and return its numbers as a dict."""
    import splatsynth
    from splatsynth.batch import BatchConfig, run_batch
    from splatsynth.fileio import read_list_file

    scenes = read_list_file(scenes_file)
    cfg = run_config(preset, holdout)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    s = run_batch(scenes, out, cfg, BatchConfig(workers=workers, progress=False),
                  log=lambda m: None)
    wall = time.perf_counter() - t0
    if s.failed:
        raise SystemExit(f"{s.failed} scene(s) failed: {s.failures}")
    reports = [json.loads((out / r["scene_id"] / "report.json").read_text()) for r in s.rows]
    totals = [r["timings"]["total"] for r in reports]
    fits = [r["timings"]["fit"] for r in reports]
    return {"tree": str(Path(splatsynth.__file__).parents[1]), "workers": workers,
            "threads": BatchConfig(workers=workers).threads_per_scene(), "scenes": len(scenes),
            "wall": wall, "scene_totals": totals, "fits": fits,
            "load": [load0, os.getloadavg()[0]]}


def run_in_process(tree: Path, scenes_file: Path, out: Path, workers: int, preset: str,
                   holdout: bool, env_extra: dict | None = None) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), **(env_extra or {})}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_one", str(scenes_file), str(out),
           str(workers), "--preset", preset] + (["--holdout"] if holdout else [])
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"batch with {tree} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def machine_speed() -> tuple[float, float]:
    """bench/raster.py's 512 px / 20k-Gaussian training iteration: (min, median) ms."""
    sys.path.insert(0, str(HERE))
    from raster import bench_backend, make_scene

    it = bench_backend(make_scene(20000, 512, 3), "numba", repeats=15, warmup=3,
                       torch_threads=1)["iteration"]
    return min(it), statistics.median(it)


#: bench/raster.py's 512 px / 20k-Gaussian iteration on the idle machine, median ms
#: (bench/RESULTS.md, Rasterizer), for scaling a loaded run's times to an idle machine.
IDLE_PROBE_MS = 37.7


def describe(r: dict, target: int) -> str:
    n, wall, w = r["scenes"], r["wall"], r["workers"]
    per_scene = statistics.mean(r["scene_totals"])
    fit = statistics.mean(r["fits"])
    steady = sum(r["scene_totals"]) / w  # the workers' busy time, startup left out
    scale = IDLE_PROBE_MS / r["probe"][1]
    return (f"{r['tree']}: {w} x {r['threads']} thread(s), {n} scenes in {wall:.1f} s = "
            f"{wall / n:.1f} s/scene, {3600 * n / wall:.0f} scenes/h (steady "
            f"{3600 * n / steady:.0f}/h; inside a worker {per_scene:.1f} s per scene: fit "
            f"{fit:.1f} s + the rest {per_scene - fit:.1f} s); {target} scenes: "
            f"{target * wall / n / 3600:.1f} h; probe just before {r['probe'][0]:.1f} / "
            f"{r['probe'][1]:.1f} ms, scaled to the idle probe {wall / n * scale:.1f} s/scene = "
            f"{3600 * n / wall / scale:.0f} scenes/h; load average {r['load'][0]:.1f} -> "
            f"{r['load'][1]:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", choices=sorted(PRESETS), default="default")
    ap.add_argument("--scenes", type=int, default=6)
    ap.add_argument("--source", choices=["recording", "demo"], default="recording")
    ap.add_argument("--every", type=int, default=10, help="recording frames between scenes")
    ap.add_argument("--views", type=int, default=6, help="cameras of the demo rigs")
    ap.add_argument("--workers", type=int, nargs="+", default=[1])
    ap.add_argument("--trees", type=Path, nargs="+", default=[HERE.parent / "src"],
                    help="source trees (PYTHONPATH) to compare, alternating")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--holdout", action="store_true", help="also the leave-one-out fit")
    ap.add_argument("--target", type=int, default=1600, help="scenes to project for")
    ap.add_argument("--workdir", type=Path, default=None,
                    help="keep the recording and scenes here (reused by later runs)")
    ap.add_argument("--cold-vs-warm", action="store_true",
                    help="instead: a one-scene batch with an empty kernel cache, then again "
                         "with the cache it filled (what a worker pays without warmup)")
    ap.add_argument("--_one", nargs=3, help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a._one:
        res = run_one(Path(a._one[0]), Path(a._one[1]), int(a._one[2]), a.preset, a.holdout)
        print(json.dumps(res))
        return

    work = a.workdir or Path(tempfile.mkdtemp(prefix="splatsynth-bench-batch-"))
    work.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    if a.source == "recording":
        scenes = recording_scenes(work, a.scenes, a.every)
        what = f"frames 0, {a.every}, ... of the demo recording (real DANNCE rig, 6 cameras)"
    else:
        scenes = demo_scenes(work, a.scenes, a.views)
        what = f"demo rigs ({a.views} ring cameras, seeds 0..{a.scenes - 1})"
    scenes_file = work / "bench_scenes.txt"
    scenes_file.write_text("".join(f"{s}\n" for s in scenes))
    print(f"{len(scenes)} scenes: {what}, ready in {time.perf_counter() - t:.1f} s")
    print(f"preset {a.preset}, holdout {a.holdout}; {os.cpu_count()} cores; load average "
          f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())} (1 / 5 / 15 min)")
    if a.cold_vs_warm:
        one = work / "bench_one_scene.txt"
        one.write_text(f"{scenes[0]}\n")
        with tempfile.TemporaryDirectory(prefix="splatsynth-numba-") as cache:
            for label in ("cold kernel cache", "warm kernel cache"):
                r = run_in_process(a.trees[0].resolve(), one, work / "out_cold", 1, a.preset,
                                   a.holdout, {"NUMBA_CACHE_DIR": cache})
                shutil.rmtree(work / "out_cold", ignore_errors=True)
                print(f"{label}: one-scene batch {r['wall']:.1f} s, the scene "
                      f"{r['scene_totals'][0]:.1f} s inside the worker (fit {r['fits'][0]:.1f} s); "
                      f"load average {r['load'][0]:.1f}", flush=True)
        return
    speed = [machine_speed()]
    print(f"machine speed before: rasterizer iteration {speed[0][0]:.1f} / {speed[0][1]:.1f} ms "
          "min / median (bench/raster.py, 512 px, 20k Gaussians)", flush=True)
    results: dict[tuple[str, int], list[dict]] = {}
    k = 0
    for rnd in range(a.rounds):
        for w in a.workers:
            order = a.trees if rnd % 2 == 0 else list(reversed(a.trees))
            for tree in order:
                out = work / f"out_{k}"
                k += 1
                probe = machine_speed()
                r = run_in_process(tree.resolve(), scenes_file, out, w, a.preset, a.holdout)
                r["probe"] = probe
                shutil.rmtree(out, ignore_errors=True)
                results.setdefault((str(tree), w), []).append(r)
                print(f"round {rnd + 1}: {describe(r, a.target)}", flush=True)
    speed.append(machine_speed())
    print(f"machine speed after: rasterizer iteration {speed[1][0]:.1f} / {speed[1][1]:.1f} ms "
          "min / median")
    print()
    print("| tree | workers x threads | runs | s / scene (median wall) | scenes / hour | "
          f"hours for {a.target} | fit s / scene | the rest s / scene | s / scene scaled to "
          "the idle probe |")
    print("|---|---|---|---|---|---|---|---|---|")
    med = {}
    for (tree, w), rs in results.items():
        per = statistics.median(r["wall"] / r["scenes"] for r in rs)
        fit = statistics.median(statistics.mean(r["fits"]) for r in rs)
        rest = statistics.median(statistics.mean(r["scene_totals"]) - statistics.mean(r["fits"])
                                 for r in rs)
        scaled = statistics.median(r["wall"] / r["scenes"] * IDLE_PROBE_MS / r["probe"][1]
                                   for r in rs)
        med[(tree, w)] = per
        print(f"| {tree} | {w} x {rs[0]['threads']} | {len(rs)} | {per:.1f} | {3600 / per:.0f} | "
              f"{a.target * per / 3600:.1f} | {fit:.1f} | {rest:.1f} | {scaled:.1f} |")
    if len(a.trees) == 2:
        for w in a.workers:
            x, y = (med[(str(t), w)] for t in a.trees)
            print(f"{w} worker(s): {a.trees[1]} takes {y / x:.2f}x the time of {a.trees[0]}")
    if not a.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":  # batch workers are spawned and re-import this file
    main()
