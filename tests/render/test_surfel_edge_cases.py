"""Surfel edge cases through both backends: edge-on splats, planes, culling, degenerate
inputs, determinism, validation and import hygiene."""

import math
import subprocess
import sys

import pytest
import torch

from splatsynth.render import rasterize_surfels, set_num_threads

from .surfel_scenes import FIELDS, OUTPUTS, leaves, render, surfel_scene, weighted_loss

BACKENDS = ("torch", "numba")


def _both(scene, names=FIELDS):
    res = {}
    for be in BACKENDS:
        t = leaves(scene, names)
        out = render(scene, t, be)
        weighted_loss(out).backward()
        res[be] = (out, {k: t[k].grad for k in names})
    return res


def _assert_same(res, where):
    (ro, rg), (no, ng) = res["torch"], res["numba"]
    assert torch.equal(ro.radii, no.radii), where
    for name in OUTPUTS:
        a, b = getattr(no, name).detach(), getattr(ro, name).detach()
        assert torch.isfinite(a).all(), f"{where}: {name}"
        assert (a - b).norm() <= 1e-9 * max(1.0, float(b.norm())), f"{where}: {name}"
    for k in rg:
        assert torch.isfinite(ng[k]).all(), f"{where}: d/d{k} not finite"
        assert (ng[k] - rg[k]).norm() <= 1e-8 * max(1.0, float(rg[k].norm())), f"{where}: d/d{k}"


def _camera_at_origin(n, size=16, f=16.0):
    dt = torch.float64
    K = torch.tensor([[[f, 0, size / 2], [0, f, size / 2], [0, 0, 1]]], dtype=dt)
    g = torch.Generator().manual_seed(0)
    return dict(
        means=torch.zeros(n, 3, dtype=dt),
        quats=torch.tensor([[1.0, 0, 0, 0]] * n, dtype=dt),
        scales=torch.full((n, 2), 0.2, dtype=dt),
        opacities=torch.full((n,), 0.9, dtype=dt),
        colors=torch.rand(n, 3, dtype=dt, generator=g),
        viewmats=torch.eye(4, dtype=dt)[None],
        Ks=K,
        backgrounds=torch.tensor([[0.1, 0.2, 0.3]], dtype=dt),
        width=size,
        height=size,
        sh_degree=None,
    )


def test_edge_on_surfel_falls_back_to_a_thin_screen_blob():
    """A disc seen exactly edge-on has no ray-splat intersection; the low-pass fallback keeps
    it visible as a ~1 px blob at its centre (at its centre depth), with finite gradients."""
    s = _camera_at_origin(1)
    s["means"][0] = torch.tensor([0.0, 0.0, 2.0])
    # rotate the normal onto +x: the plane x = 0 contains the camera centre (1e-7 off, so
    # which side faces the camera is not decided by rounding)
    ang = math.pi / 4 + 1e-7
    s["quats"][0] = torch.tensor([math.cos(ang), 0.0, math.sin(ang), 0.0], dtype=torch.float64)
    s["scales"][0] = torch.tensor([0.5, 0.5])
    res = _both(s)
    out = res["numba"][0]
    a = out.alphas[0, ..., 0]
    assert a.max() > 0.5  # the centre pixels are drawn ...
    assert (a > 1 / 255).sum() <= 16  # ... as a small blob, not a smeared line
    covered = a > 0.05
    assert torch.allclose(out.depths[0, ..., 0][covered] / a[covered],
                          torch.tensor(2.0, dtype=torch.float64))
    _assert_same(res, "edge-on")


