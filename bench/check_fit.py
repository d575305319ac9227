"""The post-fit check's numbers on good and broken fits: where its default limits come from.

Fits the demo scene (and copies of it broken the way real data breaks) with good settings and
with settings that wreck the fit, and prints, per fit, what ``splatsynth.pipeline.check_fit``
measures: non-finite Gaussians, the median distance of the Gaussians from the subject's centre
and the share beyond 3 subject radii, the exploded share, and the training views' masked PSNR
and silhouette IoU (mean and worst view), with the default check's verdict. The check's floors
belong well between the good and the broken fits.

    python bench/check_fit.py                     # every case (about 15 min on 2 cores)
    python bench/check_fit.py --cases shrunk-30 lr_position-20

Uses only the public API.
"""

from __future__ import annotations

import argparse
import math
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from splatsynth.config import RunConfig
from splatsynth.demo import make_demo_scene
from splatsynth.errors import FitDiverged, SplatsynthError
from splatsynth.pipeline import check_fit, prepare, reconstruct


def _fit(**kw) -> dict:
    return {"fit": dict(progress=False, **kw)}


def _shrunk(iterations: int, gaussians: int, **kw) -> dict:
    return {"fit": dict(progress=False, iterations=iterations, num_gaussians=gaussians,
                        refine_start=min(100, iterations // 3 or 1),
                        refine_every=min(100, iterations // 3 or 1),
                        sh_increase_every=min(250, iterations // 3 or 1), **kw)}


# name -> (kind, scene (size, views, seed, breakage), config overrides). "good": fits as they
# are run for a dataset; "test-size": the shrunk fits of the test suite (tens of steps at
# 64-96 px), which are smoke tests, not fits to train on; "broken": what the check must stop.
CASES: dict[str, tuple[str, tuple[int, int, int, str], dict]] = {
    "demo": ("good", (512, 6, 0, ""), _fit()),
    "demo-optimize_pose": ("good", (512, 6, 0, ""), _fit(optimize_pose=True)),
    "demo-2dgs": ("good", (512, 6, 0, ""), _fit(method="2dgs")),
    "demo-fast-500": ("good", (512, 6, 0, ""), _fit(iterations=500)),
    "rig1-256-300": ("good", (256, 6, 1, ""), _shrunk(300, 10000)),
    "rig2-256-300-2dgs": ("good", (256, 6, 2, ""), _shrunk(300, 10000, method="2dgs")),
    "shrunk-150-96px": ("test-size", (96, 6, 0, ""), _shrunk(150, 3000)),
    "shrunk-80-96px": ("test-size", (96, 6, 0, ""), _shrunk(80, 3000)),
    "shrunk-150-64px-4v": ("test-size", (64, 4, 0, ""), _shrunk(150, 1500)),
    "shrunk-30-64px-4v": ("test-size", (64, 4, 0, ""), _shrunk(30, 1500)),
    "shrunk-30-64px-4v-seed1": ("test-size", (64, 4, 1, ""), _shrunk(30, 1500)),
    "lr_position-20": ("broken", (256, 6, 0, ""), _shrunk(300, 10000, lr_position=20.0)),
    "lr_position-20-64px": ("broken", (64, 4, 0, ""), _shrunk(30, 1500, lr_position=20.0)),
    "lr_position-1": ("broken", (256, 6, 0, ""), _shrunk(300, 10000, lr_position=1.0)),
    "lr_feature-100": ("broken", (256, 6, 0, ""), _shrunk(300, 10000, lr_feature=100.0)),
    "lr_scaling-10": ("broken", (256, 6, 0, ""), _shrunk(300, 10000, lr_scaling=10.0)),
    "lr_opacity-100": ("broken", (256, 6, 0, ""), _shrunk(300, 10000, lr_opacity=100.0)),
    "iterations-1": ("broken", (256, 6, 0, ""), _shrunk(1, 10000)),
    "iterations-1-64px": ("broken", (64, 4, 0, ""), _shrunk(1, 1500)),
    "masks-mirrored": ("broken", (256, 6, 0, "mirror"), _shrunk(300, 10000)),
    "one-mask-of-another-view": ("broken", (256, 6, 0, "swap1"), _shrunk(300, 10000)),
    "images-noise": ("broken", (256, 6, 0, "noise"), _shrunk(300, 10000)),
}


def _break(scene: Path, how: str) -> None:
    """Rewrite the scene's RGBA images (alpha is the mask) the way real data goes wrong."""
    files = sorted((scene / "images").glob("*.png"))
    ims = [np.asarray(Image.open(f).convert("RGBA")) for f in files]
    rng = np.random.default_rng(0)
    for i, (f, im) in enumerate(zip(files, ims)):
        im = im.copy()
        if how == "mirror":  # masks that belong to another camera model / a flipped export
            im[..., 3] = im[:, ::-1, 3]
        elif how == "swap1" and i == 0:  # one view got another view's mask
            im[..., 3] = ims[len(ims) // 2][..., 3]
        elif how == "noise":  # images from the wrong take, masks right
            im[..., :3] = rng.integers(0, 256, im[..., :3].shape, dtype=np.uint8)
        Image.fromarray(im).save(f)


def _config(over: dict) -> RunConfig:
    cfg = RunConfig()
    return replace(cfg, fit=replace(cfg.fit, **over.get("fit", {})))


def run_case(root: Path, name: str) -> str:
    kind, (size, views, seed, how), over = CASES[name]
    scene = make_demo_scene(root / name, size=size, n_views=views, seed=seed)
    shutil.rmtree(scene / "gt", ignore_errors=True)
    if how:
        _break(scene, how)
    cfg = _config(over)
    try:
        prepared = prepare(scene, cfg)
        fit = reconstruct(prepared, cfg).fit
    except FitDiverged as e:
        return f"| {name} | {kind} | diverged during the fit (step {e.step}) | | | | | | | |"
    except SplatsynthError as e:
        why = str(e).splitlines()[-1]
        return f"| {name} | {kind} | refused before the fit: {why} | | | | | | | |"
    secs = fit.timings["total"]
    c = check_fit(prepared, fit, cfg)
    m = fit.gaussians.means.double().numpy()
    d = np.linalg.norm(m[np.isfinite(m).all(1)], axis=1) / cfg.normalize.radius
    beyond3 = float((d > 3).mean()) if len(d) else math.nan
    train = fit.scores.subset(fit.train_views)
    worst_psnr = min(v.scores.psnr_masked for v in train.per_view)
    verdict = "pass" if c.passed else "FAIL: " + ", ".join(r.kind for r in c.reasons)
    return (f"| {name} | {kind} | {c.non_finite} | {c.median_distance:.3g} | "
            f"{100 * beyond3:.1f}% | {100 * c.exploded_fraction:.1f}% | "
            f"{c.train_psnr_masked:.2f} / {worst_psnr:.2f} | {c.train_iou:.3f} / "
            f"{c.worst_iou:.3f} | {secs:.0f} | {verdict} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", choices=sorted(CASES), default=list(CASES))
    a = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="splatsynth-bench-check-"))
    print("| case | fit | non-finite | median distance (radii) | beyond 3 radii | exploded | "
          "train masked PSNR mean / worst (dB) | train IoU mean / worst | fit s | check |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    try:
        for name in a.cases:
            print(run_case(root, name), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
