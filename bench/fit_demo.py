"""Fit quality and time on the built-in demo scene, with an ablation and a vanilla baseline.

Scores every fit on the demo's 32 ground-truth orbit views (never used for training): masked
PSNR over the union of the reference and rendered silhouettes, SSIM and silhouette IoU.

A second table asks how much of the remaining error is the six cameras' doing: the six-camera fit
with twice the steps or twice the Gaussians, the same default fit from denser demo rigs (more
cameras on the same ring, same budget), and an oracle that also trains on the 32 scored views
themselves (what the 20k-Gaussian, 1000-step budget can hold when every scored view is seen; a
ceiling, not a result).

    python bench/fit_demo.py                      # 512 x 512, default settings + ablations
    python bench/fit_demo.py --size 256 --variants default vanilla --iterations 500
    python bench/fit_demo.py --variants default --seeds 1 --rigs 9 12   # the ceiling table only
    python bench/fit_demo.py --variants default --seeds 1 --rigs --no-oracle --no-budgets  # quick
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from splatsynth.config import RunConfig
from splatsynth.demo import make_demo_scene
from splatsynth.fit import fit_scene
from splatsynth.pipeline import (
    GT_ORBIT_DIR,
    Prepared,
    evaluate,
    load_ground_truth,
    prepare,
    reconstruct,
    render_ground_truth,
    score_renders,
)
from splatsynth.scene_io.scene import View

# Each variant changes the default fit in one way; "vanilla" is plain 3DGS as in the paper:
# random init, no mask loss, a fixed background, clone/split/prune, no regularizers, no priors,
# full resolution throughout.
VARIANTS = {
    "default": {},
    "random init": {"init": "random"},
    "no mask loss": {"mask_weight": 0.0},
    "fixed background": {"random_background": False},
    "no solid prior": {"solid_weight": 0.0},
    "no clear prior": {"clear_weight": 0.0},
    "no curvature prior": {"curvature_weight": 0.0},
    "no needle regularizer": {"needle_reg": 0.0},
    "classic strategy": {"strategy": "classic", "opacity_reg": 0.0, "scale_reg": 0.0},
    "vanilla": {"init": "random", "mask_weight": 0.0, "random_background": False,
                "strategy": "classic", "opacity_reg": 0.0, "scale_reg": 0.0,
                "solid_weight": 0.0, "clear_weight": 0.0, "curvature_weight": 0.0,
                "needle_reg": 0.0, "coarse_fraction": 0.0},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--iterations", type=int, default=None)
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS))
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--seeds", type=int, default=3,
                    help="also fit the default with seeds 1..N-1 and report the spread")
    ap.add_argument("--rigs", type=int, nargs="*", default=[9, 12],
                    help="camera counts of the denser demo rigs in the ceiling table (none: skip)")
    ap.add_argument("--no-budgets", action="store_true",
                    help="skip the six-camera fits with twice the steps or twice the Gaussians")
    ap.add_argument("--no-oracle", action="store_true",
                    help="skip the oracle that also trains on the scored views")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="extra fit settings for every variant, e.g. opacity_reg=0.05")
    args = ap.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="splatsynth-bench-"))
    run = RunConfig()
    prep = _demo(work, args.size, 6, run)

    extra = {}
    for kv in args.set:
        k, v = kv.split("=", 1)
        extra[k] = type(getattr(run.fit, k))(eval(v))  # noqa: S307 - the benchmark's own flags
    base = replace(run.fit, progress=False, **extra)
    if args.iterations:
        base = replace(base, iterations=args.iterations)

    # A process's first fit also loads the cached kernels; time fits, not that.
    t = time.perf_counter()
    fit_scene(prep.canonical, replace(base, iterations=5))
    print(f"warm-up (loads the compiled kernels once per process): "
          f"{time.perf_counter() - t:.1f} s")
    print(_machine_speed())
    print(f"demo scene {args.size}x{args.size}, {len(prep.scene.views)} views; "
          f"{base.iterations} iterations, {base.num_gaussians} Gaussians; scored on "
          f"32 ground-truth orbit views")
    print("| variant | masked PSNR | PSNR | SSIM | IoU | masked PSNR over black | "
          "train masked PSNR | fit s |")
    print("|---|---|---|---|---|---|---|---|")
    rows = {}
    for name in args.variants:
        cfg = replace(base, **VARIANTS[name])
        recon, ev, fit_s = _fit_and_score(prep, replace(run, fit=cfg))
        s = ev.metrics.ground_truth.mean
        rows[name] = s
        if name == "default":
            anatomy = _error_anatomy(ev.gt_renders, ev.ground_truth, cfg.background)
        # Over black as well: a fit that bleached its edges towards the white training
        # background looks fine over white and shows a halo here.
        black = (0.0, 0.0, 0.0)
        sb = score_renders(render_ground_truth(recon.fit.gaussians, prep.similarity,
                                               ev.ground_truth, background=black,
                                               method=cfg.method),
                           ev.ground_truth, black).mean
        print(f"| {name} | {s.psnr_masked:.2f} | {s.psnr:.2f} | {s.ssim:.3f} | "
              f"{s.iou:.3f} | {sb.psnr_masked:.2f} | "
              f"{ev.metrics.train_mean.psnr_masked:.2f} | {fit_s:.1f} |", flush=True)
    if "default" in rows and "vanilla" in rows:
        gain = rows["default"].psnr_masked - rows["vanilla"].psnr_masked
        print(f"default vs vanilla: {gain:+.2f} dB masked PSNR")
    if "default" in rows:
        print(anatomy)
    if "default" in rows and (args.rigs or not args.no_oracle or not args.no_budgets):
        _ceiling(rows["default"], work, args, base, run, prep)
    if "default" in rows and args.seeds > 1:
        scores = [rows["default"].psnr_masked]
        for seed in range(1, args.seeds):
            ev = _fit_and_score(prep, replace(run, fit=replace(base, seed=seed)))[1]
            scores.append(ev.metrics.ground_truth.mean.psnr_masked)
        print(f"default over seeds 0..{args.seeds - 1}: masked PSNR mean {np.mean(scores):.2f} "
              f"(min {min(scores):.2f}, max {max(scores):.2f})")
    print("mean over variants (sanity):",
          f"{np.mean([r.psnr_masked for r in rows.values()]):.2f} dB")


def _machine_speed() -> str:
    """This hour's speed of the machine, for reading the fit times: the rasterizer benchmark's
    512 px / 20k-Gaussian iteration (bench/raster.py's configuration), timed here."""
    from raster import bench_backend, make_scene  # bench/ is this script's own folder

    it = bench_backend(make_scene(20000, 512, 3), "numba", repeats=15, warmup=3,
                       torch_threads=1)["iteration"]
    return (f"machine speed now: rasterizer iteration at 512 px / 20k Gaussians "
            f"{min(it):.1f} / {float(np.median(it)):.1f} ms min / median "
            "(bench/RESULTS.md's rasterizer table: 31.2 / 37.7 ms)")


def _fit_and_score(prep: Prepared, run: RunConfig):
    """The pipeline's reconstruct and evaluate stages on a prepared demo scene: (the
    reconstruction, its evaluation against the 32 ground-truth views, fit seconds)."""
    t = time.perf_counter()
    recon = reconstruct(prep, run)
    fit_s = time.perf_counter() - t
    return recon, evaluate(prep, recon, run), fit_s


def _error_anatomy(renders, gt, background) -> str:
    """Where the squared error of the masked score sits, pooled over the views, as a table:
    each class of union pixels, its share, and the pooled PSNR were that class perfect."""
    classes = {"inside both silhouettes (truth and render opaque, >= 0.99)": 0.0,
               "the truth's anti-aliased edge pixels": 0.0,
               "inside the truth, render not opaque (< 0.99)": 0.0,
               "outside the truth, render not clear": 0.0}
    total, count = 0.0, 0
    bg = np.asarray(background, np.float32)
    for k in range(len(gt.cameras)):
        m, a = gt.mask[k], renders.alpha[k]
        target = gt.rgb[k] * m[..., None] + bg * (1 - m[..., None])
        err = ((renders.rgb[k] - target) ** 2).mean(-1)
        union = (m > 0.5) | (a > 0.5)
        parts = [union & (m >= 0.99) & (a >= 0.99), union & (m > 0.01) & (m < 0.99),
                 union & (m >= 0.99) & (a < 0.99), union & (m <= 0.01)]
        for key, sel in zip(classes, parts):
            classes[key] += float(err[sel].sum())
        total += float(err[union].sum())
        count += int(union.sum())
    lines = ["", f"where the default's error sits (pooled over the {len(gt.cameras)} views: "
             f"{-10 * np.log10(total / count):.2f} dB)",
             "| union pixels | share of squared error | pooled PSNR were they perfect |",
             "|---|---|---|"]
    for key, se in classes.items():
        lines.append(f"| {key} | {se / total:.0%} | "
                     f"{-10 * np.log10(max(total - se, 1e-12) / count):.2f} |")
    return "\n".join(lines)


def _demo(work: Path, size: int, n_views: int, run: RunConfig) -> Prepared:
    """The demo scene with an ``n_views`` rig, through the pipeline's prepare stage."""
    root = work / (f"demo{size}" if n_views == 6 else f"demo{size}_{n_views}cams")
    scene_dir = root / "toy_mouse"
    if not (scene_dir / "cameras.json").is_file():
        scene_dir = make_demo_scene(root, size=size, n_views=n_views)
    return prepare(scene_dir, run)


def _ceiling(default, work: Path, args, base, run: RunConfig, prep: Prepared) -> None:
    """Where the six cameras leave the default fit: denser rigs and the oracle, same budget."""
    print()
    print("| input views (same default fit and budget) | masked PSNR | PSNR | SSIM | IoU | "
          "fit s |")
    print("|---|---|---|---|---|---|")
    print(f"| 6 cameras (the demo rig) | {default.psnr_masked:.2f} | {default.psnr:.2f} | "
          f"{default.ssim:.3f} | {default.iou:.3f} | - |")
    fits = []
    if not args.no_budgets:
        fits.append((f"6 cameras, {2 * base.iterations} iterations", prep,
                     replace(base, iterations=2 * base.iterations)))
        fits.append((f"6 cameras, {2 * base.num_gaussians} Gaussians", prep,
                     replace(base, num_gaussians=2 * base.num_gaussians)))
    for n in args.rigs:
        fits.append((f"{n} cameras on the same ring", _demo(work, args.size, n, run), base))
    if not args.no_oracle:
        # the scored views join the inputs, in the canonical frame
        gt, sim = load_ground_truth(prep.path / GT_ORBIT_DIR), prep.similarity
        views = list(prep.canonical.views) + [
            View(sim.camera_to_canonical(c), gt.rgb[k], gt.mask[k], None)
            for k, c in enumerate(gt.cameras)]
        oracle = replace(prep, canonical=replace(prep.canonical, views=views,
                                                 keypoint_names=None))
        fits.append(("oracle: the 6 inputs + the 32 scored views", oracle, base))
    for name, p, cfg in fits:
        _, ev, fit_s = _fit_and_score(p, replace(run, fit=cfg))
        s = ev.metrics.ground_truth.mean
        print(f"| {name} | {s.psnr_masked:.2f} | {s.psnr:.2f} | {s.ssim:.3f} | "
              f"{s.iou:.3f} | {fit_s:.1f} |", flush=True)
    print()


if __name__ == "__main__":
    main()
