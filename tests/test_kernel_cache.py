"""The kernel cache: a known folder, set before numba loads, and a warm-up that leaves nothing
for a scene to compile."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from splatsynth import kernel_cache
from splatsynth.kernel_cache import (
    ENV_VAR,
    configure_kernel_cache,
    default_cache_dir,
    kernel_digest,
)

SRC = Path(__file__).resolve().parents[1] / "src"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def test_default_folder_is_set_before_numba_loads(tmp_path):
    code = ("import os, sys, splatsynth; "
            "print(os.environ.get('NUMBA_CACHE_DIR')); print('numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], env=_env(XDG_CACHE_HOME=str(tmp_path)),
                         capture_output=True, text=True, check=True).stdout.split()
    folder = tmp_path / "splatsynth" / "numba" / kernel_digest()
    assert out == [str(folder), "False"]
    assert folder.is_dir()


def test_an_edit_to_any_kernel_file_moves_the_cache(tmp_path, monkeypatch):
    # numba checks only a kernel's own file; an inlined helper's edit must change the folder
    pkg = tmp_path / "pkg"
    for rel in ("render/kernels/raster.py", "render/kernels/geometry.py",
                "losses/_l1_kernels.py", "render/api.py"):
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(f"# {rel}\n")
    monkeypatch.setattr(kernel_cache, "_PACKAGE", pkg)
    before = kernel_digest()
    (pkg / "render/api.py").write_text("# not a kernel file\n")
    assert kernel_digest() == before
    (pkg / "render/kernels/geometry.py").write_text("# an edited helper\n")
    assert kernel_digest() != before


def test_numba_cache_dir_set_by_the_user_wins(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "mine"))
    assert configure_kernel_cache() == str(tmp_path / "mine")
    assert os.environ[ENV_VAR] == str(tmp_path / "mine")


def test_unwritable_default_leaves_numba_its_own(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # cannot hold a folder
    assert default_cache_dir() == blocker / "splatsynth" / "numba" / kernel_digest()
    assert configure_kernel_cache() is None
    assert ENV_VAR not in os.environ


def test_after_warmup_a_scene_compiles_nothing(tmp_path):
    # Another size, more views, the leave-one-out fit and every optional output: the kernels
    # specialise on types, so the warm-up's tiny scene must have compiled them all.
    code = f"""
import json
from dataclasses import replace
from pathlib import Path
from splatsynth.config import RunConfig
from splatsynth.demo import make_demo_scene
from splatsynth.pipeline import run_scene
from splatsynth.warmup import cache_counts, warm_up
warm_up()
before = cache_counts()[0]
scene = make_demo_scene(Path({str(tmp_path)!r}) / "s", size=72, n_views=5, seed=3)
cfg = RunConfig()
cfg = replace(cfg, fit=replace(cfg.fit, iterations=30, num_gaussians=800, refine_start=10,
                               refine_every=10, progress=False),
              orbit=replace(cfg.orbit, size=72, views=4),
              output=replace(cfg.output, holdout=True, depth=True, alpha=True,
                             mvdiffusion=True),
              check=replace(cfg.check, min_train_psnr_masked=None, min_train_iou=None))
run_scene(scene, Path({str(tmp_path)!r}) / "out", cfg)
print(json.dumps([before, cache_counts()[0]]))
"""
    r = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    before, after = json.loads(r.stdout.strip().splitlines()[-1])
    assert after == before, f"the scene compiled {after - before} kernel signature(s)"
