"""Gaussians: the parameter set, SH colour bookkeeping, geometry, initialisation, PLY files."""

from .geometry import covariance_from_quat_scale, rotation_from_quat
from .init import gaussians_from_points, random_in_ball
from .model import Gaussians
from .ply import read_ply, write_ply
from .sh import SH_C0, num_sh_coeffs, rgb_from_sh_dc, sh_dc_from_rgb, sh_degree_from_coeffs

__all__ = ["Gaussians", "SH_C0", "num_sh_coeffs", "sh_degree_from_coeffs", "sh_dc_from_rgb",
           "rgb_from_sh_dc", "read_ply", "write_ply", "gaussians_from_points", "random_in_ball",
           "rotation_from_quat", "covariance_from_quat_scale"]
