"""Writers: the GS-LRM and MVDiffusion layouts, list files, keypoints; atomic scene folders."""

from .atomic import check_scene_id, clean_stale_temps, is_scene_finished, scene_dir_transaction
from .gslrm import write_gaussians_ply, write_gslrm_views
from .keypoints import (
    keypoint_heatmaps,
    project_keypoints,
    write_heatmaps_npz,
    write_keypoints_json,
)
from .lists import split_for, update_lists
from .mesh import fuse_tsdf, mesh_from_tsdf, write_mesh_ply, write_tsdf_mesh
from .mvdiffusion import write_mvdiffusion_views

__all__ = [
    "check_scene_id", "clean_stale_temps", "is_scene_finished", "scene_dir_transaction",
    "write_gaussians_ply", "write_gslrm_views", "keypoint_heatmaps",
    "project_keypoints",
    "write_heatmaps_npz", "write_keypoints_json", "split_for", "update_lists",
    "write_mvdiffusion_views", "fuse_tsdf", "mesh_from_tsdf", "write_mesh_ply", "write_tsdf_mesh",
]
