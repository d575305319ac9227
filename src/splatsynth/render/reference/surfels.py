"""2DGS surfels in plain torch: the runnable specification of the surfel kernels.

Same names and signatures as the fast functions in ``render/surfels.py``; autograd does the
backward. Shares no code with ``render/kernels`` (tile binning, sorting, the ray-splat
intersection and compositing are written anew as dense tensor algebra), so the parity tests
can catch a bug on either side. Compositing is one [pairs, tile pixels] problem per call:
transmittance is a segmented cumulative sum of log(1 - alpha) in float64 per tile.
"""

from __future__ import annotations

import math

import torch

from ...gaussians.geometry import rotation_from_quat
from ..sh import colors_at_cameras
from ..types import SurfelProjected
from .tiles import segment_exclusive_cumsum, tile_pairs

_TILE = 16
_ALPHA_MAX = 0.99
_ALPHA_MIN = 1.0 / 255.0
_T_MIN = 1e-4
_POWER_MAX = 6.0  # the kernels clamp the power here (exp(-6) < 1/255: no kept alpha changes)


def project_surfels(
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
    near_plane: float = 0.01,
    far_plane: float = 1e10,
):
    """Project N surfels into C pinhole cameras.

    Convention: OpenCV cameras, ``viewmats`` world-to-camera, quaternions wxyz, pixel centres
    at integer + 0.5; normals in the camera frame, turned towards the camera.

    Args:
        means: [N, 3]; quats: [N, 4]; scales: [N, 2] tangent scales; opacities: [N].
        colors: [N, 3] RGB, or [N, K, 3] SH coefficients when ``sh_degree`` is set.
        viewmats: [C, 4, 4]; Ks: [C, 3, 3] (not differentiated); width, height: pixels.
        sh_degree: SH degree to evaluate, None for RGB; near_plane, far_plane: depth range.
    Returns:
        :class:`splatsynth.render.types.SurfelProjected`; culled entries have radii 0 and
        unspecified other values.
    """
    Ks = Ks.detach()
    Rv, tv = viewmats[:, :3, :3], viewmats[:, :3, 3]
    p = torch.einsum("cij,nj->cni", Rv, means) + tv[:, None, :]  # [C,N,3] centre, camera
    Rc = Rv[:, None] @ rotation_from_quat(quats)[None]  # [C,N,3,3] splat axes, camera
    cols = torch.stack([Rc[..., 0] * scales[:, 0:1], Rc[..., 1] * scales[:, 1:2], p], dim=-1)
    M = Ks[:, None] @ cols  # [C,N,3,3]: (u, v, 1) -> homogeneous pixel
    z = p[..., 2]
    in_depth = (z >= near_plane) & (z <= far_plane)
    zs = torch.where(in_depth, M[..., 2, 2], torch.ones_like(z))
    means2d = M[..., :2, 2] / zs[..., None]
    n = Rc[..., 2]
    facing = torch.where((n * p).sum(-1, keepdim=True) > 0, -1.0, 1.0).to(n.dtype)
    normals = n * facing

    with torch.no_grad():
        # alpha >= 1/255 inside u^2 + v^2 <= e2; the ellipse's dual conic M diag(1,1,-1/e2) M^T
        # gives its exact screen bounding box
        o = opacities[None].expand_as(z)
        e2 = 2 * (math.log(255.0) + torch.log(o.clamp_min(_ALPHA_MIN)))
        f = torch.stack([torch.ones_like(e2), torch.ones_like(e2), -1 / e2.clamp_min(1e-12)], -1)
        Q = (M * f[..., None, :]) @ M.transpose(-1, -2)
        q22 = Q[..., 2, 2]
        ok = in_depth & (o > _ALPHA_MIN) & (q22 < 0)
        q22s = torch.where(ok, q22, -torch.ones_like(q22))
        xc, yc = Q[..., 0, 2] / q22s, Q[..., 1, 2] / q22s
        hx = torch.sqrt((xc * xc - Q[..., 0, 0] / q22s).clamp_min(0))
        hy = torch.sqrt((yc * yc - Q[..., 1, 1] / q22s).clamp_min(0))
        u, v = means2d[..., 0], means2d[..., 1]
        r2d = torch.sqrt(0.5 * e2.clamp_min(0))  # low-pass disc: o exp(-|d|^2) >= 1/255
        boxes = torch.stack([torch.minimum(xc - hx, u - r2d), torch.maximum(xc + hx, u + r2d),
                             torch.minimum(yc - hy, v - r2d), torch.maximum(yc + hy, v + r2d)],
                            dim=-1)
        on_screen = ((boxes[..., 1] > 0) & (boxes[..., 0] < width) & (boxes[..., 3] > 0)
                     & (boxes[..., 2] < height))
        ok &= on_screen
        rx = torch.ceil(torch.maximum(boxes[..., 1] - u, u - boxes[..., 0]))
        ry = torch.ceil(torch.maximum(boxes[..., 3] - v, v - boxes[..., 2]))
        radii = torch.stack([rx, ry], dim=-1).to(torch.int32)
        radii = torch.where(ok[..., None], radii, torch.zeros_like(radii))

    rgb = colors_at_cameras(sh_degree, colors, means, viewmats)
    return SurfelProjected(means2d, M, normals, rgb, radii, boxes)


