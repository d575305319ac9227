"""Plain-torch rasterizers (3DGS and 2DGS): the runnable specification of the numba kernels.

Same names and signatures as the fast functions; autograd does the backward. It shares no
code with ``render/kernels`` (its tile binning, sorting and compositing are written anew), so
the parity tests can catch a bug on either side.
"""

from .projection import project_gaussians
from .rasterization import rasterize_to_pixels
from .surfels import project_surfels, rasterize_surfels_to_pixels

__all__ = [
    "project_gaussians",
    "project_surfels",
    "rasterize_surfels_to_pixels",
    "rasterize_to_pixels",
]
