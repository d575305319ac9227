"""Public entries: ``rasterize`` (3DGS; SPEC §8, mirrors gsplat's ``rasterization``) and
``rasterize_surfels`` (2DGS).

Each checks its inputs (``_validate``), then runs one projection + compositing pair: the numba
fast path (``projection``, ``rasterization``, ``surfels``: autograd Functions over the kernels)
or the plain-torch reference (``reference/``, same names and signatures). This is the only
module that imports both.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch

from ._validate import check_inputs
from .types import RenderOut, SurfelRenderOut

if TYPE_CHECKING:
    from ..cameras import Camera

Backend = Literal["auto", "numba", "torch", "gsplat"]
SurfelBackend = Literal["auto", "numba", "torch"]
RenderMode = Literal["RGB", "RGB+ED"]
_BACKENDS = ("auto", "numba", "torch", "gsplat")
_SURFEL_BACKENDS = ("auto", "numba", "torch")
_MODES = ("RGB", "RGB+ED")


def rasterize(
    means: torch.Tensor,
    quats: torch.Tensor,
    scales: torch.Tensor,
    opacities: torch.Tensor,
    colors: torch.Tensor,
    viewmats: torch.Tensor,
    Ks: torch.Tensor,
    width: int,
    height: int,
    *,
    sh_degree: int | None = None,
    backgrounds: torch.Tensor | None = None,
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    eps2d: float = 0.3,
    render_mode: RenderMode = "RGB",
    backend: Backend = "auto",
) -> RenderOut:
    """Render N 3D Gaussians into C cameras (3DGS, EWA splatting, front-to-back alpha blending).

    Convention: OpenCV cameras (x right, y down, z forward); ``viewmats`` are world-to-camera;
    quaternions are wxyz; pixel (i, j) has its centre at (i + 0.5, j + 0.5). Colour from SH is
    ``max(SH(d) + 0.5, 0)`` with d the unit direction from the camera centre to the Gaussian.

    Args:
        means: [N, 3] world positions.
        quats: [N, 4] rotations (wxyz, any non-zero norm).
        scales: [N, 3] activated scales (>= 0; zero makes a flat or point Gaussian).
        opacities: [N] activated opacities in [0, 1].
        colors: [N, 3] RGB, or [N, K, 3] SH coefficients with ``sh_degree`` set
            (K >= (sh_degree + 1)^2; extra coefficients are ignored).
        viewmats: [C, 4, 4] world-to-camera matrices.
        Ks: [C, 3, 3] pinhole intrinsics in pixels (no gradient).
        width, height: image size in pixels (any size; need not be a multiple of 16).
        sh_degree: None for RGB colours, else 0..3.
        backgrounds: [C, 3] colour behind the Gaussians, default black.
        near_plane, far_plane: camera-frame depth range kept.
        eps2d: added to the diagonal of every 2D covariance (low-pass, 3DGS's 0.3).
        render_mode: "RGB", or "RGB+ED" to append the expected depth (depth-weighted blend
            divided by alpha) as a 4th channel.
        backend: "numba" (fast CPU kernels), "torch" (plain reference), "gsplat" (CUDA), or
            "auto": gsplat for CUDA tensors when it is installed, else torch on CUDA and
            numba on CPU.
    Returns:
        :class:`RenderOut` (colors [C, H, W, 3|4], alphas [C, H, W, 1], radii [C, N],
        means2d [C, N, 2]). Differentiable w.r.t. means, quats, scales, opacities, colors,
        viewmats and backgrounds. The numba backend runs its kernels on
        :func:`get_num_threads` threads (all cores by default) and leaves torch's thread
        setting alone.
    Raises:
        ValueError: on a wrong shape, dtype, device, non-finite value or option.
    """
    scales = check_inputs("rasterize", means, quats, scales, opacities, colors, viewmats, Ks,
                          width, height, sh_degree, backgrounds, near_plane, far_plane,
                          eps2d=eps2d, scale_cols=3,
                          options=dict(render_mode=(render_mode, _MODES),
                                       backend=(backend, _BACKENDS)))
    viewmats, Ks, backgrounds = _cast(means.dtype, viewmats, Ks, backgrounds)
    backend = _pick_backend("rasterize", backend, means)
    if backend == "gsplat":
        return _rasterize_gsplat(means, quats, scales, opacities, colors, viewmats, Ks, width,
                                 height, sh_degree, backgrounds, near_plane, far_plane, eps2d,
                                 render_mode)
    depth = render_mode == "RGB+ED"
    if backend == "numba":
        from .projection import project_gaussians
        from .rasterization import rasterize_to_pixels

        extra = dict(with_depth=depth)  # the depth sum is skipped when unused
    else:
        from .reference import project_gaussians, rasterize_to_pixels

        extra = {}
    proj = project_gaussians(means, quats, scales, opacities, colors, viewmats, Ks, width,
                             height, sh_degree=sh_degree, near_plane=near_plane,
                             far_plane=far_plane, eps2d=eps2d)
    rgb, dacc, alphas = rasterize_to_pixels(proj.means2d, proj.conics, proj.colors, opacities,
                                            proj.depths, proj.radii, width, height,
                                            backgrounds=backgrounds, **extra)
    if depth:
        rgb = torch.cat([rgb, dacc / alphas.clamp_min(1e-10)], dim=-1)
    radii = proj.radii.max(dim=-1).values
    return RenderOut(colors=rgb, alphas=alphas, radii=radii, means2d=proj.means2d)


def rasterize_surfels(
    means: torch.Tensor,
    quats: torch.Tensor,
    scales: torch.Tensor,
    opacities: torch.Tensor,
    colors: torch.Tensor,
    viewmats: torch.Tensor,
    Ks: torch.Tensor,
    width: int,
    height: int,
    *,
    sh_degree: int | None = None,
    backgrounds: torch.Tensor | None = None,
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    backend: SurfelBackend = "auto",
) -> SurfelRenderOut:
    """Render N surfels (2DGS) into C cameras with exact ray-splat intersection.

    Convention: OpenCV cameras (x right, y down, z forward); ``viewmats`` are world-to-camera;
    quaternions are wxyz; pixel (i, j) has its centre at (i + 0.5, j + 0.5). Colour from SH is
    ``max(SH(d) + 0.5, 0)`` with d the unit direction from the camera centre to the surfel.
    A surfel's points are ``mean + s_u u R[:, 0] + s_v v R[:, 1]`` with weight
    ``exp(-(u^2 + v^2) / 2)``; its normal is ``R[:, 2]``. Same parameters, SH convention and
    PLY layout as 3DGS (the third scale is ignored).

    Args:
        means: [N, 3] world positions.
        quats: [N, 4] rotations (wxyz, any non-zero norm).
        scales: [N, 2] or [N, 3] activated tangent scales (>= 0; a third column is ignored).
        opacities: [N] activated opacities in [0, 1].
        colors: [N, 3] RGB, or [N, K, 3] SH coefficients with ``sh_degree`` set.
        viewmats: [C, 4, 4] world-to-camera matrices.
        Ks: [C, 3, 3] pinhole intrinsics in pixels (no gradient).
        width, height: image size in pixels.
        sh_degree: None for RGB colours, else 0..3.
        backgrounds: [C, 3] colour behind the surfels, default black.
        near_plane, far_plane: camera-frame depth range of the surfel centres kept.
        backend: "numba" (CPU kernels), "torch" (plain reference, any device), or "auto"
            (numba on CPU, torch elsewhere).
    Returns:
        :class:`SurfelRenderOut`. Differentiable w.r.t. means, quats, scales, opacities,
        colors, viewmats and backgrounds (not Ks). The numba kernels split work over
        :func:`splatsynth.render.get_num_threads` threads with static slices (results do
        not depend on the count) and leave torch's thread setting alone (see
        ``splatsynth.threads``).
    Raises:
        ValueError: on a wrong shape, dtype, device, non-finite value or option.
    """
    scales = check_inputs("rasterize_surfels", means, quats, scales, opacities, colors,
                          viewmats, Ks, width, height, sh_degree, backgrounds, near_plane,
                          far_plane, scale_cols=2,
                          options=dict(backend=(backend, _SURFEL_BACKENDS)))
    viewmats, Ks, backgrounds = _cast(means.dtype, viewmats, Ks, backgrounds)
    if _pick_backend("rasterize_surfels", backend, means) == "numba":
        from .surfels import project_surfels, rasterize_surfels_to_pixels
    else:
        from .reference.surfels import project_surfels, rasterize_surfels_to_pixels

    proj = project_surfels(means, quats, scales, opacities, colors, viewmats, Ks, width, height,
                           sh_degree=sh_degree, near_plane=near_plane, far_plane=far_plane)
    rgb, alpha, depth, normals, dist, median = rasterize_surfels_to_pixels(
        proj.means2d, proj.ray_transforms, proj.colors, proj.normals, opacities, proj.radii,
        proj.boxes, width, height, backgrounds=backgrounds,
    )
    radii = proj.radii.max(dim=-1).values
    return SurfelRenderOut(colors=rgb, alphas=alpha, depths=depth, median_depths=median,
                           normals=normals, distortion=dist, radii=radii, means2d=proj.means2d)


def render_gaussians(
    means: torch.Tensor,
    quats: torch.Tensor,
    scales: torch.Tensor,
    opacities: torch.Tensor,
    colors: torch.Tensor,
    cameras: Sequence[Camera],
    **kwargs,
) -> RenderOut:
    """:func:`rasterize` at a list of :class:`~splatsynth.cameras.Camera` (all the same size).

    Keyword arguments go to :func:`rasterize`; viewmats and Ks are built in ``means``' dtype.
    """
    viewmats, Ks, width, height = cameras_to_tensors(
        cameras, dtype=means.dtype, device=means.device
    )
    return rasterize(means, quats, scales, opacities, colors, viewmats, Ks, width, height,
                     **kwargs)


def cameras_to_tensors(
    cameras: Sequence[Camera],
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> tuple[torch.Tensor, torch.Tensor, int, int]:
    """Cameras -> (viewmats [C, 4, 4], Ks [C, 3, 3], width, height); sizes must agree."""
    if len(cameras) == 0:
        raise ValueError("cameras is empty")
    sizes = {(c.w, c.h) for c in cameras}
    if len(sizes) != 1:
        raise ValueError(f"all cameras must have one image size to render together, got {sizes}")
    (width, height), = sizes
    viewmats = torch.tensor(np.stack([c.w2c for c in cameras]), dtype=dtype, device=device)
    Ks = torch.tensor(np.stack([c.K for c in cameras]), dtype=dtype, device=device)
    return viewmats, Ks, width, height


def _gsplat_available() -> bool:
    try:
        importlib.import_module("gsplat")
    except Exception:
        return False
    return True


def _rasterize_gsplat(
    means, quats, scales, opacities, colors, viewmats, Ks, width, height, sh_degree, backgrounds,
    near_plane, far_plane, eps2d, render_mode,
):
    try:
        gsplat = importlib.import_module("gsplat")
    except Exception as e:
        raise ValueError(f"backend 'gsplat' requested but gsplat cannot be imported: {e}") from e
    if not means.is_cuda:
        raise ValueError("backend 'gsplat' needs CUDA tensors; use 'numba' on the CPU")
    render, alphas, meta = gsplat.rasterization(
        means, quats, scales, opacities, colors, viewmats, Ks, width, height,
        near_plane=near_plane, far_plane=far_plane, eps2d=eps2d, sh_degree=sh_degree,
        backgrounds=backgrounds, render_mode=render_mode, packed=False,
    )
    radii = meta["radii"]
    if radii.dim() == 3:  # newer gsplat: per-axis radii
        radii = radii.max(dim=-1).values
    return RenderOut(colors=render, alphas=alphas, radii=radii.to(torch.int32),
                     means2d=meta.get("means2d"))


def _cast(dtype: torch.dtype, *tensors: torch.Tensor | None) -> tuple:
    """The camera tensors in the Gaussians' dtype (None stays None)."""
    return tuple(t if t is None or t.dtype == dtype else t.to(dtype) for t in tensors)


def _pick_backend(fn: str, backend: str, means: torch.Tensor) -> str:
    """Resolve "auto" (gsplat for CUDA tensors when installed, else torch off the CPU and numba
    on it) and refuse the numba backend for tensors off the CPU."""
    if backend == "auto":
        if means.device.type == "cpu":
            return "numba"
        return "gsplat" if fn == "rasterize" and _gsplat_available() else "torch"
    if backend == "numba" and means.device.type != "cpu":
        raise ValueError(f"{fn}: backend 'numba' needs CPU tensors, got device {means.device}")
    return backend
