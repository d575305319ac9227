"""Real rig geometry for the demo recording, as numbers (the package cannot read tests/).

``DANNCE_MOUSE_1`` is the 6-camera rig of DANNCE's markerless_mouse_1 (github.com/spoonsso/dannce,
MIT License, Copyright (c) 2020 Timothy Dunn; ``kyle_cam{1..6}_params.mat``, shipped as test
fixtures): the pinhole the DANNCE importer makes of each calibration (MATLAB's -0.5 px applied,
distortion and skew resampled away) for its 1152 x 1024 frames, world in millimetres, +Z up,
arena floor at z = 0. The cameras look at the animal from 0 to 22 degrees above the
horizontal, from uneven azimuths, about 30 cm away: this is where users are, unlike a tidy ring.
A test checks these numbers against the fixture files.

:func:`rig_cameras` moves the rig into the toy mouse's world: the arena centre (the point
nearest every optical axis, dropped to the floor) at the origin, millimetres scaled so that a
real mouse's snout-to-tail-base length (78.4 mm, the median over the 81 labelled frames of
markerless_mouse_1) becomes the toy mouse's, and the floor at the toy mouse's feet.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..cameras import Camera


class RigCamera(NamedTuple):
    """One calibrated camera: w2c rotation rows, centre (world units), pinhole intrinsics."""

    name: str
    R: tuple[tuple[float, float, float], ...]
    center: tuple[float, float, float]
    fx: float
    fy: float
    cx: float
    cy: float


#: Frame size the intrinsics of DANNCE_MOUSE_1 are for (w, h).
DANNCE_MOUSE_1_SIZE = (1152, 1024)
#: The point nearest the six optical axes, on the floor (mm).
DANNCE_MOUSE_1_ARENA = (46.9454793700, 49.1770071500, 0.0)
#: Median snout-to-tail-base distance of the labelled mouse (mm).
DANNCE_MOUSE_1_BODY_MM = 78.42

DANNCE_MOUSE_1 = (
    RigCamera("kyle_cam1",
              ((0.5769218123, -0.8166808216, -0.0139161127),
               (0.0026813216, 0.0189308741, -0.9998171996),
               (0.8167949761, 0.5767790372, 0.0131114181)),
              (-199.4773489118, -129.3371073082, 63.4431065007),
              1667.6630893666, 1674.1735126014, 603.3818041612, 492.4650501454),
    RigCamera("kyle_cam2",
              ((-0.4970603559, 0.8672310167, 0.0290063135),
               (0.1907025210, 0.1417915710, -0.9713535396),
               (-0.8465007685, -0.4772897590, -0.2358621099)),
              (321.6471494288, 216.8403470954, 145.9305408028),
              1637.4307219769, 1648.5958116599, 617.9530053508, 432.7676576099),
    RigCamera("kyle_cam3",
              ((-0.9981162936, -0.0575440410, -0.0212731714),
               (0.0203854113, 0.0159708254, -0.9996646276),
               (0.0578644925, -0.9982152153, -0.0147676821)),
              (24.0450681142, 355.8105392500, 71.1920422690),
              1656.9930735654, 1665.1086426245, 616.5236756899, 479.4363098687),
    RigCamera("kyle_cam4",
              ((0.3964946359, 0.9179966025, 0.0086163480),
               (0.0168537567, 0.0021053247, -0.9998557488),
               (-0.9178823207, 0.3965826589, -0.0146369415)),
              (327.6350971909, -65.2996837971, 63.2651151873),
              1668.6964868124, 1674.1571076817, 582.8660099087, 549.4149382318),
    RigCamera("kyle_cam5",
              ((-0.4103319791, -0.9119129534, 0.0065140081),
               (-0.2531739048, 0.1070521741, -0.9614794881),
               (0.8760882609, -0.3961749581, -0.2747994937)),
              (-230.3889020200, 167.3641572840, 142.2206202585),
              1665.3137269117, 1671.8644198750, 639.0493812551, 460.1020942721),
    RigCamera("kyle_cam6",
              ((0.9814717241, 0.1909325012, -0.0160634642),
               (0.0569902225, -0.3709355368, -0.9269082706),
               (-0.1829354242, 0.9088187979, -0.3749440266)),
              (114.5708586246, -236.2786625889, 156.5402052448),
              1668.2472556978, 1673.1219722367, 613.0314114421, 522.8257192716),
)


def rig_cameras(rig: tuple[RigCamera, ...], size: tuple[int, int], *, scale: float,
                origin: tuple[float, float, float], floor: float = 0.0,
                native: tuple[int, int] = DANNCE_MOUSE_1_SIZE) -> list[Camera]:
    """A rig's cameras in another world and at another image size.

    World: x_new = scale * (x_rig - origin) + (0, 0, floor). Image: intrinsics scaled from
    ``native`` to ``size`` about the pixel-grid corner (SPEC section 2).

    Returns:
        Cameras named ``images/<name>.png``.
    """
    out = []
    o = np.asarray(origin, np.float64)
    for c in rig:
        R = np.asarray(c.R, np.float64)
        centre = scale * (np.asarray(c.center) - o) + np.array([0.0, 0.0, floor])
        w2c = np.eye(4)
        w2c[:3, :3] = R
        w2c[:3, 3] = -R @ centre
        cam = Camera(w2c, c.fx, c.fy, c.cx, c.cy, native[0], native[1],
                     file_path=f"images/{c.name}.png")
        out.append(cam.resized(*size) if tuple(size) != tuple(native) else cam)
    return out
