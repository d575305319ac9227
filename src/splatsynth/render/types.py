"""Result types of both methods (3DGS and 2DGS), shared by the fast path and the reference."""

from __future__ import annotations

from typing import NamedTuple

import torch


class Projected(NamedTuple):
    """Gaussians projected into C cameras (entries with ``radii == 0`` are culled).

    Attributes:
        means2d: [C, N, 2] pixel centres (top-left image corner at (0, 0)).
        conics: [C, N, 3] inverse 2D covariance (a, b, c) of [[a, b], [b, c]].
        depths: [C, N] camera-frame z.
        colors: [C, N, 3] view-dependent colour.
        radii: [C, N, 2] int32 screen half-extents in x and y (0 = culled).
    """

    means2d: torch.Tensor
    conics: torch.Tensor
    depths: torch.Tensor
    colors: torch.Tensor
    radii: torch.Tensor


class RenderOut(NamedTuple):
    """What :func:`splatsynth.render.rasterize` returns.

    Attributes:
        colors: [C, H, W, 3] RGB over the background, or [C, H, W, 4] with
            ``render_mode="RGB+ED"`` (last channel: expected depth, i.e. alpha-normalized).
        alphas: [C, H, W, 1] accumulated opacity (1 - final transmittance).
        radii: [C, N] int32 screen radius in pixels (max of the x and y half-extents);
            0 where the Gaussian is culled (behind, outside near/far, off-screen, too faint).
        means2d: [C, N, 2] projected centres. On the numba and torch backends this tensor is
            part of the graph: ``out.means2d.retain_grad()`` before ``backward()`` gives the
            screen-space gradient used for densification (as with gsplat). May be None with
            the gsplat backend's packed modes.
    """

    colors: torch.Tensor
    alphas: torch.Tensor
    radii: torch.Tensor
    means2d: torch.Tensor | None


class SurfelProjected(NamedTuple):
    """Surfels projected into C cameras (entries with ``radii == 0`` are culled).

    Attributes:
        means2d: [C, N, 2] projected centres in pixels (top-left image corner at (0, 0)).
        ray_transforms: [C, N, 3, 3] M = K [Rc[:, 0] s_u | Rc[:, 1] s_v | p_cam]: maps splat
            coordinates (u, v, 1) to homogeneous pixels; M[..., 2, 2] is the centre's depth.
        normals: [C, N, 3] unit normals in the camera frame, turned towards the camera.
        colors: [C, N, 3] view-dependent colour.
        radii: [C, N, 2] int32 half-extents of the footprint around means2d (0 = culled).
        boxes: [C, N, 4] exact footprint (x_lo, x_hi, y_lo, y_hi) of alpha >= 1/255.
    """

    means2d: torch.Tensor
    ray_transforms: torch.Tensor
    normals: torch.Tensor
    colors: torch.Tensor
    radii: torch.Tensor
    boxes: torch.Tensor


class SurfelRenderOut(NamedTuple):
    """What :func:`rasterize_surfels` returns (all [C, H, W, K] images are camera-major).

    Attributes:
        colors: [C, H, W, 3] RGB over the background.
        alphas: [C, H, W, 1] accumulated opacity (1 - final transmittance).
        depths: [C, H, W, 1] ACCUMULATED depth sum_i w_i z_i (w_i = alpha_i T_i; z_i the
            camera-frame z of the ray-splat intersection). The expected depth is
            ``depths / alphas.clamp_min(1e-10)`` (gsplat's "D" vs "ED").
        median_depths: [C, H, W, 1] z of the last surfel composited while the transmittance
            in front of it was > 0.5 (0 where none); a surface depth for bounded subjects.
        normals: [C, H, W, 3] accumulated normals sum_i w_i n_i in the CAMERA frame (OpenCV:
            x right, y down, z forward), each n_i turned towards the camera; not normalized
            (length ~alpha). World: ``normals @ c2w[:3, :3].T``.
        distortion: [C, H, W, 1] depth distortion sum_i 2 w_i sum_{j<i} w_j (z_i - z_j) in
            compositing order (gsplat's L1 form of 2DGS eq. 13; = sum_{i,j} w_i w_j |z_i -
            z_j| when intersections are in depth order, which the centre-depth sort gives
            for all but interpenetrating surfels).
        radii: [C, N] int32 screen radius in pixels (0 = culled: behind/outside near-far,
            off-screen, opacity <= 1/255, or so large it reaches behind the camera plane).
        means2d: [C, N, 2] projected centres; part of the graph, so
            ``out.means2d.retain_grad()`` gives the screen-space gradient for densification.
    """

    colors: torch.Tensor
    alphas: torch.Tensor
    depths: torch.Tensor
    median_depths: torch.Tensor
    normals: torch.Tensor
    distortion: torch.Tensor
    radii: torch.Tensor
    means2d: torch.Tensor
