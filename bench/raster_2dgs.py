"""2DGS rasterizer benchmark: numba surfel kernels against 3DGS and the plain-torch reference.

On the object-centred scene of ``bench/raster.py`` (N Gaussians in a ball of radius 0.8 seen
from the orbit camera, scales 0.004-0.04), it times per configuration:
  fwd   rasterize_surfels() with gradients enabled
  bwd   backward of a loss over every output (colour L1 + depth distortion + normals + depth)
  3dgs  rasterize() forward + backward of a colour L1 on the same Gaussians (numba)
and prints median ms over repeats and the 2DGS/3DGS ratio; the torch reference runs at the
smaller configurations only (it builds dense [pairs, 256] tensors).

Uses only the public API. Run ``python bench/raster_2dgs.py`` (``--help``); with
``--write-results`` the table replaces the "2DGS rasterizer" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from splatsynth.cameras import look_at_w2c
from splatsynth.render import get_num_threads, rasterize, rasterize_surfels

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
SECTION = "## 2DGS rasterizer"


def make_scene(n: int, size: int, sh_degree: int, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    d = torch.randn(n, 3, generator=g)
    d = d / d.norm(dim=1, keepdim=True)
    means = d * torch.rand(n, 1, generator=g) ** (1 / 3) * 0.8
    scales = torch.exp(torch.empty(n, 3).uniform_(math.log(0.004), math.log(0.04), generator=g))
    f = 548.9937744140625 * size / 512
    w2c = look_at_w2c(np.array([2.5371700761, 0.0, 0.9234543870]), np.zeros(3),
                      np.array([0.0, 0.0, 1.0]))
    return dict(means=means, quats=torch.randn(n, 4, generator=g), scales=scales,
                opacities=torch.empty(n).uniform_(0.05, 0.95, generator=g),
                sh=torch.randn(n, (sh_degree + 1) ** 2, 3, generator=g) * 0.2,
                viewmats=torch.tensor(w2c[None], dtype=torch.float32),
                Ks=torch.tensor([[[f, 0, size / 2], [0, f, size / 2], [0, 0, 1]]]),
                size=size, sh_degree=sh_degree)


def _leaves(s):
    return {k: s[k].clone().requires_grad_(True) for k in ("means", "quats", "scales",
                                                            "opacities", "sh")}


def surfel_step(s, backend):
    p = _leaves(s)
    t0 = time.perf_counter()
    out = rasterize_surfels(p["means"], p["quats"], p["scales"], p["opacities"], p["sh"],
                            s["viewmats"], s["Ks"], s["size"], s["size"],
                            sh_degree=s["sh_degree"], backgrounds=torch.ones(1, 3),
                            backend=backend)
    t1 = time.perf_counter()
    loss = ((out.colors - 0.5).abs().mean() + 0.1 * out.distortion.mean()
            + 0.05 * (out.alphas - out.normals[..., 2:].neg()).mean() + 1e-3 * out.depths.mean()
            + 1e-3 * out.median_depths.mean())
    loss.backward()
    return t1 - t0, time.perf_counter() - t1, out


def gaussian_step(s):
    p = _leaves(s)
    t0 = time.perf_counter()
    out = rasterize(p["means"], p["quats"], p["scales"], p["opacities"], p["sh"], s["viewmats"],
                    s["Ks"], s["size"], s["size"], sh_degree=s["sh_degree"],
                    backgrounds=torch.ones(1, 3), backend="numba")
    (out.colors - 0.5).abs().mean().backward()
    return time.perf_counter() - t0


def median_ms(fn, repeats):
    fn()  # warm-up (compilation / cache load)
    return 1e3 * statistics.median(fn() for _ in range(repeats))


def bench_one(s: dict, args) -> dict:
    fwd = median_ms(lambda: surfel_step(s, "numba")[0], args.repeats)
    bwd = median_ms(lambda: surfel_step(s, "numba")[1], args.repeats)
    g3 = median_ms(lambda: gaussian_step(s), args.repeats)
    ref = None
    if s["size"] <= args.ref_max:
        ref = median_ms(lambda: sum(surfel_step(s, "torch")[:2]), 2)
    vis = int((surfel_step(s, "numba")[2].radii > 0).sum())
    return dict(n=s["means"].shape[0], size=s["size"], vis=vis, fwd=fwd, bwd=bwd, g3=g3, ref=ref)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--configs", nargs="+", default=["2000x128", "20000x256", "20000x512"],
                    help="NxSIZE pairs")
    ap.add_argument("--ref-max", type=int, default=256, help="largest size run on torch")
    ap.add_argument("--sh-degree", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--write-results", action="store_true")
    args = ap.parse_args()
    rows = []
    for cfg in args.configs:
        n, size = (int(v) for v in cfg.split("x"))
        row = bench_one(make_scene(n, size, args.sh_degree), args)
        rows.append(row)
        fwd, bwd, g3, ref, vis = row["fwd"], row["bwd"], row["g3"], row["ref"], row["vis"]
        print(f"N={n:6d} {size:4d}px visible={vis:6d}  2dgs fwd {fwd:7.1f} ms  bwd {bwd:7.1f} ms"
              f"  fwd+bwd {fwd + bwd:7.1f} ms | 3dgs fwd+bwd {g3:7.1f} ms "
              f"(2dgs/3dgs {(fwd + bwd) / g3:4.2f}x)"
              + (f" | torch ref {ref:8.1f} ms ({ref / (fwd + bwd):5.1f}x slower)" if ref else ""),
              flush=True)
    if args.write_results:
        write_results(rows, args)


def write_results(rows, args) -> None:
    lines = [SECTION, "",
             f"`.venv/bin/python bench/raster_2dgs.py` ({platform.machine()}, "
             f"{get_num_threads()} kernel threads, SH degree {args.sh_degree}, median of "
             f"{args.repeats}; shared 2-core VM, so a floor). 2DGS = rasterize_surfels with every "
             "output in the loss; 3DGS = rasterize forward+backward of a colour loss on the same "
             "Gaussians.", "",
             "| N | size | visible | 2DGS fwd ms | 2DGS bwd ms | 2DGS fwd+bwd | 3DGS fwd+bwd | "
             "2DGS/3DGS | torch ref fwd+bwd |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ref = f"{r['ref']:.0f} ms ({r['ref'] / (r['fwd'] + r['bwd']):.0f}x)" if r["ref"] else "-"
        lines.append(f"| {r['n']} | {r['size']} | {r['vis']} | {r['fwd']:.1f} | {r['bwd']:.1f} "
                     f"| {r['fwd'] + r['bwd']:.1f} | {r['g3']:.1f} | "
                     f"{(r['fwd'] + r['bwd']) / r['g3']:.2f}x | {ref} |")
    section = "\n".join(lines) + "\n"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    start = text.find(SECTION)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + section + ("" if end < 0 else text[end + 1:])
    RESULTS.write_text(text)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