def test_tilted_plane_reads_its_own_depth_and_normal():
    """Surfels tiling one tilted plane: expected and median depth lie on the plane along
    every ray, and the rendered normal (normalized) is the plane's normal, camera-facing."""
    s = _camera_at_origin(49, size=24, f=20.0)
    ang = math.radians(35.0)
    n = torch.tensor([math.sin(ang), 0.0, -math.cos(ang)], dtype=torch.float64)  # faces camera
    eu = torch.tensor([math.cos(ang), 0.0, math.sin(ang)], dtype=torch.float64)
    ev = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)
    centre = torch.tensor([0.0, 0.0, 3.0], dtype=torch.float64)
    g = torch.linspace(-1.2, 1.2, 7, dtype=torch.float64)
    s["means"] = (centre + g[:, None, None] * eu + g[None, :, None] * ev).reshape(-1, 3)
    # rotation with columns (eu, ev, -n): about +y by -ang ... built from the matrix directly
    R = torch.stack([eu, ev, torch.linalg.cross(eu, ev)], dim=1)
    w = 0.5 * math.sqrt(1 + R[0, 0] + R[1, 1] + R[2, 2])
    q = torch.tensor([w, (R[2, 1] - R[1, 2]) / (4 * w), (R[0, 2] - R[2, 0]) / (4 * w),
                      (R[1, 0] - R[0, 1]) / (4 * w)], dtype=torch.float64)
    s["quats"] = q.expand(49, 4).clone()
    s["scales"] = torch.full((49, 2), 0.35, dtype=torch.float64)
    res = _both(s)
    out = res["numba"][0]
    a = out.alphas[0, ..., 0]
    covered = a > 0.9
    assert covered.sum() > 150
    # the plane n.X = n.centre along the ray through each pixel centre
    r = torch.arange(24.0, dtype=torch.float64)
    j, i = torch.meshgrid(r, r, indexing="ij")
    d = torch.stack([(i + 0.5 - 12) / 20, (j + 0.5 - 12) / 20, torch.ones_like(i)], -1)
    z_plane = (n @ centre) / (d @ n)
    ed = out.depths[0, ..., 0] / a
    assert (ed - z_plane)[covered].abs().max() < 1e-9
    assert (out.median_depths[0, ..., 0] - z_plane)[covered].abs().max() < 1e-9
    nr = out.normals[0][covered]
    nr = nr / nr.norm(dim=-1, keepdim=True)
    assert (nr - n).abs().max() < 1e-12
    assert out.distortion[0, ..., 0][covered].abs().max() < 1e-9  # one surface: no spread
    _assert_same(res, "tilted plane")


def test_behind_camera_near_plane_and_too_large_are_culled():
    s = surfel_scene(10, n=30, cams=1)
    vm = s["viewmats"][0]
    R, t = vm[:3, :3], vm[:3, 3]
    cam_pts = torch.tensor([[0.0, 0.0, -1.0], [0.1, 0.0, 0.005], [0.0, 0.002, 0.05],
                            [0.0, 0.0, 0.3]], dtype=torch.float64)
    s["means"][:4] = (cam_pts - t) @ R
    s["scales"][2] = 0.01  # small and just past the near plane: kept
    s["scales"][3] = 5.0  # reaches behind the camera plane: culled
    res = _both(s)
    radii = res["numba"][0].radii[0]
    assert radii[0] == 0 and radii[1] == 0 and radii[3] == 0
    assert radii[2] > 0 and (radii[4:] > 0).sum() > 10
    _assert_same(res, "culling")


def test_everything_off_screen_gives_background():
    s = surfel_scene(11, n=20, cams=2)
    s["means"] = s["means"] + torch.tensor([0.0, 0.0, 50.0], dtype=torch.float64)
    for be, (out, grads) in _both(s).items():
        bg = s["backgrounds"][:, None, None, :].expand_as(out.colors)
        assert torch.equal(out.colors.detach(), bg), be
        for name in ("alphas", "depths", "normals", "distortion", "median_depths"):
            assert torch.all(getattr(out, name) == 0), f"{be}: {name}"
        for k in ("means", "quats", "scales", "opacities", "colors"):
            assert torch.all(grads[k] == 0), f"{be}: d/d{k}"


def test_degenerate_scales_and_opacities():
    s = surfel_scene(14, n=30, cams=2)
    s["scales"][0] = 0.0  # a point: only the screen-space fallback remains
    s["scales"][1, 1] = 0.0  # a line segment
    s["opacities"][3] = 0.0
    s["opacities"][4] = 1.0  # alpha clamps at 0.99
    res = _both(s)
    out, grads = res["numba"]
    assert torch.all(out.radii[:, 3] == 0) and torch.all(grads["opacities"][3] == 0)
    assert torch.all(out.radii[:, 0] > 0)  # the point is still drawn
    _assert_same(res, "degenerate")


