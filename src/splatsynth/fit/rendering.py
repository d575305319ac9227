"""Render a fitted Gaussian set at a list of cameras (no autograd), in manageable chunks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..cameras import Camera
from ..gaussians import Gaussians


@dataclass
class Renders:
    """Renders of C cameras.

    Attributes:
        rgb: [C, H, W, 3] float32 colour composited over the background.
        alpha: [C, H, W] float32 rendered opacity.
        depth: [C, H, W] float32 expected depth (camera z), or None when not asked for.
        normals: [C, H, W, 3] float32 unit world-frame normals (2DGS only, when asked for;
            zero where nothing was hit).
    """

    rgb: np.ndarray
    alpha: np.ndarray
    depth: np.ndarray | None = None
    normals: np.ndarray | None = None

    def straight_rgb(self, background: tuple[float, float, float]) -> np.ndarray:
        """[C, H, W, 3] colour with the background removed (un-premultiplied), for RGBA PNGs."""
        from ..threads import run_parallel

        bg = np.asarray(background, np.float32)
        out = np.empty(np.shape(self.rgb), np.result_type(self.rgb[0], np.float32))
        # view by view, on the kernels' threads: a few small temporaries instead of several
        # of the whole stack's size
        def one(k: int) -> None:
            out[k] = _straight(self.rgb[k], self.alpha[k], bg)

        run_parallel(one, [(k,) for k in range(len(out))])
        return out


def _straight(rgb: np.ndarray, alpha: np.ndarray, bg: np.ndarray) -> np.ndarray:
    a = alpha[..., None]
    fg = rgb - bg * (1.0 - a)
    return np.where(a > 1e-4, fg / np.maximum(a, 1e-4), 0.0).clip(0.0, 1.0)


def camera_tensors(cameras: list[Camera], dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """[C, 4, 4] w2c and [C, 3, 3] K of ``cameras``."""
    viewmats = torch.tensor(np.stack([c.w2c for c in cameras]), dtype=dtype)
    Ks = torch.as_tensor(np.stack([c.K for c in cameras]), dtype=dtype)
    return viewmats, Ks


#: Pixels rendered per call of the rasterizer by default: a whole 32-view orbit at 512 px
#: (its buffers take ~0.4 GB); more cameras or larger images are split into several calls.
CHUNK_PIXELS = 32 * 512 * 512


@torch.no_grad()
def render_cameras(gaussians: Gaussians, cameras: list[Camera], *,
                   background: tuple[float, float, float] = (1.0, 1.0, 1.0),
                   with_depth: bool = False, with_normals: bool = False,
                   chunk: int | None = None, backend: str = "auto", method: str = "3dgs"
                   ) -> Renders:
    """Render ``gaussians`` at every camera (all must share one image size per chunk).

    ``method`` says how the Gaussians were fitted (``fit.method``: "3dgs" volumes, or "2dgs"
    surfels, which also render normals). Consecutive cameras of one image size are rendered
    together, ``chunk`` at a time (default: as many as fit in :data:`CHUNK_PIXELS`); the
    images do not depend on how the cameras are grouped.

    Returns:
        :class:`Renders` with arrays of shape [C, H, W, ...] (lists of per-camera arrays
        when the sizes differ).
    """
    from .methods import method_of

    m = method_of(method)
    if with_normals and not m.has_normals:
        raise ValueError(f"normal maps need a fit whose method renders normals, not {method}")
    g = gaussians
    rgbs, alphas, depths, normals = [], [], [], []
    i = 0
    while i < len(cameras):
        head = cameras[i]
        size = chunk if chunk is not None else max(1, CHUNK_PIXELS // (head.w * head.h))
        group = [head]
        while (i + len(group) < len(cameras) and len(group) < size
               and (cameras[i + len(group)].w, cameras[i + len(group)].h) == (head.w, head.h)):
            group.append(cameras[i + len(group)])
        viewmats, Ks = camera_tensors(group)
        bgs = torch.tensor([background] * len(group), dtype=torch.float32)
        out = m.render(g.means, g.quats_wxyz, g.scales, g.opacities, g.sh, viewmats, Ks,
                       head.w, head.h, sh_degree=g.sh_degree, backgrounds=bgs,
                       depth=with_depth, backend=backend)
        # views into the rasterizer's outputs, [len(group), H, W, ...] each: no copies
        if with_depth:
            depths.append(m.expected_depth(out).numpy())
        if with_normals:
            n = torch.nn.functional.normalize(out.normals, dim=-1)
            # camera -> world: the rows of w2c's rotation are the camera axes in world
            normals.append(torch.einsum("chwj,cjk->chwk", n, viewmats[:, :3, :3]).numpy())
        rgbs.append(out.colors[..., :3].numpy())
        alphas.append(out.alphas[..., 0].numpy())
        i += len(group)
    return Renders(rgb=_join(rgbs), alpha=_join(alphas),
                   depth=_join(depths) if with_depth else None,
                   normals=_join(normals) if with_normals else None)


def _join(parts: list[np.ndarray]) -> np.ndarray | list[np.ndarray]:
    """Chunks [c_k, H, W, ...] -> one [C, H, W, ...] array (no copy for a single chunk), or a
    list of per-camera arrays when the sizes differ."""
    if len(parts) == 1:
        return parts[0]
    if len({p.shape[1:] for p in parts}) == 1:
        return np.concatenate(parts)
    return [x for p in parts for x in p]
