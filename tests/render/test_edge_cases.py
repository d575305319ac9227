"""Edge cases through both backends, determinism, input validation, thread hygiene."""

import subprocess
import sys

import pytest
import torch

from splatsynth.render import rasterize, set_num_threads

from .scenes import FIELDS, leaves, random_scene, rel_err, render, weighted_loss

BACKENDS = ("torch", "numba")


def _both(scene, names=tuple(k for k in FIELDS if k != "Ks")):
    """Render and backprop through both backends; return {backend: (out, grads)}."""
    res = {}
    for be in BACKENDS:
        t = leaves(scene, names)
        out = render(scene, t, be, render_mode="RGB+ED")
        weighted_loss(out).backward()
        res[be] = (out, {k: t[k].grad for k in names})
    return res


def _assert_same(res, where):
    (ro, rg), (no, ng) = res["torch"], res["numba"]
    assert torch.equal(ro.radii, no.radii), where
    for a, b in ((no.colors, ro.colors), (no.alphas, ro.alphas)):
        assert torch.isfinite(a).all(), where
        assert rel_err(a.detach(), b.detach()) < 1e-6, where
    for k in rg:
        assert rg[k] is not None and ng[k] is not None, f"{where}: {k}"
        assert torch.isfinite(ng[k]).all(), f"{where}: d/d{k} not finite"
        assert (ng[k] - rg[k]).norm() <= 1e-6 * max(1.0, float(rg[k].norm())), f"{where}: d/d{k}"


def _assert_background_only(res, scene):
    for be, (out, grads) in res.items():
        bg = scene["backgrounds"][:, None, None, :].expand_as(out.colors[..., :3])
        assert torch.equal(out.colors[..., :3].detach(), bg), be
        assert torch.all(out.alphas == 0) and torch.all(out.radii == 0), be
        for k in ("means", "quats", "scales", "opacities", "colors"):
            assert torch.all(grads[k] == 0), f"{be}: d/d{k}"


def test_behind_camera_and_straddling_near_plane():
    s = random_scene(10, n=30, cams=1)
    vm = s["viewmats"][0]
    R, t = vm[:3, :3], vm[:3, 3]
    # camera-frame points: behind, just in front of near (0.01), and a wide one whose centre is
    # behind near but whose extent reaches in front of it
    cam_pts = torch.tensor([[0.0, 0.0, -1.0], [0.1, 0.0, 0.005], [0.0, 0.1, 0.02],
                            [0.0, 0.0, 0.3]], dtype=torch.float64)
    s["means"][:4] = (cam_pts - t) @ R  # world = R^T (p - t)
    s["scales"][1] = 0.5
    res = _both(s)
    radii = res["numba"][0].radii[0]
    assert radii[0] == 0 and radii[1] == 0  # behind, and centre before the near plane
    assert radii[2] > 0 and radii[3] > 0
    _assert_same(res, "near plane")


def test_everything_behind_or_off_screen_gives_background():
    s = random_scene(11, n=20, cams=2)
    s["means"] = s["means"] + torch.tensor([0.0, 0.0, 50.0], dtype=torch.float64)  # far above
    _assert_background_only(_both(s), s)
    s2 = random_scene(12, n=20, cams=1)
    vm = s2["viewmats"][0]
    s2["means"] = (torch.tensor([[0.0, 0.0, -3.0]], dtype=torch.float64) - vm[:3, 3]) @ vm[:3, :3]
    s2["means"] = s2["means"].expand(20, 3).clone()  # all behind the camera
    _assert_background_only(_both(s2), s2)


def test_one_gaussian_covering_the_whole_image():
    s = random_scene(13, n=1, width=45, height=35, cams=2, sh_degree=1)
    s["means"][:] = 0.0
    s["scales"][:] = torch.tensor([1.5, 1.2, 1.8], dtype=torch.float64)
    s["opacities"][:] = 0.7
    res = _both(s)
    out = res["numba"][0]
    assert out.alphas.min() > 0.05  # every pixel of both cameras is covered
    _assert_same(res, "one big Gaussian")


def test_degenerate_scales_and_zero_opacity():
    s = random_scene(14, n=30, cams=2)
    s["scales"][0] = 0.0  # a point: only the eps2d blur remains
    s["scales"][1, 2] = 0.0  # a flat disc
    s["scales"][2, :2] = 0.0  # a needle
    s["opacities"][3] = 0.0
    s["opacities"][4] = 1.0  # alpha clamps at 0.99
    res = _both(s)
    assert torch.all(res["numba"][0].radii[:, 3] == 0)
    assert torch.all(res["numba"][1]["opacities"][3] == 0)
    _assert_same(res, "degenerate")


@pytest.mark.parametrize("n", [0, 1])
def test_zero_and_one_gaussian(n):
    s = random_scene(15, n=max(n, 1), cams=2)
    if n == 0:
        for k in ("means", "quats", "scales", "opacities", "colors"):
            s[k] = s[k][:0]
    res = _both(s)
    for _be, (out, grads) in res.items():
        assert out.colors.shape == (2, 30, 40, 4) and out.radii.shape == (2, n)
        assert grads["means"].shape == (n, 3)
    if n == 0:
        for _be, (out, grads) in res.items():
            bg = s["backgrounds"][:, None, None, :].expand(2, 30, 40, 3)
            assert torch.equal(out.colors[..., :3].detach(), bg)
            assert torch.equal(grads["backgrounds"], res["torch"][1]["backgrounds"])
    else:
        assert res["numba"][0].alphas.max() > 0
        _assert_same(res, "N=1")


