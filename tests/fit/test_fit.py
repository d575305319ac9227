"""End-to-end fits on the tiny demo scene with a shrunk configuration."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from splatsynth.errors import FitDiverged, SplatsynthError
from splatsynth.fit import fit_scene
from splatsynth.scene_io import load_scene


@pytest.fixture(scope="module")
def scene(tiny_demo):
    return load_scene(tiny_demo)


@pytest.fixture(scope="module")
def fitted(scene, tiny_fit_config):
    return fit_scene(scene, tiny_fit_config)


def test_shrunk_fit_reproduces_its_inputs(fitted, tiny_fit_config):
    m = fitted.metrics.train_mean
    assert m.iou > 0.9
    assert m.psnr_masked > 18.0
    # MCMC keeps the budget; only Gaussians no input view sees are dropped at the end
    assert 0.5 * tiny_fit_config.num_gaussians < len(fitted.gaussians) <= \
        tiny_fit_config.num_gaussians
    assert all(np.isfinite(t.numpy()).all() for t in fitted.gaussians.tensors())
    assert fitted.history and fitted.history[-1]["step"] == tiny_fit_config.iterations
    # the fit improved on its own starting point
    assert fitted.history[-1]["loss"] < fitted.history[0]["loss"]


def test_fit_is_deterministic(scene, tiny_fit_config, fitted):
    again = fit_scene(scene, replace(tiny_fit_config, iterations=40))
    once_more = fit_scene(scene, replace(tiny_fit_config, iterations=40))
    for a, b in zip(again.gaussians.tensors(), once_more.gaussians.tensors()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_random_init_without_hull(scene, tiny_fit_config):
    r = fit_scene(scene, replace(tiny_fit_config, init="random", iterations=30))
    assert r.gaussians.means.norm(dim=1).max() < 1.6  # ball of radius 1 plus a little motion


def test_holdout_view_is_left_out_and_scored(scene, tiny_fit_config, fitted):
    r = fit_scene(scene, replace(tiny_fit_config, holdout_view=2, iterations=60))
    assert 2 not in r.train_views and len(r.train_views) == len(scene.views) - 1
    assert r.metrics.holdout.view == scene.views[2].name
    assert 0 <= r.metrics.holdout.scores.iou <= 1
    assert fitted.metrics.holdout is None


def test_classic_strategy_changes_the_count_within_budget(scene, tiny_fit_config):
    cfg = replace(tiny_fit_config, strategy="classic", num_gaussians=2000, iterations=110)
    r = fit_scene(scene, cfg)
    assert len(r.gaussians) != 2000 or r.metrics.train_mean.iou > 0.5
    assert len(r.gaussians) <= 2 * 2000


@pytest.mark.parametrize("field, value, match", [
    ("holdout_view", 99, "holdout_view=99"),
    ("sh_degree", 4, "sh_degree must be 0..3"),
])
def test_bad_settings_are_user_errors(scene, tiny_fit_config, field, value, match):
    with pytest.raises(SplatsynthError, match=match):
        fit_scene(scene, replace(tiny_fit_config, **{field: value}))


def test_divergence_is_reported(scene, tiny_fit_config):
    with pytest.raises(FitDiverged, match="diverged") as info:
        fit_scene(scene, replace(tiny_fit_config, lr_position=1e12, lr_scaling=1e6,
                                 iterations=30))
    assert info.value.scene == scene.scene_id and 1 <= info.value.step <= 30


def test_unseen_gaussians_are_found_and_pruned(scene, tiny_fit_config):
    from splatsynth.fit.visibility import view_contributions
    from splatsynth.render import rasterize

    r = fit_scene(scene, replace(tiny_fit_config, iterations=30))
    g = r.gaussians
    params = {"means": g.means.clone(), "quats": g.quats_wxyz, "log_scales": g.log_scales,
              "opacity_logits": g.opacity_logits}
    # hide one Gaussian far behind every camera's back... i.e. outside all frusta
    params["means"][0] = torch.tensor([0.0, 0.0, 40.0])
    cams = [v.camera for v in scene.views]
    c = view_contributions(rasterize, params, [torch.tensor(c.w2c, dtype=torch.float32)
                                               for c in cams],
                           [torch.tensor(c.K, dtype=torch.float32) for c in cams],
                           [(c.w, c.h) for c in cams], g.sh[:, :1], 0)
    assert c[0] == 0.0
    assert (c > 0).float().mean() > 0.5
    assert r.timings["pruned_unseen"] >= 0
    assert len(g) == tiny_fit_config.num_gaussians - r.timings["pruned_unseen"]


def test_opacity_regularizer_fades_on_schedule(scene, tiny_fit_config):
    """The weight each step's opacity term carries follows fit.opacity_reg * fade_out(step),
    and the term is that weight times the mean opacity."""
    from splatsynth.optim import fade_out

    records = []
    cfg = replace(tiny_fit_config, iterations=40, opacity_reg=0.3, opacity_reg_fade=0.5,
                  prune_unseen=False)
    r = fit_scene(scene, cfg, on_step=records.append)
    got = [rec.weights["opacity"] for rec in records]
    want = [0.3 * fade_out(step, 40, 0.5) for step in range(1, 41)]
    assert got == pytest.approx(want)
    assert got[19] == pytest.approx(0.3) and got[-1] == 0.0 and 0 < got[25] < 0.3
    # a mean opacity is in (0, 1): the weighted term stays under its weight
    assert all(0 < float(rec.terms["opacity"]) < rec.weights["opacity"]
               for rec in records[:30])
    # the history keeps the same terms every HISTORY_EVERY steps
    assert [h["step"] for h in r.history] == [10, 20, 30, 40]
    assert r.history[1]["weights"]["opacity"] == pytest.approx(want[19])


@pytest.mark.parametrize("weight", [0.0, 0.7])
def test_needle_regularizer_is_weighted_in_every_step(scene, tiny_fit_config, weight):
    records = []
    cfg = replace(tiny_fit_config, iterations=12, needle_reg=weight, needle_max_ratio=2.5,
                  prune_unseen=False)
    fit_scene(scene, cfg, on_step=records.append)
    assert len(records) == 12
    if weight == 0.0:
        assert all("needle" not in rec.terms for rec in records)
    else:
        assert [rec.weights["needle"] for rec in records] == [weight] * 12


def test_loss_terms_apply_each_weight_to_its_term():
    from splatsynth.fit import FitConfig, method_of
    from splatsynth.fit.objective import TrainingRender, loss_terms
    from splatsynth.losses import needle_regularizer, scale_regularizer

    gen = torch.Generator().manual_seed(0)
    n = 50
    params = {"log_scales": torch.log(torch.rand(n, 3, generator=gen) * 0.1 + 1e-3),
              "opacity_logits": torch.randn(n, generator=gen)}
    img = torch.rand(20, 20, 3, generator=gen)
    view = TrainingRender(None, img, torch.rand(20, 20, generator=gen), img.flip(0), None,
                          (0, 0, 20, 20), torch.eye(3)[None])
    cfg = FitConfig(needle_max_ratio=2.5)
    terms = loss_terms(params, view, {"rgb": 1.0, "scale": 0.3, "needle": 0.7}, cfg,
                       method_of("3dgs"))
    assert list(terms) == ["rgb", "scale", "needle"]
    scales = torch.exp(params["log_scales"])
    assert float(terms["needle"]) == pytest.approx(
        0.7 * float(needle_regularizer(scales, 2.5)), rel=1e-6)
    assert float(terms["needle"]) > 0
    assert float(terms["scale"]) == pytest.approx(0.3 * float(scale_regularizer(scales)))


def test_total_loss_is_the_sum_of_the_recorded_terms(scene, tiny_fit_config):
    records = []
    fit_scene(scene, replace(tiny_fit_config, iterations=16, refine_start=4, solid_every=4,
                             prune_unseen=False), on_step=records.append)
    for rec in records:
        assert rec.loss == pytest.approx(sum(float(v) for v in rec.terms.values()), rel=1e-5)
        assert set(rec.terms) == set(rec.weights)
    assert "solid" in records[7].terms and "solid" not in records[6].terms  # step 8 vs 7
