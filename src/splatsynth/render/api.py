"""Public entry: ``rasterize`` (SPEC §8, mirrors gsplat's ``rasterization``) and its checks."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch

from .types import RenderOut

if TYPE_CHECKING:
    from ..cameras import Camera

Backend = Literal["auto", "numba", "torch", "gsplat"]
RenderMode = Literal["RGB", "RGB+ED"]
_BACKENDS = ("auto", "numba", "torch", "gsplat")
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
    C, N, dtype = _validate(means, quats, scales, opacities, colors, viewmats, Ks, width, height,
                            sh_degree, backgrounds, near_plane, far_plane, eps2d, render_mode,
                            backend)  # fmt: skip
    cast = lambda t: t if t is None or t.dtype == dtype else t.to(dtype)
    viewmats, Ks, backgrounds = cast(viewmats), cast(Ks), cast(backgrounds)
    if backend == "auto":
        if means.is_cuda:
            backend = "gsplat" if _gsplat_available() else "torch"
        else:
            backend = "numba"
    if backend == "gsplat":
        return _rasterize_gsplat(means, quats, scales, opacities, colors, viewmats, Ks, width,
                                 height, sh_degree, backgrounds, near_plane, far_plane, eps2d,
                                 render_mode)  # fmt: skip
    if backend == "numba":
        if means.device.type != "cpu":
            raise ValueError(f"backend 'numba' needs CPU tensors, got device {means.device}")
        from .projection import project_gaussians
        from .rasterization import rasterize_to_pixels
    else:
        from .reference import project_gaussians, rasterize_to_pixels

    proj = project_gaussians(
        means, quats, scales, opacities, colors, viewmats, Ks, width, height,
        sh_degree=sh_degree, near_plane=near_plane, far_plane=far_plane, eps2d=eps2d,
    )  # fmt: skip
    rgb, dacc, alphas = rasterize_to_pixels(
        proj.means2d, proj.conics, proj.colors, opacities, proj.depths, proj.radii, width,
        height, backgrounds=backgrounds,
    )  # fmt: skip
    if render_mode == "RGB+ED":
        rgb = torch.cat([rgb, dacc / alphas.clamp_min(1e-10)], dim=-1)
    radii = proj.radii.max(dim=-1).values
    return RenderOut(colors=rgb, alphas=alphas, radii=radii, means2d=proj.means2d)


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
                     **kwargs)  # fmt: skip


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
):  # fmt: skip
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
    )  # fmt: skip
    radii = meta["radii"]
    if radii.dim() == 3:  # newer gsplat: per-axis radii
        radii = radii.max(dim=-1).values
    return RenderOut(colors=render, alphas=alphas, radii=radii.to(torch.int32),
                     means2d=meta.get("means2d"))  # fmt: skip


def _validate(means, quats, scales, opacities, colors, viewmats, Ks, width, height, sh_degree,
              backgrounds, near_plane, far_plane, eps2d, render_mode, backend):  # fmt: skip
    def need(cond: bool, msg: str) -> None:
        if not cond:
            raise ValueError(f"rasterize: {msg}")

    tensors = dict(means=means, quats=quats, scales=scales, opacities=opacities, colors=colors,
                   viewmats=viewmats, Ks=Ks)  # fmt: skip
    if backgrounds is not None:
        tensors["backgrounds"] = backgrounds
    for name, t in tensors.items():
        need(isinstance(t, torch.Tensor), f"{name} must be a torch.Tensor, got {type(t).__name__}")
    need(means.dtype in (torch.float32, torch.float64),
         f"means must be float32 or float64, got {means.dtype}")  # fmt: skip
    for name, t in tensors.items():
        need(t.dtype in (torch.float32, torch.float64),
             f"{name} must be float32 or float64, got {t.dtype}")  # fmt: skip
    for name in ("quats", "scales", "opacities", "colors"):
        dt = tensors[name].dtype
        need(dt == means.dtype, f"{name} is {dt} but means is {means.dtype}; use one dtype")
    for name, t in tensors.items():
        need(t.device == means.device,
             f"{name} is on {t.device} but means is on {means.device}")  # fmt: skip
    need(means.dim() == 2 and means.shape[1] == 3, f"means must be [N, 3], got {list(means.shape)}")
    N = means.shape[0]
    need(quats.shape == (N, 4), f"quats must be [N, 4] = [{N}, 4], got {list(quats.shape)}")
    need(scales.shape == (N, 3), f"scales must be [N, 3] = [{N}, 3], got {list(scales.shape)}")
    need(opacities.shape == (N,), f"opacities must be [N] = [{N}], got {list(opacities.shape)}")
    if sh_degree is None:
        need(colors.shape == (N, 3),
             f"colors must be [N, 3] RGB when sh_degree is None, got {list(colors.shape)}"
             + (" (SH coefficients need sh_degree)" if colors.dim() == 3 else ""))  # fmt: skip
    else:
        need(isinstance(sh_degree, int) and 0 <= sh_degree <= 3,
             f"sh_degree must be None or 0..3, got {sh_degree!r}")  # fmt: skip
        K = (sh_degree + 1) ** 2
        need(colors.dim() == 3 and colors.shape[0] == N and colors.shape[2] == 3
             and colors.shape[1] >= K,
             f"colors must be [N, K>={K}, 3] SH coefficients for sh_degree={sh_degree}, "
             f"got {list(colors.shape)}")  # fmt: skip
    need(viewmats.dim() == 3 and viewmats.shape[1:] == (4, 4) and viewmats.shape[0] >= 1,
         f"viewmats must be [C, 4, 4] with C >= 1, got {list(viewmats.shape)}")  # fmt: skip
    C = viewmats.shape[0]
    need(Ks.shape == (C, 3, 3), f"Ks must be [C, 3, 3] = [{C}, 3, 3], got {list(Ks.shape)}")
    if backgrounds is not None:
        need(backgrounds.shape == (C, 3),
             f"backgrounds must be [C, 3] = [{C}, 3], got {list(backgrounds.shape)}")  # fmt: skip
    for name, val in (("width", width), ("height", height)):
        need(isinstance(val, int) and not isinstance(val, bool) and val > 0,
             f"{name} must be a positive int, got {val!r}")  # fmt: skip
    need(near_plane > 0 and far_plane > near_plane,
         f"need 0 < near_plane < far_plane, got {near_plane}, {far_plane}")  # fmt: skip
    need(eps2d >= 0, f"eps2d must be >= 0, got {eps2d}")
    need(render_mode in _MODES, f"render_mode must be one of {_MODES}, got {render_mode!r}")
    need(backend in _BACKENDS, f"backend must be one of {_BACKENDS}, got {backend!r}")
    with torch.no_grad():
        # reductions rather than elementwise masks: this runs on every training step
        for name, t in tensors.items():
            finite = t.numel() == 0 or bool(torch.isfinite(t.sum()))
            if not finite:  # the sum may just overflow: look properly before complaining
                need(bool(torch.isfinite(t).all()), f"{name} has NaN or inf values")
        if N > 0:
            need(float((quats * quats).sum(-1).min()) > 0, "quats has a zero-norm row")
            need(float(scales.min()) >= 0,
                 "scales has negative values (pass activated scales: exp(log_scales))")
            lo, hi = torch.aminmax(opacities)
            need(float(lo) >= 0 and float(hi) <= 1,
                 "opacities must be in [0, 1] (pass activated opacities: sigmoid(logits))")
        need(float(torch.minimum(Ks[:, 0, 0], Ks[:, 1, 1]).min()) > 0,
             "Ks must have positive focal lengths")  # fmt: skip
    return C, N, means.dtype
