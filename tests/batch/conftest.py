"""Tiny scenes and a shrunk configuration for the batch tests (whole set < ~90 s on 2 cores)."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from splatsynth.config import RunConfig


def tiny_config(*, holdout: bool = True) -> RunConfig:
    """A run configuration shrunk so one scene fits in a few seconds (nerfstudio-style).

    30 steps at 64 px leave the worst training view near 10.5 dB masked PSNR and IoU 0.71
    (bench/RESULTS.md, "Post-fit check"), below the product's quality floors, which are for
    real fits; the shrunk check keeps every other rule (finite, inside the scene).
    """
    cfg = RunConfig()
    return replace(cfg,
                   fit=replace(cfg.fit, iterations=30, num_gaussians=1500, progress=False,
                               refine_start=10, refine_every=10),
                   orbit=replace(cfg.orbit, views=4, size=64),
                   output=replace(cfg.output, holdout=holdout, val_ratio=0.5),
                   check=replace(cfg.check, min_train_psnr_masked=8.0, min_train_iou=0.5))


@pytest.fixture(scope="session")
def base_scenes(tmp_path_factory) -> list[Path]:
    """Two demo scenes (different rig seeds) at 64 px with 4 views, without ground truth
    (scoring 32 ground-truth views would dominate the run time)."""
    from splatsynth.demo import make_demo_scene

    root = tmp_path_factory.mktemp("base")
    out = []
    for seed in (0, 1):
        s = make_demo_scene(root / f"s{seed}", size=64, n_views=4, seed=seed)
        shutil.rmtree(s / "gt", ignore_errors=True)
        out.append(s)
    return out


def copy_scene(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def break_scene(scene: Path) -> Path:
    """Make ``scene`` invalid the way real data breaks: an image named in cameras.json is
    missing."""
    img = sorted((scene / "images").iterdir())[0]
    img.unlink()
    return scene