@pytest.mark.parametrize("n", [0, 1])
def test_zero_and_one_surfel(n):
    s = surfel_scene(15, n=max(n, 1), cams=2)
    if n == 0:
        for k in ("means", "quats", "scales", "opacities", "colors"):
            s[k] = s[k][:0]
    res = _both(s)
    for out, grads in res.values():
        assert out.colors.shape == (2, 30, 40, 3) and out.normals.shape == (2, 30, 40, 3)
        assert out.radii.shape == (2, n) and grads["means"].shape == (n, 3)
        assert grads["scales"].shape == (n, 2)
    if n == 1:
        assert res["numba"][0].alphas.max() > 0
        _assert_same(res, "N=1")


def test_third_scale_is_ignored():
    s = surfel_scene(18, n=20, cams=1)
    a = render(s, {}, "numba")
    s3 = dict(s, scales=torch.cat([s["scales"], torch.full((20, 1), 7.0, dtype=torch.float64)], 1))
    b = render(s3, {}, "numba")
    for name in OUTPUTS:
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    t = leaves(s3, ("scales",))
    weighted_loss(render(s3, t, "numba")).backward()
    assert torch.all(t["scales"].grad[:, 2] == 0) and t["scales"].grad[:, :2].abs().sum() > 0


def test_results_are_deterministic_across_runs_and_thread_counts():
    s = surfel_scene(16, n=400, width=64, height=48, cams=3, sh_degree=3, dtype=torch.float32)
    runs = []
    try:
        for threads in (None, 1, 3, None):
            set_num_threads(threads)
            t = leaves(s)
            out = render(s, t, "numba")
            weighted_loss(out).backward()
            runs.append([getattr(out, k).detach() for k in OUTPUTS]
                        + [t[k].grad for k in FIELDS])
    finally:
        set_num_threads(None)
    for r in runs[1:]:
        for a, b in zip(runs[0], r):
            assert torch.equal(a, b)


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(scales=torch.ones(5, 1)), "scales must be [N, 2] or [N, 3]"),
        (dict(scales=-torch.ones(5, 2)), "scales has negative values"),
        (dict(means=torch.zeros(5, 2)), "means must be [N, 3]"),
        (dict(opacities=torch.full((5,), 1.5)), "opacities must be in [0, 1]"),
        (dict(colors=torch.zeros(5, 3, 3), sh_degree=1), "colors must be [N, K>=4, 3]"),
        (dict(viewmats=torch.eye(4)), "viewmats must be [C, 4, 4]"),
        (dict(backend="gsplat"), "backend must be one of"),
        (dict(near_plane=0.0), "need 0 < near_plane < far_plane"),
    ],
)
def test_invalid_inputs_raise_clear_errors(change, message):
    import re

    args = dict(means=torch.zeros(5, 3), quats=torch.tensor([[1.0, 0, 0, 0]]).expand(5, 4),
                scales=torch.ones(5, 2), opacities=torch.ones(5), colors=torch.ones(5, 3),
                viewmats=torch.eye(4)[None], Ks=torch.eye(3)[None], width=8, height=8)
    kw = dict(sh_degree=None, backgrounds=None, backend="numba", near_plane=0.01)
    for k, v in change.items():
        (args if k in args else kw)[k] = v
    with pytest.raises(ValueError, match=re.escape(message)) as err:
        rasterize_surfels(*args.values(), **kw)
    assert str(err.value).startswith("rasterize_surfels: ")


def test_import_compiles_nothing():
    code = (
        "import splatsynth.render.surfels, splatsynth.render.kernels.surfel_raster as R, "
        "splatsynth.render.kernels.surfel_projection as P\n"
        "fns = [R.surfel_raster_fwd, R.surfel_raster_bwd, P.surfel_project_fwd, "
        "P.surfel_project_bwd]\n"
        "assert all(len(f.signatures) == 0 for f in fns), [f.signatures for f in fns]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
