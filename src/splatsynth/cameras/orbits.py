"""Camera layouts: the GS-LRM 32-view orbit, FaceLift's MVDiffusion 6 views and rig rings.

Convention: world is right-handed with +Z up; azimuth is measured counter-clockwise seen from
+Z, starting on +X; elevation is the angle above the XY plane; every camera looks at the origin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..knobs import Knobs
from .camera import Camera, image_size_problem, look_at_w2c

#: FaceLift's GS-LRM focal length at 512 x 512 (a 50 degree field of view, as Blender wrote it).
FACELIFT_FOCAL_512 = 548.9937744140625
#: The MVDiffusion stage-1 azimuths in FaceLift's view order: front, front-right, right, back,
#: left, front-left (the subject faces -Y).
MVDIFFUSION_AZIMUTHS_DEG = (-90.0, -135.0, 180.0, 90.0, 0.0, -45.0)


@dataclass(frozen=True)
class OrbitConfig(Knobs):
    """The novel-view orbit written to the dataset (defaults: FaceLift's GS-LRM orbit)."""

    # The only place the GS-LRM orbit's numbers are written: orbit_cameras,
    # mvdiffusion_cameras and the `orbit` command take their defaults from these fields.
    section = "orbit"

    views: int = 32
    """Number of cameras, evenly spaced in azimuth starting on +X."""
    elevation: float = 20.0
    """Elevation above the XY plane, degrees."""
    distance: float = 2.7
    """Distance of each camera centre from the origin (world units of the canonical frame)."""
    size: int = 512
    """Image width and height in pixels."""
    focal: float | None = None
    """Focal length in pixels; None means FaceLift's 548.99 px scaled to ``size``."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._at_least("views", 1)
        self._at_least("size", 1)
        self._check("size", image_size_problem(self.size, self.size) is None,
                    "at most 8192 (the largest square image splatsynth renders)")
        self._positive("distance")
        self._positive("focal")
        # at +-90 degrees every camera looks along the up axis and has no defined roll
        self._check("elevation", -90 < self.elevation < 90, "in (-90, 90)")

    def cameras(self) -> list[Camera]:
        """The orbit as cameras named ``images/cam_000.png`` ..."""
        return orbit_cameras(self.views, self.elevation, self.distance, self.size, self.focal)


def _focal_for(size: int, focal: float | None) -> float:
    return FACELIFT_FOCAL_512 * size / 512.0 if focal is None else float(focal)


def camera_on_sphere(azimuth_deg: float, elevation_deg: float, distance: float, size: int,
                     focal: float | None = None, file_path: str | None = None) -> Camera:
    """A square camera at (azimuth, elevation, distance) looking at the origin, +Z up."""
    az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
    eye = distance * np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az),
                               math.sin(el)])
    f = _focal_for(size, focal)
    return Camera(look_at_w2c(eye, np.zeros(3)), fx=f, fy=f, cx=size / 2.0, cy=size / 2.0,
                  w=size, h=size, file_path=file_path)


def orbit_cameras(views: int = OrbitConfig.views, elevation: float = OrbitConfig.elevation,
                  distance: float = OrbitConfig.distance, size: int = OrbitConfig.size,
                  focal: float | None = None, azimuth_offset: float = 0.0) -> list[Camera]:
    """``views`` cameras at azimuth_i = offset + i * 360 / views (the GS-LRM orbit by default)."""
    if views < 1:
        raise ValueError(f"an orbit needs at least one view, got {views}")
    return [camera_on_sphere(azimuth_offset + i * 360.0 / views, elevation, distance, size, focal,
                             file_path=f"images/cam_{i:03d}.png") for i in range(views)]


def mvdiffusion_cameras(distance: float = OrbitConfig.distance, size: int = OrbitConfig.size,
                        focal: float | None = None) -> list[Camera]:
    """FaceLift's six stage-1 views, cam_000..cam_005 = front, front-right, right, back, left,
    front-left, at elevation 0."""
    return [camera_on_sphere(az, 0.0, distance, size, focal, file_path=f"cam_{i:03d}.png")
            for i, az in enumerate(MVDIFFUSION_AZIMUTHS_DEG)]


def rig_ring(n: int = 6, elevation: float = 30.0, distance: float = 2.7, w: int = 512,
             h: int = 512, focal: float | None = None, azimuth_offset: float = 0.0,
             prefix: str = "images/view_") -> list[Camera]:
    """A ring of ``n`` cameras like a multi-camera animal rig, each looking at the origin."""
    f = _focal_for(max(w, h), focal)
    cams = []
    for i in range(n):
        c = camera_on_sphere(azimuth_offset + i * 360.0 / n, elevation, distance, max(w, h), f)
        cams.append(Camera(c.w2c, fx=f, fy=f, cx=w / 2.0, cy=h / 2.0, w=w, h=h,
                           file_path=f"{prefix}{i:03d}.png"))
    return cams


def cameras_to_json(cameras: list[Camera], scene_id: str | None = None) -> dict:
    """FaceLift's ``opencv_cameras.json`` document for ``cameras``."""
    doc: dict = {"frames": [c.to_frame() for c in cameras]}
    if scene_id is not None:
        doc = {"id": scene_id, **doc}
    return doc
