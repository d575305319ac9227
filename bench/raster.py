"""Rasterizer benchmark: numba CPU kernels against the plain-torch reference, same run.

For each image size and Gaussian count it times, on an object-centred scene (footprints of a
few to ~30 px at 512x512):
  forward    rasterize() with gradients enabled (what a training step runs)
  backward   loss.backward() through that forward
  iteration  activations + rasterize + L1 + backward + Adam step (a full training step)
and prints min / median ms over repeats, Gaussian-pixel throughput, the reference's time over
ours, and the peak memory the configuration added (RSS high-water mark). Every configuration
and backend runs in its own process, so one's freed memory cannot hide the next one's peak.

Gaussian-pixel pairs are counted independently of the implementation: the pixels inside each
Gaussian's alpha >= 1/255 ellipse (area pi * ext^2 * sqrt(det cov2d)) summed over Gaussians.

Uses only the public API. Run: ``python bench/raster.py`` (``--help`` for options); with
``--write-results`` the table also replaces the "Rasterizer" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from splatsynth.cameras import look_at_w2c
from splatsynth.losses import fused_l1
from splatsynth.render import get_num_threads, rasterize

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
SECTION = "## Rasterizer"


def make_scene(n: int, size: int, sh_degree: int, seed: int = 0) -> dict:
    """N Gaussians in a ball of radius 0.8 seen from 2.7 units (the 32-view orbit's camera)."""
    g = torch.Generator().manual_seed(seed)
    d = torch.randn(n, 3, generator=g)
    d = d / d.norm(dim=1, keepdim=True)
    means = d * torch.rand(n, 1, generator=g) ** (1 / 3) * 0.8
    log_scales = torch.empty(n, 3).uniform_(math.log(0.004), math.log(0.04), generator=g)
    opacity_logits = torch.logit(torch.empty(n).uniform_(0.05, 0.95, generator=g))
    sh = torch.randn(n, (sh_degree + 1) ** 2, 3, generator=g) * 0.2
    f = 548.9937744140625 * size / 512
    w2c = look_at_w2c(np.array([2.5371700761, 0.0, 0.9234543870]), np.zeros(3),
                      np.array([0.0, 0.0, 1.0]))
    return dict(
        params=dict(means=means, quats=torch.randn(n, 4, generator=g), log_scales=log_scales,
                    opacity_logits=opacity_logits, sh=sh),
        viewmats=torch.tensor(w2c[None], dtype=torch.float32),
        Ks=torch.tensor([[[f, 0, size / 2], [0, f, size / 2], [0, 0, 1]]], dtype=torch.float32),
        target=torch.rand(1, size, size, 3, generator=g),
        size=size,
        sh_degree=sh_degree,
    )


def render(scene: dict, p: dict, backend: str):
    s = scene["size"]
    return rasterize(p["means"], p["quats"], torch.exp(p["log_scales"]),
                     torch.sigmoid(p["opacity_logits"]), p["sh"], scene["viewmats"],
                     scene["Ks"], s, s, sh_degree=scene["sh_degree"],
                     backgrounds=torch.ones(1, 3), backend=backend)


def gaussian_pixel_pairs(scene: dict) -> tuple[float, int, float]:
    """(pairs inside the 1/255 ellipses, visible Gaussians, mean screen radius in px)."""
    with torch.no_grad():
        p = scene["params"]
        out = render(scene, p, "numba")
        from splatsynth.render.reference import project_gaussians

        s = scene["size"]
        op = torch.sigmoid(p["opacity_logits"])
        pr = project_gaussians(p["means"], p["quats"], torch.exp(p["log_scales"]), op,
                               p["sh"], scene["viewmats"], scene["Ks"], s, s,
                               sh_degree=scene["sh_degree"])
        vis = (pr.radii > 0).any(-1)[0]
        a, b, c = pr.conics[0, vis].double().unbind(-1)
        det_cov = 1.0 / (a * c - b * b)
        ext2 = 2 * torch.log(255 * op[vis].double())
        pairs = float((math.pi * ext2 * det_cov.sqrt()).sum())
        return pairs, int(vis.sum()), float(out.radii[0, vis].float().mean())


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> int:
    """Reset the RSS high-water mark (Linux) and return the current RSS in kB."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    return _rss_kb("VmRSS")


def _timed(fn, repeats: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1e3)
    return out


def _adam(params) -> torch.optim.Optimizer:
    try:  # torch's fused CPU Adam: ~9x faster than the default loop over tensors
        return torch.optim.Adam(params, lr=1e-4, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=1e-4)


def bench_backend(scene: dict, backend: str, repeats: int, warmup: int,
                  torch_threads: int) -> dict:
    """Times of forward, backward and a full iteration; peak extra memory in MB."""
    prev = torch.get_num_threads()
    torch.set_num_threads(torch_threads)
    try:
        base = _reset_peak()
        params = {k: v.clone().requires_grad_(True) for k, v in scene["params"].items()}
        opt = _adam(params.values())

        def forward():
            return render(scene, params, backend)

        def loss_of(out):
            return fused_l1(out.colors, scene["target"])

        fwd = _timed(forward, repeats, warmup)
        bwd = []
        for _ in range(warmup + repeats):
            loss = loss_of(forward())
            t = time.perf_counter()
            loss.backward()
            bwd.append((time.perf_counter() - t) * 1e3)
            for p in params.values():
                p.grad = None
        bwd = bwd[warmup:]

        def iteration():
            opt.zero_grad(set_to_none=True)
            loss_of(forward()).backward()
            opt.step()

        it = _timed(iteration, repeats, warmup)
        peak_mb = (_rss_kb("VmHWM") - base) / 1024
    finally:
        torch.set_num_threads(prev)
    return dict(forward=fwd, backward=bwd, iteration=it, peak_mb=peak_mb)


def _one(args) -> None:
    """Child process: time one (size, N, backend) and print its result as JSON."""
    size, n, backend = args.one
    size, n = int(size), int(n)
    # load the kernels (compiled code) and torch's fused Adam (~70 MB on its first step) on a
    # tiny scene first, so the peak counts this configuration's work only
    tiny = make_scene(64, 32, args.sh_degree)
    p = {k: v.clone().requires_grad_(True) for k, v in tiny["params"].items()}
    render(tiny, p, backend).colors.sum().backward()
    _adam(p.values()).step()
    scene = make_scene(n, size, args.sh_degree)
    res = dict(size=size, n=n, backend=backend)
    if backend == "numba":
        res["pairs"], res["visible"], res["mean_r"] = gaussian_pixel_pairs(scene)
        res.update(bench_backend(scene, "numba", args.repeats, 3, torch_threads=1))
    else:
        res.update(bench_backend(scene, "torch", args.ref_repeats, 1,
                                 torch_threads=torch.get_num_threads()))
    print("RESULT " + json.dumps(res))


def _spawn(size: int, n: int, backend: str, args) -> dict:
    cmd = [sys.executable, __file__, "--one", str(size), str(n), backend,
           "--sh-degree", str(args.sh_degree), "--repeats", str(args.repeats),
           "--ref-repeats", str(args.ref_repeats)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--counts", type=int, nargs="+", default=[20000, 50000])
    ap.add_argument("--sh-degree", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=20, help="timed repeats (numba)")
    ap.add_argument("--ref-repeats", type=int, default=3, help="timed repeats (reference)")
    ap.add_argument("--no-reference", action="store_true", help="skip the torch reference")
    ap.add_argument("--write-results", action="store_true",
                    help="replace the Rasterizer section of bench/RESULTS.md")
    ap.add_argument("--one", nargs=3, metavar=("SIZE", "N", "BACKEND"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        _one(args)
        return

    cores = len(os.sched_getaffinity(0))
    torch_default = torch.get_num_threads()
    print(f"splatsynth rasterizer benchmark  {datetime.date.today()}  {platform.processor() or ''}"
          f"  cores={cores}  numba kernel threads={get_num_threads()}  "
          f"torch threads: numba path 1, reference {torch_default}  sh_degree={args.sh_degree}"
          f"  load average {os.getloadavg()[0]:.1f}")
    header = (f"{'size':>7} {'N':>6} {'stage':>9} {'numba min':>10} {'med':>8} "
              f"{'Gpx/s':>6} {'torch min':>10} {'med':>9} {'ratio':>6} {'MB numba':>9} "
              f"{'MB torch':>9}")
    print(header, flush=True)
    rows = []
    for size in args.sizes:
        for n in args.counts:
            fast = _spawn(size, n, "numba", args)
            ref = None if args.no_reference else _spawn(size, n, "torch", args)
            pairs = fast["pairs"]
            for stage in ("forward", "backward", "iteration"):
                f_min, f_med = min(fast[stage]), statistics.median(fast[stage])
                r_min = r_med = ratio = float("nan")
                if ref is not None:
                    r_min, r_med = min(ref[stage]), statistics.median(ref[stage])
                    ratio = r_med / f_med
                gpx = pairs / (f_min * 1e-3) / 1e9
                row = dict(size=f"{size}x{size}", n=n, stage=stage, f_min=f_min, f_med=f_med,
                           gpx=gpx, r_min=r_min, r_med=r_med, ratio=ratio,
                           mb=fast["peak_mb"],
                           rmb=ref["peak_mb"] if ref else float("nan"))
                rows.append(row)
                print(f"{row['size']:>7} {n:>6} {stage:>9} {f_min:10.1f} {f_med:8.1f} "
                      f"{gpx:6.2f} {r_min:10.1f} {r_med:9.1f} {ratio:6.1f} {row['mb']:9.0f} "
                      f"{row['rmb']:9.0f}", flush=True)
            print(f"{'':>15} visible {fast['visible']}, mean radius {fast['mean_r']:.1f} px, "
                  f"{pairs / 1e6:.1f} M Gaussian-pixel pairs", flush=True)
    if args.write_results:
        write_results(rows, args, cores, torch_default)


def write_results(rows: list[dict], args, cores: int, torch_default: int) -> None:
    """Replace (or append) the Rasterizer section of bench/RESULTS.md, atomically."""
    lines = [
        SECTION,
        "",
        f"`python bench/raster.py` on {datetime.date.today()}: {cores} cores, numba kernel "
        f"threads {get_num_threads()}, torch threads 1 around the numba path and "
        f"{torch_default} for the reference; SH degree {args.sh_degree}; load average "
        f"{os.getloadavg()[0]:.1f} at the end (the machine is shared); object-centred scene "
        "(Gaussians in a ball of radius 0.8 at 2.7 units, the 32-view orbit's camera). "
        "ms = min / median over repeats; Gpx/s = Gaussian-pixel pairs inside the 1/255 "
        "ellipses per second (numba min); ratio = reference median / numba median; MB = peak "
        "RSS added by the configuration (each in its own process).",
        "",
        "| size | N | stage | numba ms (min / med) | Gpx/s | torch ms (min / med) | ratio "
        "| MB numba | MB torch |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['size']} | {r['n']} | {r['stage']} | {r['f_min']:.1f} / {r['f_med']:.1f} | "
            f"{r['gpx']:.2f} | {r['r_min']:.0f} / {r['r_med']:.0f} | {r['ratio']:.0f}x | "
            f"{r['mb']:.0f} | {r['rmb']:.0f} |"
        )
    section = "\n".join(lines) + "\n"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
    start = text.find(SECTION + "\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + section + (text[end + 1:] if end >= 0 else "")
    fd, tmp = tempfile.mkstemp(dir=RESULTS.parent, prefix=".RESULTS.", suffix=".md")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, RESULTS)
    print(f"wrote the {SECTION[3:]} section of {RESULTS}")


if __name__ == "__main__":
    main()
