"""End-to-end fits on the tiny demo scene with a shrunk configuration."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from splatsynth.errors import SplatsynthError
from splatsynth.fit import fit_scene
from splatsynth.scene_io import load_scene


@pytest.fixture(scope="module")
def scene(tiny_demo):
    return load_scene(tiny_demo)


@pytest.fixture(scope="module")
def fitted(scene, tiny_fit_config):
    return fit_scene(scene, tiny_fit_config)


def test_shrunk_fit_reproduces_its_inputs(fitted, tiny_fit_config):
    m = fitted.metrics["train"]
    assert m["iou"] > 0.9
    assert m["psnr_masked"] > 18.0
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


def test_holdout_view_is_left_out_and_scored(scene, tiny_fit_config):
    r = fit_scene(scene, replace(tiny_fit_config, holdout_view=2, iterations=60))
    assert 2 not in r.train_views and len(r.train_views) == len(scene.views) - 1
    assert r.metrics["holdout"]["view"] == scene.views[2].name
    assert 0 <= r.metrics["holdout"]["iou"] <= 1


def test_classic_strategy_changes_the_count_within_budget(scene, tiny_fit_config):
    cfg = replace(tiny_fit_config, strategy="classic", num_gaussians=2000, iterations=110)
    r = fit_scene(scene, cfg)
    assert len(r.gaussians) != 2000 or r.metrics["train"]["iou"] > 0.5
    assert len(r.gaussians) <= 2 * 2000


@pytest.mark.parametrize("field, value, match", [
    ("holdout_view", 99, "holdout_view=99"),
    ("sh_degree", 4, "sh_degree must be 0..3"),
])
def test_bad_settings_are_user_errors(scene, tiny_fit_config, field, value, match):
    with pytest.raises(SplatsynthError, match=match):
        fit_scene(scene, replace(tiny_fit_config, **{field: value}))


def test_divergence_is_reported(scene, tiny_fit_config):
    with pytest.raises(SplatsynthError, match="diverged"):
        fit_scene(scene, replace(tiny_fit_config, lr_position=1e12, lr_scaling=1e6,
                                 iterations=30))


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


def test_opacity_regularizer_fades_on_schedule(scene, tiny_fit_config, monkeypatch):
    """The weight each step's opacity term carries (its gradient through a marker) follows
    fit.opacity_reg * fade_out(step)."""
    import splatsynth.fit.fit as fit_module
    from splatsynth.optim import fade_out

    weights: list[torch.Tensor] = []

    def marked(opacities):
        marker = torch.zeros((), requires_grad=True)
        marker.retain_grad()
        weights.append(marker)
        return opacities.mean() + marker

    monkeypatch.setattr(fit_module, "opacity_regularizer", marked)
    cfg = replace(tiny_fit_config, iterations=40, opacity_reg=0.3, opacity_reg_fade=0.5,
                  prune_unseen=False)
    fit_scene(scene, cfg)
    got = [float(m.grad) for m in weights]
    want = [0.3 * fade_out(step, 40, 0.5) for step in range(1, 41)]
    assert got == pytest.approx(want)
    assert got[19] == pytest.approx(0.3) and got[-1] == 0.0 and 0 < got[25] < 0.3


@pytest.mark.parametrize("weight", [0.0, 0.7])
def test_needle_regularizer_enters_the_loss_with_its_weight(scene, tiny_fit_config, monkeypatch,
                                                            weight):
    import splatsynth.fit.fit as fit_module

    calls: list[tuple[torch.Tensor, float]] = []

    def marked(scales, max_ratio):
        marker = torch.zeros((), requires_grad=True)
        marker.retain_grad()
        calls.append((marker, max_ratio))
        return scales.sum() * 0.0 + marker

    monkeypatch.setattr(fit_module, "needle_regularizer", marked)
    cfg = replace(tiny_fit_config, iterations=12, needle_reg=weight, needle_max_ratio=2.5,
                  prune_unseen=False)
    fit_scene(scene, cfg)
    if weight == 0.0:
        assert calls == []
    else:
        assert len(calls) == 12
        assert all(r == 2.5 for _, r in calls)
        assert [float(m.grad) for m, _ in calls] == pytest.approx([weight] * 12)
