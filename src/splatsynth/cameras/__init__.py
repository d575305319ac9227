"""Cameras: the OpenCV pinhole type, converters in pairs, look-at and orbit layouts."""

from .camera import (
    MAX_IMAGE_PIXELS,
    MAX_IMAGE_SIDE,
    Camera,
    c2w_from_w2c,
    image_shift_px,
    image_size_problem,
    intrinsics_matrix,
    look_at_w2c,
    opencv_c2w_from_opengl_c2w,
    opengl_c2w_from_opencv_c2w,
    w2c_from_c2w,
)
from .keypoint_alignment import KeypointAlignment, align_to_keypoints, keypoint_array
from .orbits import (
    FACELIFT_FOCAL_512,
    MVDIFFUSION_AZIMUTHS_DEG,
    OrbitConfig,
    camera_on_sphere,
    cameras_to_json,
    mvdiffusion_cameras,
    orbit_cameras,
    rig_ring,
)
from .rotations import quat_wxyz_from_rotation, rotation_angle_deg, rotation_from_quat_wxyz

__all__ = [
    "Camera", "c2w_from_w2c", "w2c_from_c2w", "opencv_c2w_from_opengl_c2w",
    "opengl_c2w_from_opencv_c2w", "look_at_w2c", "intrinsics_matrix", "OrbitConfig",
    "orbit_cameras", "mvdiffusion_cameras", "rig_ring", "camera_on_sphere", "cameras_to_json",
    "FACELIFT_FOCAL_512", "MVDIFFUSION_AZIMUTHS_DEG", "rotation_from_quat_wxyz",
    "quat_wxyz_from_rotation", "MAX_IMAGE_SIDE", "MAX_IMAGE_PIXELS", "image_size_problem",
    "KeypointAlignment", "align_to_keypoints", "keypoint_array", "rotation_angle_deg",
    "image_shift_px",
]