def test_gradients_are_deterministic_across_runs_and_thread_counts():
    s = random_scene(16, n=300, width=64, height=48, cams=3, sh_degree=3,
                     dtype=torch.float32)
    runs = []
    try:
        for threads in (None, 1, 3, None):
            set_num_threads(threads)
            t = leaves(s)
            out = render(s, t, "numba")
            weighted_loss(out).backward()
            runs.append([out.colors.detach()] + [t[k].grad for k in FIELDS if k != "Ks"])
    finally:
        set_num_threads(None)
    for r in runs[1:]:
        for a, b in zip(runs[0], r):
            assert torch.equal(a, b)


def test_torch_thread_count_is_restored():
    s = random_scene(17, n=50, cams=1)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        t = leaves(s)
        weighted_loss(render(s, t, "numba")).backward()
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(means=torch.zeros(5, 2)), "means must be [N, 3]"),
        (dict(quats=torch.zeros(4, 4)), "quats must be [N, 4]"),
        (dict(opacities=torch.full((5,), 1.5)), "opacities must be in [0, 1]"),
        (dict(scales=-torch.ones(5, 3)), "scales has negative values"),
        (dict(quats=torch.zeros(5, 4)), "quats has a zero-norm row"),
        (dict(means=torch.full((5, 3), float("nan"))), "means has NaN or inf"),
        (dict(colors=torch.zeros(5, 4, 3)), "colors must be [N, 3] RGB"),
        (dict(colors=torch.zeros(5, 3, 3), sh_degree=1), "colors must be [N, K>=4, 3]"),
        (dict(scales=torch.ones(5, 3, dtype=torch.float64)), "use one dtype"),
        (dict(means=torch.zeros(5, 3, dtype=torch.int64)), "float32 or float64"),
        (dict(viewmats=torch.eye(4)), "viewmats must be [C, 4, 4]"),
        (dict(Ks=torch.eye(3)[None].expand(2, 3, 3)), "Ks must be [C, 3, 3]"),
        (dict(backgrounds=torch.zeros(2, 3)), "backgrounds must be [C, 3]"),
        (dict(width=0), "width must be a positive int"),
        (dict(render_mode="D"), "render_mode must be one of"),
        (dict(backend="cuda"), "backend must be one of"),
        (dict(near_plane=0.0), "need 0 < near_plane < far_plane"),
    ],
)
def test_invalid_inputs_raise_clear_errors(change, message):
    args = dict(means=torch.zeros(5, 3), quats=torch.tensor([[1.0, 0, 0, 0]]).expand(5, 4),
                scales=torch.ones(5, 3), opacities=torch.ones(5), colors=torch.ones(5, 3),
                viewmats=torch.eye(4)[None], Ks=torch.eye(3)[None], width=8, height=8)
    kw = dict(sh_degree=None, backgrounds=None, render_mode="RGB", backend="numba",
              near_plane=0.01)
    for k, v in change.items():
        (args if k in args else kw)[k] = v
    with pytest.raises(ValueError, match=_re(message)) as err:
        rasterize(*args.values(), **kw)
    assert str(err.value).startswith("rasterize: ")


def _re(s: str) -> str:
    import re

    return re.escape(s)


def test_import_compiles_nothing_and_skips_gsplat():
    code = (
        "import sys, splatsynth.render, splatsynth.render.kernels.raster as R, "
        "splatsynth.render.kernels.projection as P, splatsynth.render.kernels.tiles as T\n"
        "assert 'gsplat' not in sys.modules\n"
        "fns = [T.bin_count, T.depth_order, R.raster_fwd, R.raster_bwd, P.project_fwd,"
        " P.project_bwd]\n"
        "assert all(len(f.signatures) == 0 for f in fns), [f.signatures for f in fns]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_render_gaussians_at_cameras_matches_rasterize():
    from splatsynth.cameras import Camera
    from splatsynth.render import render_gaussians

    s = random_scene(18, n=40, width=36, height=28, cams=2, sh_degree=2)
    cams = [Camera(s["viewmats"][c].numpy(), s["Ks"][c, 0, 0], s["Ks"][c, 1, 1],
                   s["Ks"][c, 0, 2], s["Ks"][c, 1, 2], 36, 28) for c in range(2)]
    a = render_gaussians(s["means"], s["quats"], s["scales"], s["opacities"], s["colors"], cams,
                         sh_degree=2, backgrounds=s["backgrounds"])
    b = render(s, {}, "numba")
    assert torch.equal(a.colors, b.colors) and torch.equal(a.radii, b.radii)
    with pytest.raises(ValueError, match="one image size"):
        render_gaussians(s["means"], s["quats"], s["scales"], s["opacities"], s["colors"],
                         [cams[0], cams[1].resized(18, 14)], sh_degree=2)


def test_forked_child_can_render():
    """The kernel thread pool is rebuilt after fork (batch workers may fork the parent).

    torch's own OpenMP pool is not fork-safe (a parallel torch op in the child hangs once the
    parent used it), so the child runs torch at one thread, as forked workers must anyway.
    """
    import multiprocessing as mp

    s = random_scene(19, n=5000, width=96, height=96, cams=1, dtype=torch.float32)
    parent = render(s, {}, "numba").colors  # the parent's pool now exists
    ctx = mp.get_context("fork")
    with ctx.Pool(1) as pool:
        child = pool.apply_async(_render_in_child, (s,)).get(timeout=60)
    assert torch.equal(parent, child)


def _render_in_child(s):
    torch.set_num_threads(1)
    return render(s, {}, "numba").colors
