import torch

from splatsynth.optim import ClassicStrategy, MCMCStrategy, relocation_params


def make_params(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    p = {"means": torch.randn(n, 3, generator=g), "quats": torch.randn(n, 4, generator=g),
         "log_scales": torch.randn(n, 3, generator=g) - 3,
         "opacity_logits": torch.randn(n, generator=g),
         "sh_dc": torch.randn(n, 1, 3, generator=g), "sh_rest": torch.zeros(n, 3, 3)}
    params = {k: torch.nn.Parameter(v) for k, v in p.items()}
    opt = torch.optim.Adam([{"params": [v], "lr": 1e-3, "name": k} for k, v in params.items()])
    return params, opt


def test_relocation_params_single_copy_is_identity():
    o = torch.tensor([0.3, 0.9])
    s = torch.rand(2, 3)
    new_o, new_s = relocation_params(o, s, torch.ones(2, dtype=torch.long))
    torch.testing.assert_close(new_o, o)
    torch.testing.assert_close(new_s, s)


def test_relocation_params_two_copies_compose_to_the_original_opacity():
    o = torch.tensor([0.5, 0.8], dtype=torch.float64)
    new_o, _ = relocation_params(o, torch.ones(2, 3, dtype=torch.float64),
                                 torch.full((2,), 2, dtype=torch.long))
    torch.testing.assert_close(1 - (1 - new_o) ** 2, o)  # two stacked copies = original alpha


def test_mcmc_moves_every_dead_gaussian_onto_a_live_one():
    params, opt = make_params(200)
    with torch.no_grad():
        params["opacity_logits"][:50] = -10.0  # dead
    before_live = params["means"][50:].detach().clone()
    moved = MCMCStrategy(seed=1).relocate(params, opt)
    assert moved == 50
    assert (torch.sigmoid(params["opacity_logits"]) > 0.005).all()
    # every relocated mean sits exactly on a previously live Gaussian
    d = torch.cdist(params["means"][:50].detach(), before_live,
                    compute_mode="donot_use_mm_for_euclid_dist")
    assert (d.min(1).values < 1e-6).all()
    assert params["means"].shape[0] == 200  # fixed budget


def test_classic_prunes_and_grows_under_budget():
    params, opt = make_params(100)
    with torch.no_grad():
        params["opacity_logits"][:10] = -10.0
    strat = ClassicStrategy(budget=120, densify_fraction=0.2)
    params["means"].grad = torch.zeros(100, 3)
    params["means"].grad[10:30] = 1.0
    strat.accumulate(params)
    counts = strat.refine(params, opt)
    assert counts["pruned"] == 10
    assert counts["cloned"] + counts["split"] == 20
    assert params["means"].shape[0] == counts["total"] == 90 + counts["cloned"] + \
        counts["split"]  # a split replaces one Gaussian by two
    assert all(p.shape[0] == counts["total"] for p in params.values())
    assert opt.param_groups[0]["params"][0] is params["means"]
