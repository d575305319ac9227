"""The built-in demo: a procedural toy mouse, its analytic ray caster and its scene folder."""

from .scene import (
    DEMO_SCENE_ID,
    DemoRig,
    dannce_demo_cameras,
    demo_cameras,
    demo_rig_cameras,
    make_contact_sheet,
    make_demo_scene,
    project_keypoints,
    toy_mouse_scene,
)
from .toy_mouse import (
    TOY_MOUSE_KEYPOINTS,
    Keypoints3D,
    keypoint_visibility,
    render_toy_mouse,
    render_toy_mouse_geometry,
)

__all__ = [
    "DEMO_SCENE_ID", "TOY_MOUSE_KEYPOINTS", "DemoRig", "Keypoints3D", "dannce_demo_cameras",
    "demo_cameras", "demo_rig_cameras",
    "keypoint_visibility", "make_contact_sheet", "make_demo_scene", "project_keypoints",
    "render_toy_mouse", "render_toy_mouse_geometry", "toy_mouse_scene",
]
