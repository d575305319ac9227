"""Priors on views nobody filmed: random virtual cameras around the subject, and what their
renders should look like (solid inside, clear outside, a smooth surface).

Six silhouettes leave many shapes consistent with them; these losses pick, among those, the
opaque, floater-free, rounded one a real subject is.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..scene_io.scene import Scene


class VirtualViews:
    """Random cameras looking at the subject from the sphere band the input cameras span
    (widened downwards, where rigs filmed from above see least), at a quarter of the first
    training view's size (at least 64 px on a side): enough to see gaps, cheap to render."""

    def __init__(self, scene: Scene, train: list[int]):
        cam = scene.views[train[0]].camera
        centres = np.stack([scene.views[i].camera.center for i in train])
        dist = np.linalg.norm(centres, axis=1)
        self.radius = float(np.median(dist))
        elev = np.degrees(np.arcsin(np.clip(centres[:, 2] / dist, -1.0, 1.0)))
        self.elev = (max(float(elev.min()) - 20.0, -80.0), min(float(elev.max()) + 5.0, 80.0))
        shrink = max(1.0, min(4.0, min(cam.w, cam.h) / 64.0))
        self.w, self.h = max(int(cam.w / shrink), 1), max(int(cam.h / shrink), 1)
        self.K = torch.as_tensor(cam.K, dtype=torch.float32).clone()
        self.K[0] *= self.w / cam.w
        self.K[1] *= self.h / cam.h

    def sample(self, gen: torch.Generator) -> torch.Tensor:
        """[4, 4] float32 w2c of a random camera at the rig's distance, looking at the origin."""
        from ..cameras import look_at_w2c

        u = torch.rand(2, generator=gen, dtype=torch.float64).tolist()
        az = 2.0 * math.pi * u[0]
        el = math.radians(self.elev[0] + (self.elev[1] - self.elev[0]) * u[1])
        eye = self.radius * np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az),
                                      math.sin(el)])
        return torch.as_tensor(look_at_w2c(eye, np.zeros(3)), dtype=torch.float32)


def _erode(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """[H, W] bool -> [H, W] bool: pixels whose (2 radius + 1)^2 square is all in ``mask``."""
    k = 2 * radius + 1
    m = mask.to(torch.float32)[None, None]
    return (-torch.nn.functional.max_pool2d(-m, k, stride=1, padding=radius))[0, 0] > 0.5


def solid_loss(alpha: torch.Tensor, erode: int) -> torch.Tensor:
    """Mean (1 - alpha) over the pixels at least ``erode`` pixels inside the silhouette
    (alpha > 0.5) of an [H, W] opacity map; the edge band is left to the input views."""
    with torch.no_grad():
        core = _erode(alpha > 0.5, erode)
    if not bool(core.any()):
        return alpha.sum() * 0.0
    return (1.0 - alpha[core]).mean()


def clear_loss(alpha: torch.Tensor) -> torch.Tensor:
    """Mean over an [H, W] opacity map of the opacity of pixels under 0.5 (zero elsewhere):
    faint floaters and fringes outside the rendered silhouette are pulled to transparency."""
    return (alpha * (alpha.detach() < 0.5)).mean()


def curvature_loss(depth: torch.Tensor, alpha: torch.Tensor, focal: float,
                   clamp: float = 2.0) -> torch.Tensor:
    """Mean squared second difference of a rendered depth map, horizontal and vertical, over
    opaque pixels (alpha > 0.95) at least 2 px inside the silhouette.

    Depth is measured in pixels at the subject's median depth, so a second difference is a
    change of slope per pixel: ~0 on a plane, ~2 px / radius on a sphere, ~1 on a 90-degree
    ridge seen head-on. Squared, it prefers the surface's turning spread evenly over sharp
    folds: between two cameras the silhouettes leave a ridge (the visual hull's edge) that
    this rounds off. Second differences above ``clamp`` are occlusion steps (an ear in front
    of the head) and are left out.

    Args:
        depth: [H, W] expected camera-frame depth.
        alpha: [H, W] rendered opacity (no gradient is taken through it).
        focal: the virtual camera's focal length in pixels.
        clamp: largest second difference (slope change per pixel) counted as curvature.
    Returns:
        Scalar loss (zero, with a zero gradient, when no pixel qualifies).
    """
    with torch.no_grad():
        core = _erode(alpha > 0.95, 2)
        # world size of a pixel at the subject
        pixel = float(depth[core].median()) / focal if bool(core.any()) else 0.0
    if pixel <= 0.0:
        return depth.sum() * 0.0  # nothing opaque: a zero that still has a gradient
    d = depth / pixel
    terms = []
    rows = (d[:, 2:] - 2 * d[:, 1:-1] + d[:, :-2], core[:, 2:] & core[:, 1:-1] & core[:, :-2])
    cols = (d[2:] - 2 * d[1:-1] + d[:-2], core[2:] & core[1:-1] & core[:-2])
    for dd, ok in (rows, cols):
        dd = dd[ok]
        dd = dd[dd.detach().abs() < clamp]
        if dd.numel():
            terms.append((dd**2).mean())
    return torch.stack(terms).mean() if terms else depth.sum() * 0.0
