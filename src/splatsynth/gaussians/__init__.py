"""Gaussians: the parameter set, initialisation and PLY files."""

from .geometry import covariance_from_quat_scale, rotation_from_quat
from .init import gaussians_from_points, random_in_ball
from .model import Gaussians, num_sh_coeffs, rgb_to_sh_dc, sh_dc_to_rgb, sh_degree_from_coeffs
from .ply import read_ply, write_ply

__all__ = ["Gaussians", "num_sh_coeffs", "sh_degree_from_coeffs", "rgb_to_sh_dc",
           "sh_dc_to_rgb", "read_ply", "write_ply", "gaussians_from_points", "random_in_ball",
           "rotation_from_quat", "covariance_from_quat_scale"]
