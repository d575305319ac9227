"""Helpers for the surfel (2DGS) rasterizer tests (pure functions, no fixtures)."""

from __future__ import annotations

import torch

from .scenes import random_scene

FIELDS = ("means", "quats", "scales", "opacities", "colors", "viewmats", "backgrounds")
OUTPUTS = ("colors", "alphas", "depths", "median_depths", "normals", "distortion")


def surfel_scene(seed: int, **kw) -> dict:
    """:func:`random_scene` with [N, 2] tangent scales (the same random draw otherwise)."""
    s = random_scene(seed, **kw)
    s["scales"] = s["scales"][:, :2].contiguous()
    return s


def leaves(scene: dict, names=FIELDS) -> dict:
    """Fresh leaf copies (requires_grad) of the named tensors."""
    return {k: scene[k].detach().clone().requires_grad_(True) for k in names}


def render(scene: dict, tensors: dict, backend: str, **kw):
    """rasterize_surfels() with the scene's tensors, overridden by ``tensors``."""
    from splatsynth.render import rasterize_surfels

    t = {k: tensors.get(k, scene[k]) for k in FIELDS + ("Ks",)}
    return rasterize_surfels(t["means"], t["quats"], t["scales"], t["opacities"], t["colors"],
                             t["viewmats"], t["Ks"], scene["width"], scene["height"],
                             sh_degree=scene["sh_degree"], backgrounds=t["backgrounds"],
                             backend=backend, **kw)


def weighted_loss(out, seed: int = 123) -> torch.Tensor:
    """A scalar weighting every pixel and channel of every image output by a fixed random
    number, so every output's backward path is exercised."""
    g = torch.Generator().manual_seed(seed)
    total = 0.0
    for name in OUTPUTS:
        x = getattr(out, name)
        wt = torch.randn(x.shape, generator=g, dtype=torch.float64).to(x.dtype)
        total = total + (x * wt).sum()
    return total


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """Relative L2 error of a against the reference b (absolute when b is ~0)."""
    return float((a - b).norm() / b.norm().clamp_min(1e-12))
