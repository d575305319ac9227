"""The post-fit check on hand-made fits (no fitting), the safer retry setting, and the one retry
policy of run, demo and batch (with a stubbed fit)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from splatsynth.config import CheckConfig, RunConfig
from splatsynth.errors import FitDiverged, FitRejected, SplatsynthError
from splatsynth.fit import FitConfig, FitResult
from splatsynth.gaussians import Gaussians
from splatsynth.metrics import ScoreSet, ViewScores
from splatsynth.metrics.image import ImageScores
from splatsynth.pipeline import check as check_mod
from splatsynth.pipeline import check_fit, safer_config


def _gaussians(n: int = 200, seed: int = 0) -> Gaussians:
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(n, 3, generator=g) * 0.4
    return Gaussians(means, torch.tensor([[1.0, 0, 0, 0]]).repeat(n, 1),
                     torch.full((n, 3), math.log(0.03)), torch.zeros(n),
                     torch.rand(n, 4, 3, generator=g))


def _fit(g: Gaussians, psnr=(28.0, 27.0, 26.0), iou=(0.99, 0.98, 0.97)) -> FitResult:
    views = tuple(ViewScores(f"images/v{i}.png", ImageScores(p + 5, p, 0.9, u))
                  for i, (p, u) in enumerate(zip(psnr, iou)))
    return FitResult(g, [], [], [], ScoreSet(views), list(range(len(views))), {}, [], FitConfig())


def _kinds(c) -> list[str]:
    return [r.kind for r in c.reasons]


def test_good_fit_passes_and_reports_its_numbers() -> None:
    c = check_fit(None, _fit(_gaussians()))
    assert c.passed and c.reasons == ()
    assert c.gaussians == 200 and c.non_finite == 0 and c.exploded_fraction == 0.0
    assert 0.3 < c.median_distance < 1.0
    assert (c.worst_psnr_masked, c.worst_psnr_view) == (26.0, "images/v2.png")
    assert c.train_psnr_masked == pytest.approx(27.0)
    assert (c.worst_iou, c.worst_iou_view) == (0.97, "images/v2.png")
    js = c.to_json()
    assert js["passed"] is True and js["worst_iou_view"] == "images/v2.png"


def test_non_finite_and_empty() -> None:
    g = _gaussians()
    g.sh[7, 0, 1] = float("nan")
    c = check_fit(None, _fit(g))
    assert "non_finite" in _kinds(c) and c.non_finite == 1
    empty = _gaussians().subset(torch.zeros(200, dtype=torch.bool))
    assert "no_gaussians" in _kinds(check_fit(None, _fit(empty)))


def test_exploded_fraction_and_median_distance() -> None:
    g = _gaussians()
    g.means[:2] = 50.0  # 1% flung away: tolerated (relocation leaves stragglers)
    assert check_fit(None, _fit(g)).passed
    g.log_scales[2, 1] = math.log(5.0)  # one more, too large: 1.5% > 1%
    c = check_fit(None, _fit(g))
    assert _kinds(c) == ["exploded"] and c.exploded_fraction == pytest.approx(0.015)
    assert c.reasons[0].knob == "check.max_exploded_fraction"
    far = _gaussians()
    far.means[:] = far.means + torch.tensor([3.0, 0.0, 0.0])  # the whole set off the subject
    c = check_fit(None, _fit(far))
    assert "off_centre" in _kinds(c) and c.median_distance > 2.0
    # distances are in subject radii: a larger normalize.radius moves the limit with it
    cfg = RunConfig()
    cfg = replace(cfg, normalize=replace(cfg.normalize, radius=3.0))
    assert "off_centre" not in _kinds(check_fit(None, _fit(far), cfg))


def test_quality_floors_read_the_worst_view() -> None:
    c = check_fit(None, _fit(_gaussians(), psnr=(28.0, 27.0, 9.0)))
    assert _kinds(c) == ["train_psnr_masked"]
    r = c.reasons[0]
    assert (r.knob, r.value, r.limit) == ("check.min_train_psnr_masked", 9.0, 15.0)
    assert "images/v2.png" in str(r) and "check.min_train_psnr_masked 15 dB" in str(r)
    c = check_fit(None, _fit(_gaussians(), iou=(0.99, 0.006, 0.98)))
    assert _kinds(c) == ["train_iou"] and "images/v1.png" in str(c.reasons[0])
    # no masks: IoU is NaN and not judged; the floors can be switched off
    assert check_fit(None, _fit(_gaussians(), iou=(math.nan,) * 3)).passed
    off = replace(RunConfig(), check=CheckConfig(min_train_psnr_masked=None, min_train_iou=None))
    assert check_fit(None, _fit(_gaussians(), psnr=(1.0,) * 3, iou=(0.0,) * 3), off).passed


def test_the_check_does_not_touch_the_fit() -> None:
    g = _gaussians()
    before = [t.clone() for t in g.tensors()]
    check_fit(None, _fit(g))
    assert all(torch.equal(a, b) for a, b in zip(before, g.tensors()))


def test_safer_config() -> None:
    cfg = RunConfig()
    cfg = replace(cfg, fit=replace(cfg.fit, lr_position=2e-3, lr_scaling=4e-3, seed=5))
    safer, changed = safer_config(cfg)
    assert safer.fit.lr_position == pytest.approx(1e-3)
    assert safer.fit.lr_scaling == pytest.approx(2e-3)
    assert safer.fit.seed == 6
    assert changed == {"fit.lr_position": safer.fit.lr_position,
                       "fit.lr_scaling": safer.fit.lr_scaling, "fit.seed": 6}
    assert safer.fit.iterations == cfg.fit.iterations


class _Prepared:
    scene_id = "s"


def _stub(monkeypatch, outcomes):
    """reconstruct() replaced: each call hands the next fit to the check hook (or raises)."""
    calls = []

    def fake(prepared, cfg, *, check_fit=None):
        calls.append(cfg)
        got = outcomes[len(calls) - 1]
        if isinstance(got, Exception):
            raise got
        check_fit(got)
        return check_mod.Reconstruction(got)

    monkeypatch.setattr(check_mod, "reconstruct", fake)
    return calls


def test_one_retry_then_pass(monkeypatch) -> None:
    bad, good = _fit(_gaussians(), iou=(0.99, 0.1, 0.99)), _fit(_gaussians())
    calls = _stub(monkeypatch, [bad, good])
    got = check_mod.reconstruct_checked(_Prepared(), RunConfig())
    assert got.retried and got.check.passed and len(calls) == 2
    assert got.cfg.fit.seed == 1 and got.retry_setting["fit.seed"] == 1
    assert "failed the post-fit check" in got.first_error


def test_retry_fails_too_with_the_numbers(monkeypatch) -> None:
    bad = _fit(_gaussians(), psnr=(3.0, 2.0, 1.0))
    _stub(monkeypatch, [FitDiverged("scene s: the fit diverged at step 3", scene="s"), bad])
    with pytest.raises(FitRejected) as e:
        check_mod.reconstruct_checked(_Prepared(), RunConfig())
    err = e.value
    assert isinstance(err, SplatsynthError) and err.retried
    assert "diverged at step 3" in err.first_error and err.retry_setting["fit.seed"] == 1
    assert err.check["worst_psnr_masked"] == 1.0 and err.check["passed"] is False
    assert "check.min_train_psnr_masked" in str(err) and "1.000 dB" in str(err)


def test_no_retry_when_switched_off(monkeypatch) -> None:
    calls = _stub(monkeypatch, [FitDiverged("x", scene="s"), _fit(_gaussians())])
    cfg = replace(RunConfig(), check=CheckConfig(retry=False))
    with pytest.raises(FitDiverged) as e:
        check_mod.reconstruct_checked(_Prepared(), cfg)
    assert not e.value.retried and len(calls) == 1
