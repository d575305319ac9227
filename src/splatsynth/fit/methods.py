"""One adapter per primitive: 3D Gaussians (3DGS) and 2D surfels (2DGS).

The fit, the renders of fitted scenes and the pipeline ask the adapter of ``fit.method``
instead of branching on it: how to rasterize, how to read depth, which extra loss terms the
method brings, how a fresh set of Gaussians is adjusted. A new method (e.g. a GPU backend's
own primitive) is one more class here and one more name in :data:`METHODS`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

import torch

from ..gaussians import Gaussians
from ..losses import depth_distortion_loss, normal_consistency_loss


class Method(Protocol):
    """What the fit and the renderers need to know about a primitive."""

    name: ClassVar[str]
    has_normals: ClassVar[bool]
    """Whether renders carry surface normals (normal maps, ``output.normals``)."""

    def rasterizer(self) -> Callable[..., Any]:
        """The differentiable rasterizer (``splatsynth.render.rasterize`` or
        ``rasterize_surfels``); imported on first use so ``import splatsynth`` stays cheap."""
        ...

    def render(self, means: torch.Tensor, quats: torch.Tensor, scales: torch.Tensor,
               opacities: torch.Tensor, sh: torch.Tensor, viewmats: torch.Tensor,
               Ks: torch.Tensor, width: int, height: int, *, sh_degree: int,
               backgrounds: torch.Tensor | None = None, depth: bool = False,
               backend: str = "auto") -> Any:
        """Rasterize; ``depth`` asks for what :meth:`expected_depth` reads."""
        ...

    def expected_depth(self, out: Any) -> torch.Tensor:
        """[C, H, W] alpha-normalized camera-frame depth of a :meth:`render` output made with
        ``depth=True``."""
        ...

    def prepare(self, gaussians: Gaussians) -> None:
        """Adjust freshly initialised Gaussians in place for this primitive."""
        ...

    def loss_weights(self, step: int, cfg: Any) -> dict[str, float]:
        """Weights of the method's own loss terms at ``step`` (``cfg``: the FitConfig)."""
        ...

    def loss_terms(self, out: Any, Ks: torch.Tensor, weights: dict[str, float]
                   ) -> dict[str, torch.Tensor]:
        """The method's weighted loss terms on a training render ``out`` ([1, 3, 3] Ks)."""
        ...


class Gaussians3D:
    """3DGS: volumetric Gaussians, EWA splatting."""

    name: ClassVar[str] = "3dgs"
    has_normals: ClassVar[bool] = False

    def rasterizer(self) -> Callable[..., Any]:
        from ..render import rasterize

        return rasterize

    def render(self, means, quats, scales, opacities, sh, viewmats, Ks, width, height, *,
               sh_degree, backgrounds=None, depth=False, backend="auto"):
        return self.rasterizer()(means, quats, scales, opacities, sh, viewmats, Ks, width,
                                 height, sh_degree=sh_degree, backgrounds=backgrounds,
                                 render_mode="RGB+ED" if depth else "RGB", backend=backend)

    def expected_depth(self, out) -> torch.Tensor:
        return out.colors[..., 3]

    def prepare(self, gaussians: Gaussians) -> None:
        pass

    def loss_weights(self, step: int, cfg: Any) -> dict[str, float]:
        return {}

    def loss_terms(self, out, Ks, weights) -> dict[str, torch.Tensor]:
        return {}


class Surfels2D:
    """2DGS: flat surfels with exact ray-splat intersection, depth distortion and normal
    consistency."""

    name: ClassVar[str] = "2dgs"
    has_normals: ClassVar[bool] = True

    def rasterizer(self) -> Callable[..., Any]:
        from ..render import rasterize_surfels

        return rasterize_surfels

    def render(self, means, quats, scales, opacities, sh, viewmats, Ks, width, height, *,
               sh_degree, backgrounds=None, depth=False, backend="auto"):
        # surfels always render depth, normals and distortion
        return self.rasterizer()(means, quats, scales, opacities, sh, viewmats, Ks, width,
                                 height, sh_degree=sh_degree, backgrounds=backgrounds,
                                 backend=backend)

    def expected_depth(self, out) -> torch.Tensor:
        return out.depths[..., 0] / out.alphas[..., 0].clamp_min(1e-10)

    def prepare(self, gaussians: Gaussians) -> None:
        # Surfels ignore the third scale; keep it tiny so 3DGS viewers of the PLY show discs.
        gaussians.log_scales[:, 2] = math.log(1e-4)
        # Identity rotations would lay every surfel flat (normal +Z); start them facing
        # outwards from the subject's centre instead, which the normal loss then refines.
        gaussians.quats_wxyz.copy_(quats_facing(gaussians.means - gaussians.means.mean(0)))

    def loss_weights(self, step: int, cfg: Any) -> dict[str, float]:
        if step <= cfg.regularizer_start:
            return {}
        return {"distortion": cfg.depth_weight, "normal": cfg.normal_weight}

    def loss_terms(self, out, Ks, weights) -> dict[str, torch.Tensor]:
        terms = {}
        if "distortion" in weights:
            terms["distortion"] = weights["distortion"] * depth_distortion_loss(out.distortion)
        if "normal" in weights:
            terms["normal"] = weights["normal"] * normal_consistency_loss(
                out.normals, out.median_depths, Ks, out.alphas)
        return terms


#: The adapter of each ``fit.method``.
METHODS: dict[str, Method] = {m.name: m for m in (Gaussians3D(), Surfels2D())}


def method_of(name: str) -> Method:
    """The adapter of ``fit.method`` ``name``."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown fit.method {name!r}; known: {sorted(METHODS)}") from None


def quats_facing(directions: torch.Tensor) -> torch.Tensor:
    """[N, 3] directions -> [N, 4] wxyz rotations taking +Z onto each (shortest arc)."""
    n = torch.nn.functional.normalize(directions, dim=-1)
    q = torch.stack([1.0 + n[:, 2], -n[:, 1], n[:, 0], torch.zeros_like(n[:, 0])], -1)
    flip = q[:, 0] < 1e-6  # n = -Z: any half-turn about a horizontal axis
    q[flip] = torch.tensor([0.0, 1.0, 0.0, 0.0], dtype=q.dtype)
    return torch.nn.functional.normalize(q, dim=-1)