def rasterize_surfels_to_pixels(
    means2d: torch.Tensor,
    ray_transforms: torch.Tensor,
    colors: torch.Tensor,
    normals: torch.Tensor,
    opacities: torch.Tensor,
    radii: torch.Tensor,
    boxes: torch.Tensor,
    width: int,
    height: int,
    *,
    backgrounds: torch.Tensor | None = None,
) -> tuple[torch.Tensor, ...]:
    """Composite projected surfels front to back into C images (2DGS ray-splat intersection).

    For pixel centre (x, y): zeta = (M0 - x M2) x (M1 - y M2) (M_i the rows of the ray
    transform), (u, v) = zeta[:2] / zeta[2]; power = 0.5 min(u^2 + v^2, 2 |(x, y) - means2d|^2)
    (the second is the low-pass fallback; where it wins, z is the centre depth M[2, 2], else
    z = M2 . (u, v, 1)). alpha = min(0.99, o exp(-power)), skipped below 1/255; a pixel stops
    before the surfel that would take its transmittance below 1e-4; order by centre depth,
    ties by index.

    Args:
        means2d: [C, N, 2]; ray_transforms: [C, N, 3, 3]; colors, normals: [C, N, 3];
        opacities: [N]; radii: [C, N, 2] int (0 = culled); boxes: [C, N, 4] (unused here:
        every pixel of a touched tile is evaluated, which checks the kernels' footprint);
        width, height: image size; backgrounds: [C, 3] or None (black).
    Returns:
        rgb [C, H, W, 3], alpha [C, H, W, 1], accumulated depth [C, H, W, 1], accumulated
        normals [C, H, W, 3], distortion [C, H, W, 1], median depth [C, H, W, 1].
    """
    C = means2d.shape[0]
    dev, dt = means2d.device, means2d.dtype
    npix = C * height * width
    pc, pg, px, py, inside, pix, seg_first = tile_pairs(means2d, radii, ray_transforms[..., 2, 2],
                                                        width, height, _TILE)
    P, npx = px.shape
    M = ray_transforms[pc, pg]  # [P,3,3]
    x = (px.to(dt) + 0.5)[..., None]  # [P,256,1]
    y = (py.to(dt) + 0.5)[..., None]
    hu = M[:, None, 0, :] - x * M[:, None, 2, :]  # [P,256,3]: plane through the pixel's column
    hv = M[:, None, 1, :] - y * M[:, None, 2, :]
    zeta = torch.linalg.cross(hu, hv)
    z0, z1, z2 = zeta.unbind(-1)
    dx = x[..., 0] - means2d[pc, pg, 0][:, None]
    dy = y[..., 0] - means2d[pc, pg, 1][:, None]
    p2d = 2 * (dx * dx + dy * dy)
    use3 = (z0 * z0 + z1 * z1 <= p2d * z2 * z2) & (z2 * z2 > 0)
    z2s = torch.where(use3, z2, torch.ones_like(z2))
    su, sv = z0 / z2s, z1 / z2s
    power = 0.5 * torch.where(use3, su * su + sv * sv, p2d)
    m2 = M[:, 2, :]
    zd = torch.where(use3, m2[:, 0:1] * su + m2[:, 1:2] * sv + m2[:, 2:3], m2[:, 2:3])
    alpha = torch.clamp(opacities[pg][:, None] * torch.exp(-power.clamp(max=_POWER_MAX)),
                        max=_ALPHA_MAX)
    keep = inside & (alpha >= _ALPHA_MIN)
    a = torch.where(keep, alpha, torch.zeros_like(alpha)).double()
    with torch.no_grad():
        log_t_incl = segment_exclusive_cumsum(torch.log1p(-a), seg_first) + torch.log1p(-a)
        alive = log_t_incl >= math.log(_T_MIN)
    a = torch.where(alive, a, torch.zeros_like(a))
    l1m = torch.log1p(-a)
    t_before = torch.exp(segment_exclusive_cumsum(l1m, seg_first))
    w64 = a * t_before
    # distortion: 2 w_i (z_i sum_{j<i} w_j - sum_{j<i} w_j z_j), per tile segment
    wz64 = w64 * zd.double()
    dist = 2 * w64 * (zd.double() * segment_exclusive_cumsum(w64, seg_first)
                      - segment_exclusive_cumsum(wz64, seg_first))
    w = w64.to(dt)

    flat = pix.reshape(-1)

    def splat(vals: torch.Tensor) -> torch.Tensor:  # [P, 256, K] -> [npix, K]
        K = vals.shape[-1]
        return torch.zeros(npix, K, dtype=dt, device=dev).index_add(0, flat, vals.reshape(-1, K))

    rgb = splat(w[..., None] * colors[pc, pg][:, None, :]).reshape(C, height, width, 3)
    nrm = splat(w[..., None] * normals[pc, pg][:, None, :]).reshape(C, height, width, 3)
    dacc = splat((w * zd)[..., None]).reshape(C, height, width, 1)
    dist = splat(dist.to(dt)[..., None]).reshape(C, height, width, 1)
    log_t = torch.zeros(npix, dtype=torch.float64, device=dev).index_add(0, flat, l1m.reshape(-1))
    T = torch.exp(log_t).to(dt).reshape(C, height, width, 1)
    if backgrounds is not None:
        rgb = rgb + T * backgrounds[:, None, None, :]

    with torch.no_grad():  # median: the last composited surfel with transmittance > 0.5 before it
        cond = (a > 0) & (t_before > 0.5) & inside
        slot = torch.arange(P * npx, device=dev).reshape(P, npx)
        key = torch.where(cond, slot, -1).reshape(-1)
        best = torch.full((npix,), -1, dtype=torch.long, device=dev)
        best = best.scatter_reduce(0, flat, key, reduce="amax", include_self=True)
    zflat = torch.cat([zd.reshape(-1), zd.new_zeros(1)])  # slot -1: no surfel, depth 0
    median = zflat[torch.where(best >= 0, best, zflat.numel() - 1)]
    return rgb, 1 - T, dacc, nrm, dist, median.reshape(C, height, width, 1)
