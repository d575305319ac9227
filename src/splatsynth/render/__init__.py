"""Rendering: ``rasterize`` (3DGS) and ``rasterize_surfels`` (2DGS), each on numba CPU kernels or
a plain-torch reference (3DGS also on gsplat with CUDA).

Importing this package compiles no numba kernel and does not import gsplat; kernels compile
(or load from numba's on-disk cache) on their first call.
"""

from ..threads import get_num_threads, set_num_threads
from .api import cameras_to_tensors, rasterize, rasterize_surfels, render_gaussians
from .sh import eval_sh, num_sh_bases, rgb_from_sh, sh_from_rgb
from .types import Projected, RenderOut, SurfelProjected, SurfelRenderOut

__all__ = [
    "Projected",
    "RenderOut",
    "cameras_to_tensors",
    "eval_sh",
    "get_num_threads",
    "num_sh_bases",
    "rasterize",
    "rasterize_surfels",
    "SurfelProjected",
    "SurfelRenderOut",
    "render_gaussians",
    "rgb_from_sh",
    "set_num_threads",
    "sh_from_rgb",
]
