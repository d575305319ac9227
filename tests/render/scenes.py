"""Small random scenes for the rasterizer tests (pure functions, no fixtures)."""

from __future__ import annotations

import numpy as np
import torch

from splatsynth.cameras.orbits import look_at_w2c

FIELDS = ("means", "quats", "scales", "opacities", "colors", "viewmats", "Ks", "backgrounds")


def random_scene(
    seed: int,
    n: int = 40,
    width: int = 40,
    height: int = 30,
    cams: int = 2,
    sh_degree: int | None = None,
    dtype: torch.dtype = torch.float64,
    scale: tuple[float, float] = (0.02, 0.15),
) -> dict:
    """Gaussians in a ball of radius ~0.6 seen by ``cams`` cameras ~2.5 units away."""
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(n, 3, generator=g, dtype=torch.float64) * 0.35
    quats = torch.randn(n, 4, generator=g, dtype=torch.float64)
    lo, hi = np.log(scale[0]), np.log(scale[1])
    scales = torch.exp(torch.rand(n, 3, generator=g, dtype=torch.float64) * (hi - lo) + lo)
    opac = torch.rand(n, generator=g, dtype=torch.float64) * 0.9 + 0.05
    if sh_degree is None:
        colors = torch.rand(n, 3, generator=g, dtype=torch.float64)
    else:
        colors = torch.randn(n, (sh_degree + 1) ** 2, 3, generator=g, dtype=torch.float64) * 0.4
    vms, Ks = [], []
    for c in range(cams):
        ang = 0.9 * c + 0.3 * seed
        eye = np.array([2.5 * np.cos(ang), 2.5 * np.sin(ang), 0.8 - 0.3 * c])
        vms.append(look_at_w2c(eye, np.zeros(3), np.array([0.0, 0.0, 1.0])))
        f = 0.9 * width + 3 * c
        Ks.append([[f, 0, width / 2 + c], [0, f * 1.02, height / 2 - c], [0, 0, 1]])
    bgs = torch.rand(cams, 3, generator=g, dtype=torch.float64)
    out = dict(means=means, quats=quats, scales=scales, opacities=opac, colors=colors,
               viewmats=torch.tensor(np.array(vms)), Ks=torch.tensor(Ks), backgrounds=bgs)
    out = {k: v.to(dtype) for k, v in out.items()}
    out.update(width=width, height=height, sh_degree=sh_degree)
    return out


def leaves(scene: dict, names=FIELDS) -> dict:
    """Fresh leaf copies (requires_grad) of the named tensors."""
    return {k: scene[k].detach().clone().requires_grad_(True) for k in names}


def render(scene: dict, tensors: dict, backend: str, **kw):
    """rasterize() with the scene's tensors, overridden by ``tensors``."""
    from splatsynth.render import rasterize

    t = {k: tensors.get(k, scene[k]) for k in FIELDS}
    return rasterize(t["means"], t["quats"], t["scales"], t["opacities"], t["colors"],
                     t["viewmats"], t["Ks"], scene["width"], scene["height"],
                     sh_degree=scene["sh_degree"], backgrounds=t["backgrounds"],
                     backend=backend, **kw)


def weighted_loss(out, seed: int = 123) -> torch.Tensor:
    """A scalar that weights every output pixel and channel by a fixed random number."""
    g = torch.Generator().manual_seed(seed)
    wc = torch.randn(out.colors.shape, generator=g, dtype=torch.float64).to(out.colors.dtype)
    wa = torch.randn(out.alphas.shape, generator=g, dtype=torch.float64).to(out.alphas.dtype)
    return (out.colors * wc).sum() + (out.alphas * wa).sum()


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """Relative L2 error of a against the reference b (absolute when b is ~0)."""
    return float((a - b).norm() / b.norm().clamp_min(1e-12))
