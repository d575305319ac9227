"""``splatsynth warmup``: compile every CPU kernel once, into the kernel cache.

Runs a tiny scene through the whole pipeline (3DGS fit with every loss term, the strategy, the
orbit render with depth, the writers) and a tiny 2DGS fit and render, so numba compiles each
kernel a scene can use and stores it in :func:`splatsynth.kernel_cache.cache_dir`. Afterwards
every process (a ``splatsynth run``, each batch worker, each Ray worker on this machine) only
loads the kernels (about a second) instead of compiling them (tens of seconds).

``make install`` runs it; it is also what a new node of a cluster should run once (or share the
cache folder). Running it again is quick: everything is already cached.

    splatsynth warmup          # or: python -m splatsynth.warmup
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from .kernel_cache import cache_dir


@dataclass(frozen=True)
class WarmupReport:
    """What the warm-up did.

    Attributes:
        seconds: wall time of the warm-up.
        compiled: kernel signatures compiled now (not found in the cache).
        loaded: kernel signatures loaded from the cache.
        cache: the cache folder (None: numba's default, next to the package).
    """

    seconds: float
    compiled: int
    loaded: int
    cache: str | None

    def __str__(self) -> str:
        where = self.cache or "numba's default (next to the package)"
        what = (f"compiled {self.compiled} kernel signature(s)" if self.compiled
                else "nothing to compile")
        return (f"kernels ready in {self.seconds:.1f} s: {what}, {self.loaded} loaded from the "
                f"cache ({where})")


def kernel_dispatchers() -> list:
    """Every cached numba kernel of the package (imports the kernel modules; the inlined
    helpers, which are compiled into the kernels, are left out)."""
    import importlib

    from numba.core.registry import CPUDispatcher

    from .kernel_cache import kernel_modules

    out = []
    for name in kernel_modules():
        mod = importlib.import_module(name)
        out += [v for v in vars(mod).values()
                if isinstance(v, CPUDispatcher) and v.__module__ == name
                and getattr(v._cache, "_cache_file", None) is not None]  # cache=True only
    return out


def cache_counts() -> tuple[int, int]:
    """(signatures compiled, signatures loaded from the cache) so far in this process."""
    compiled = loaded = 0
    for d in kernel_dispatchers():
        compiled += sum(d.stats.cache_misses.values())
        loaded += sum(d.stats.cache_hits.values())
    return compiled, loaded


def warm_up(size: int = 48) -> WarmupReport:
    """Use every kernel once on a tiny demo scene (a few seconds when cached).

    Args:
        size: the tiny scene's image size (kernels specialise on types, not sizes).
    """
    from .config import RunConfig
    from .demo import make_demo_scene
    from .fit import fit_scene, render_cameras
    from .pipeline import prepare, run_scene
    from .threads import thread_policy

    t = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="splatsynth-warmup-") as tmp, thread_policy(None):
        scene = make_demo_scene(Path(tmp) / "scene", size=size, n_views=3)
        cfg = RunConfig()
        fit = replace(cfg.fit, iterations=12, num_gaussians=400, refine_start=2,
                      refine_every=4, solid_every=2, sh_increase_every=4, progress=False)
        # a 12-step fit is not meant to pass the post-fit check; only its kernels matter
        check = replace(cfg.check, min_train_psnr_masked=None, min_train_iou=None)
        cfg = replace(cfg, fit=fit, orbit=replace(cfg.orbit, size=size), check=check)
        run_scene(scene, Path(tmp) / "out", cfg, update_list=False)
        # 2DGS: surfel kernels, with normals
        surf = replace(fit, method="2dgs", regularizer_start=2)
        prepared = prepare(scene, cfg)
        res = fit_scene(prepared.canonical, surf)
        render_cameras(res.gaussians, res.cameras[:1], background=surf.background,
                       with_depth=True, with_normals=True, method="2dgs")
    compiled, loaded = cache_counts()
    return WarmupReport(time.perf_counter() - t, compiled, loaded, cache_dir())


def main() -> int:
    print(warm_up())
    return 0


if __name__ == "__main__":
    sys.exit(main())
