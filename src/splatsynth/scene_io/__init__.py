"""Scene input: scene folder <-> :class:`Scene`, validation, importers (SPEC section 3)."""

from .images import read_image, read_mask
from .importers import import_scene
from .load import SceneWriter, load_scene, write_scene
from .scene import Scene, View
from .undistort import distort, undistort, undistort_image, undistort_points
from .validate import check_scene, read_cameras_file

__all__ = [
    "Scene", "View", "load_scene", "check_scene", "import_scene", "write_scene", "SceneWriter",
    "read_image", "read_mask", "distort", "undistort", "undistort_points",
    "undistort_image", "read_cameras_file",
]
