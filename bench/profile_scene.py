"""Where the time of one default scene goes, end to end, stage by stage.

Makes the demo scene (6 views at 512 px, its ground-truth folder removed by default, like a
real capture), then in this one process: loads the kernels (timed: the first use of every
numba kernel, from the on-disk cache), and runs ``run_scene`` at the product defaults with
light timers hooked around the functions each stage calls (load and normalize, the hull
initialisation, every part of a fit step, the final evaluation, the orbit render, PNG encoding,
the contact sheet, the report). Prints a tree of the sections (exclusive seconds, calls,
milliseconds per fit step) and a summary by stage.

    python bench/profile_scene.py                    # the default scene, warm kernel cache
    python bench/profile_scene.py --cold             # also time a cold kernel cache (compile)
    python bench/profile_scene.py --gt --iterations 300 --size 256

The hooks only wrap functions with timers (``time.perf_counter``); the scene's results are
the same as without them. Timers are per thread; work on helper threads (the kernels' own
pool) is counted in the section of the main-thread call that waits for it.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

T_START = time.perf_counter()


class Profiler:
    """Nested timers: each section's exclusive time (its own, minus its children's)."""

    def __init__(self) -> None:
        self.local = threading.local()
        self.excl: dict[tuple[str, ...], float] = defaultdict(float)
        self.incl: dict[tuple[str, ...], float] = defaultdict(float)
        self.calls: dict[tuple[str, ...], int] = defaultdict(int)
        self.threads: dict[str, float] = defaultdict(float)  # sections run on helper threads
        self.main = threading.main_thread()

    def path(self) -> tuple[str, ...]:
        st = getattr(self.local, "stack", None)
        return tuple(f[0] for f in st) if st else ()

    @contextlib.contextmanager
    def section(self, name: str):
        if threading.current_thread() is not self.main:
            t = time.perf_counter()
            try:
                yield
            finally:
                self.threads[name] += time.perf_counter() - t
            return
        st = getattr(self.local, "stack", None)
        if st is None:
            st = self.local.stack = []
        frame = [name, time.perf_counter(), 0.0]
        st.append(frame)
        path = tuple(f[0] for f in st)
        try:
            yield
        finally:
            dur = time.perf_counter() - frame[1]
            st.pop()
            self.excl[path] += dur - frame[2]
            self.incl[path] += dur
            self.calls[path] += 1
            if st:
                st[-1][2] += dur

    def wrap(self, fn, name: str):
        @functools.wraps(fn)
        def inner(*a, **k):
            with self.section(name):
                return fn(*a, **k)
        return inner


P = Profiler()


def patch(obj, attr: str, name: str) -> None:
    """Wrap ``obj.attr`` with a timer section ``name`` (quietly skipped when it is gone)."""
    fn = getattr(obj, attr, None)
    if fn is None:
        print(f"  (hook {getattr(obj, '__name__', obj)}.{attr} not found: not timed)")
        return
    setattr(obj, attr, P.wrap(fn, name))


def patch_autograd(cls, name: str) -> None:
    """Time an autograd Function's forward and backward; the backward is labelled with where
    its forward ran (the training view or the virtual view of the priors)."""
    fwd, bwd = cls.forward, cls.backward

    def forward(ctx, *a, **k):
        ctx._prof_where = "priors" if "priors" in P.path() else "train"
        with P.section(f"{name} fwd"):
            return fwd(ctx, *a, **k)

    def backward(ctx, *g):
        with P.section(f"{name} bwd ({getattr(ctx, '_prof_where', '?')})"):
            return bwd(ctx, *g)

    cls.forward, cls.backward = staticmethod(forward), staticmethod(backward)


def install_hooks() -> None:
    import importlib

    import torch

    import splatsynth.fileio as fileio
    import splatsynth.fit.fit as fitmod
    import splatsynth.fit.objective as objective
    import splatsynth.pipeline.render as prender
    import splatsynth.pipeline.run as run
    import splatsynth.pipeline.write as write
    import splatsynth.render as render
    from splatsynth.optim import strategy as strat
    from splatsynth.render import _autograd

    for stage in ("prepare", "render_outputs", "evaluate", "write_scene", "update_lists"):
        patch(run, stage, stage)
    # the fit and its post-fit check (before the check existed: reconstruct itself)
    patch(run, "reconstruct_checked" if hasattr(run, "reconstruct_checked") else "reconstruct",
          "reconstruct")
    # the fit
    main_fit = getattr(fitmod, "_optimize", None)  # None: a tree without the pose stage
    if main_fit is not None:
        stage = P.wrap(main_fit, "pose stage")

        def _optimize(*args, rotation_only=False, **kw):  # the stage's rounds on their own
            if rotation_only:
                return stage(*args, rotation_only=True, **kw)
            return main_fit(*args, **kw)

        fitmod._optimize = _optimize
    patch(fitmod, "_initial_gaussians", "init (visual hull + sampling)")
    patch(fitmod, "view_tensors", "setup (view tensors, virtual cameras)")
    patch(fitmod, "VirtualViews", "setup (view tensors, virtual cameras)")
    patch(fitmod, "_unseen", "visibility (unseen Gaussians)")
    patch(fitmod, "_check_diverged", "divergence check")
    patch(fitmod, "evaluate_views", "final evaluation (render + score inputs)")  # before
    patch(fitmod, "render_cameras", "final evaluation (render + score inputs)")
    patch(fitmod, "score_views", "final evaluation (render + score inputs)")
    patch(fitmod, "term_weights", "loss terms (other)")
    patch(objective, "l1_ssim_loss", "L1 + SSIM")
    patch(fitmod, "loss_terms", "loss terms (other)")
    patch(objective, "virtual_terms", "priors")
    patch(render, "rasterize", "rasterize (validation, glue)")
    patch_autograd(_autograd.ProjectFn, "projection")
    patch_autograd(_autograd.RasterFn, "raster")
    patch_autograd(importlib.import_module("splatsynth.losses.ssim")._FusedSSIM, "ssim")
    torch.Tensor.backward = P.wrap(torch.Tensor.backward, "backward (autograd rest)")
    torch.optim.Adam.step = P.wrap(torch.optim.Adam.step, "Adam")
    torch.optim.Optimizer.zero_grad = P.wrap(torch.optim.Optimizer.zero_grad, "zero_grad")
    for cls in (strat.MCMCStrategy, strat.ClassicStrategy):
        for m in ("after_backward", "after_step"):
            patch(cls, m, "strategy")
    # outputs
    patch(prender, "render_cameras", "render_cameras")
    patch(fileio, "png_bytes", "PNG encoding")
    os.fsync = P.wrap(os.fsync, "fsync")
    write.WRITERS = tuple((key, wanted, P.wrap(w, f"writer {key}"))
                          for key, wanted, w in write.WRITERS)
    patch(write, "write_scene_report", "report.json")
    cs = importlib.import_module("splatsynth.report.contact_sheet")
    patch(cs, "contact_sheet", "compose contact sheet")


def load_kernels() -> tuple[int, float]:
    """Load every kernel signature the cache holds (what a process's first scene does on a
    warm cache); returns (signatures, seconds)."""
    t = time.perf_counter()
    try:
        from splatsynth.warmup import kernel_dispatchers
    except ImportError:  # a tree from before the warm-up command: its kernel modules by hand
        import importlib

        from numba.core.registry import CPUDispatcher

        def kernel_dispatchers():
            names = ["splatsynth.render.kernels.projection", "splatsynth.render.kernels.raster",
                     "splatsynth.losses._ssim_kernels", "splatsynth.optim._noise_kernel",
                     "splatsynth.render.kernels.surfel_projection",
                     "splatsynth.render.kernels.surfel_raster"]
            return [d for n in names for d in vars(importlib.import_module(n)).values()
                    if isinstance(d, CPUDispatcher) and d.__module__ == n]

    n = 0
    for d in kernel_dispatchers():
        for key in d._cache._cache_file._load_index():
            d.compile(key[0])
            n += 1
    return n, time.perf_counter() - t


def warm_kernels(size: int = 64) -> float:
    """Use every kernel a scene uses once, on a tiny scene; returns seconds."""
    t = time.perf_counter()
    try:
        from splatsynth.warmup import warm_up
    except ImportError:  # before the warm-up command existed: the same, by hand
        warm_up = None
    if warm_up is not None:
        warm_up()
    else:
        from splatsynth.config import RunConfig
        from splatsynth.demo import make_demo_scene
        from splatsynth.pipeline import run_scene

        with tempfile.TemporaryDirectory() as tmp:
            scene = make_demo_scene(Path(tmp) / "s", size=size, n_views=3)
            cfg = RunConfig()
            if hasattr(cfg, "check"):  # a 20-step fit is not meant to pass the check
                cfg = replace(cfg, check=replace(cfg.check, min_train_psnr_masked=None,
                                                 min_train_iou=None))
            cfg = replace(cfg, fit=replace(cfg.fit, iterations=20, num_gaussians=500,
                                           refine_start=5, refine_every=5, progress=False),
                          orbit=replace(cfg.orbit, size=size))
            run_scene(scene, Path(tmp) / "out", cfg)
    return time.perf_counter() - t


def cold_kernels() -> str:
    """Kernel first use in fresh processes: with an empty cache (compile) and a full one."""
    code = "\n".join([
        "import sys, time", "t = time.perf_counter()",
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})",
        "import profile_scene as p", "w = p.warm_kernels()",
        "print(f'{time.perf_counter() - t:.2f} {w:.2f}')"])
    out = []
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for label in ("cold cache (compiles)", "warm cache (loads)"):
            r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                               text=True, check=True)
            total, warm = r.stdout.split()[-2:]
            out.append(f"{label}: kernels first use {float(warm):.1f} s "
                       f"(process incl. imports {float(total):.1f} s)")
    return "; ".join(out)


CATEGORIES = [
    # (label, predicate on the section path), first match wins
    ("kernel load from the cache (once per process)", lambda p: p[0] == "kernel load"),
    ("process warm-up: a tiny scene (first torch ops)", lambda p: p[0] == "warm-up"),
    ("load and normalize", lambda p: p[0] == "prepare"),
    ("fit: pose stage (its rounds at 1/8, 1/4, 1/2 size)", lambda p: "pose stage" in p),
    ("fit: initialisation", lambda p: "init (visual hull + sampling)" in p
     or "setup (view tensors, virtual cameras)" in p),
    ("fit: final evaluation (renders the inputs)",
     lambda p: "final evaluation (render + score inputs)" in p),
    ("fit step: virtual-view priors (render, losses, backward)",
     lambda p: "priors" in p or p[-1].endswith("(priors)")),
    ("fit step: projection fwd + bwd",
     lambda p: "reconstruct" in p and p[-1].startswith("projection")),
    ("fit step: rasterizer forward", lambda p: "reconstruct" in p and p[-1] == "raster fwd"),
    ("fit step: rasterizer backward",
     lambda p: "reconstruct" in p and p[-1].startswith("raster bwd")),
    ("fit step: L1 + SSIM (fwd + bwd)",
     lambda p: "reconstruct" in p and ("L1 + SSIM" in p or p[-1].startswith("ssim"))),
    ("fit step: other losses", lambda p: "loss terms (other)" in p),
    ("fit step: autograd (torch ops' backward)", lambda p: p[-1] == "backward (autograd rest)"),
    ("fit step: Adam (+ zero_grad)", lambda p: p[-1] in ("Adam", "zero_grad")),
    ("fit step: strategy (MCMC noise, relocation, visibility)",
     lambda p: "strategy" in p or "visibility (unseen Gaussians)" in p),
    ("fit step: rasterize glue", lambda p: p[-1] == "rasterize (validation, glue)"
     and "reconstruct" in p),
    ("fit step: the loop's own torch ops (activations, target, PSNR, checks)",
     lambda p: "reconstruct" in p),
    ("render outputs (orbit + inputs)", lambda p: "render_outputs" in p),
    ("evaluate (ground truth when present)", lambda p: "evaluate" in p),
    ("write: PNG encoding", lambda p: "write_scene" in p and p[-1] == "PNG encoding"),
    ("write: fsync", lambda p: "write_scene" in p and p[-1] == "fsync"),
    ("write: contact sheet (compose)", lambda p: "writer contact_sheet" in p),
    ("write: report.json", lambda p: "report.json" in p),
    ("write: the rest (PLY, keypoints, RGBA conversion, commit)", lambda p: "write_scene" in p),
    ("lists", lambda p: "update_lists" in p),
]


def category(path: tuple[str, ...]) -> str:
    return next((label for label, pred in CATEGORIES if pred(path)), "other")


def report(steps: int, total: float) -> str:
    lines = ["", "| section (tree) | calls | s exclusive | ms / fit step |", "|---|---|---|---|"]
    for path in sorted(P.excl, key=lambda p: (p[:1], p)):
        ex = P.excl[path]
        if P.incl[path] < 0.005:
            continue
        per = f"{1000 * ex / steps:.2f}" if "reconstruct" in path else ""
        lines.append(f"| {'&nbsp;&nbsp;' * (len(path) - 1)}{path[-1]} | {P.calls[path]} | "
                     f"{ex:.2f} | {per} |")
    cats: dict[str, float] = defaultdict(float)
    for path, ex in P.excl.items():
        cats[category(path)] += ex
    lines += ["", "| stage | s | % of the scene | ms / fit step |", "|---|---|---|---|"]
    once = ("kernel load", "process warm-up")
    scene_total = sum(v for k, v in cats.items() if not k.startswith(once))
    for label, _ in CATEGORIES + [("other", None)]:
        if label not in cats:
            continue
        v = cats[label]
        share = "" if label.startswith(once) else f"{100 * v / scene_total:.1f}"
        per = f"{1000 * v / steps:.2f}" if label.startswith("fit step") else ""
        lines.append(f"| {label} | {v:.2f} | {share} | {per} |")
    fit_steps = sum(v for k, v in cats.items() if k.startswith("fit step"))
    lines.append(f"| **scene total (run_scene)** | **{scene_total:.2f}** | 100 | |")
    lines.append(f"| of which the {steps} fit steps | {fit_steps:.2f} | "
                 f"{100 * fit_steps / scene_total:.1f} | {1000 * fit_steps / steps:.2f} |")
    if P.threads:
        lines.append("")
        lines.append("on helper threads (overlapping the above): " + ", ".join(
            f"{k} {v:.2f} s" for k, v in sorted(P.threads.items())))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512, help="input image size")
    ap.add_argument("--views", type=int, default=6)
    ap.add_argument("--iterations", type=int, default=None, help="default: the product's")
    ap.add_argument("--gt", action="store_true", help="keep the demo's ground-truth folder "
                    "(adds the ground-truth renders and scores)")
    ap.add_argument("--cold", action="store_true",
                    help="also time the kernels' first use with an empty numba cache")
    ap.add_argument("--threads", type=int, default=None, help="kernel/torch threads "
                    "(default: every core, as `splatsynth run`)")
    a = ap.parse_args()

    t = time.perf_counter()
    import torch  # noqa: F401

    import splatsynth.pipeline  # noqa: F401
    from splatsynth.config import RunConfig
    from splatsynth.demo import make_demo_scene
    from splatsynth.pipeline import run_scene
    from splatsynth.threads import thread_policy
    t_import = time.perf_counter() - t

    work = Path(tempfile.mkdtemp(prefix="splatsynth-profile-"))
    try:
        scene = make_demo_scene(work / "scene", size=a.size, n_views=a.views)
        if not a.gt:
            shutil.rmtree(scene / "gt")
        cfg = RunConfig()
        fit = replace(cfg.fit, progress=False)
        if a.iterations:
            fit = replace(fit, iterations=a.iterations)
        cfg = replace(cfg, fit=fit)

        import numba
        cache = numba.config.CACHE_DIR or "next to the package (__pycache__)"
        print(f"imports (torch, splatsynth): {t_import:.1f} s; numba cache: {cache}")
        if a.cold:
            print(cold_kernels())
        with thread_policy(a.threads):
            with P.section("kernel load"):
                n, t_load = load_kernels()
            print(f"kernels loaded from the cache: {n} signatures in {t_load:.1f} s")
            with P.section("warm-up"):
                w = warm_kernels()
            print(f"process warm-up on a tiny scene: {w:.1f} s")
            install_hooks()
            t = time.perf_counter()
            out = run_scene(scene, work / "out", cfg)
            wall = time.perf_counter() - t
        print(f"scene {a.size} px x {a.views} views, {fit.iterations} steps, "
              f"{fit.num_gaussians} Gaussians, ground truth {'on' if a.gt else 'off'}: "
              f"run_scene {wall:.2f} s (its report: {out.timings})")
        print(report(fit.iterations, wall))
        print(f"\nload average at the end: {os.getloadavg()[0]:.2f} / {os.getloadavg()[1]:.2f} "
              f"(1 / 5 min), {os.cpu_count()} cores")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
