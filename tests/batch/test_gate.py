"""The divergence check, the quality gate and the safer retry setting (no fitting)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from splatsynth.batch import BatchConfig
from splatsynth.batch.gate import (
    check_gate_config,
    check_gaussians,
    gate_reasons,
    quarantine_entry,
)
from splatsynth.batch.runner import safer_config
from splatsynth.config import RunConfig
from splatsynth.errors import FitDiverged, SplatsynthError


def _gaussians(n: int = 200, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(n, 3, generator=g) * 0.5
    log_scales = torch.full((n, 3), math.log(0.03))
    return means, log_scales, torch.zeros(n), torch.rand(n, 4, 3, generator=g)


def test_healthy_fit_passes() -> None:
    check_gaussians(*_gaussians(), BatchConfig(), scene_id="ok")


def test_nan_is_divergence() -> None:
    m, s, o, c = _gaussians()
    c[7, 0, 1] = float("nan")
    with pytest.raises(FitDiverged, match="1 of 200 Gaussians have NaN/inf"):
        check_gaussians(m, s, o, c, BatchConfig(), scene_id="x")


def test_exploding_fraction_threshold() -> None:
    cfg = BatchConfig(max_exploded_fraction=0.01)
    m, s, o, c = _gaussians()
    m[:2] = 50.0  # 1% flung away: tolerated (MCMC relocates stragglers)
    check_gaussians(m, s, o, c, cfg)
    s[2, 1] = math.log(5.0)  # one more, too large: 1.5% > 1%
    with pytest.raises(FitDiverged, match=r"3 of 200 .* 2 far, 1 large"):
        check_gaussians(m, s, o, c, cfg)


def test_divergence_is_a_typed_user_error() -> None:
    m, s, o, c = _gaussians()
    m[:] = float("inf")
    with pytest.raises(FitDiverged) as info:
        check_gaussians(m, s, o, c, BatchConfig(), scene_id="far")
    assert isinstance(info.value, SplatsynthError) and info.value.scene == "far"


def _report(psnr, iou):
    return {"metrics": {"holdout": {"view": "images/view_002.png", "psnr_masked": psnr,
                                    "iou": iou}}}


def test_gate_thresholds() -> None:
    off = BatchConfig()
    assert gate_reasons(_report(3.0, 0.1), off) == []
    cfg = BatchConfig(min_holdout_psnr_masked=20.0, min_holdout_iou=0.8)
    assert gate_reasons(_report(25.0, 0.9), cfg) == []
    r = gate_reasons(_report(19.5, 0.9), cfg)
    assert r == ["held-out psnr_masked 19.500 dB < 20 dB"]
    r = gate_reasons(_report(25.0, 0.5), cfg)
    assert r == ["held-out iou 0.500 < 0.8"]
    # NaN is written as null in report.json: undefined scores fail the gate
    assert "undefined" in gate_reasons(_report(None, 0.9), cfg)[0]
    only_iou = BatchConfig(min_holdout_iou=0.8)
    assert gate_reasons(_report(None, 0.9), only_iou) == []
    # a scene fitted without holdout is not waved through
    assert "without output.holdout" in gate_reasons({"metrics": {"train": {}}}, cfg)[0]
    e = quarantine_entry("s", _report(19.5, 0.9), ["x"], cfg)
    assert e["holdout_psnr_masked"] == 19.5 and e["min_holdout_psnr_masked"] == 20.0


def test_gate_requires_holdout() -> None:
    cfg = BatchConfig(min_holdout_iou=0.5)
    with pytest.raises(SplatsynthError, match="--output.holdout "):
        check_gate_config(cfg, holdout_enabled=False)
    check_gate_config(cfg, holdout_enabled=True)
    check_gate_config(BatchConfig(), holdout_enabled=False)


def test_safer_config() -> None:
    cfg = RunConfig()
    cfg = replace(cfg, fit=replace(cfg.fit, lr_position=2e-3, lr_scaling=4e-3, seed=5))
    safer, changed = safer_config(cfg, 0.5)
    assert safer.fit.lr_position == pytest.approx(1e-3)
    assert safer.fit.lr_scaling == pytest.approx(2e-3)
    assert safer.fit.seed == 6
    assert changed == {"fit.lr_position": safer.fit.lr_position,
                       "fit.lr_scaling": safer.fit.lr_scaling, "fit.seed": 6}
    assert safer.fit.iterations == cfg.fit.iterations


def test_batch_config_validation() -> None:
    # every knob's range: tests/test_knobs.py
    for bad in (dict(workers=-1), dict(threads=0), dict(retry_lr_factor=0.0),
                dict(max_exploded_fraction=1.0), dict(explode_scale=float("inf")),
                dict(scene_timeout=0.0), dict(ray=" ")):
        with pytest.raises(SplatsynthError, match="^batch[.]"):
            BatchConfig(**bad)
    assert BatchConfig(workers=2, threads=None).threads_per_scene() >= 1
    assert BatchConfig(ray="auto").threads_per_scene() == 1
