"""The quality gate (no fitting; the post-fit check is tested in tests/pipeline/test_check.py)."""

from __future__ import annotations

import pytest

from splatsynth.batch import BatchConfig
from splatsynth.batch.gate import check_gate_config, gate_reasons, quarantine_entry
from splatsynth.errors import SplatsynthError


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


def test_batch_config_validation() -> None:
    # every knob's range: tests/test_knobs.py
    for bad in (dict(workers=-1), dict(threads=0), dict(scene_timeout=0.0), dict(ray=" ")):
        with pytest.raises(SplatsynthError, match="^batch[.]"):
            BatchConfig(**bad)
    assert BatchConfig(workers=2, threads=None).threads_per_scene() >= 1
    assert BatchConfig(ray="auto").threads_per_scene() == 1
