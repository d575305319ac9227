"""A textured arena floor for the toy mouse's ray caster: the plane z = ``floor``, hit in
closed form by every pixel's centre ray, coloured by procedural noise and lit like the mouse.

Like :mod:`.toy_mouse`, nothing here shares code with the Gaussian renderer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..cameras import Camera
from .toy_mouse import _AMBIENT, _LIGHTS, _value_noise

_FLOOR = np.array([0.80, 0.78, 0.72])
_RIM = np.array([0.38, 0.40, 0.44])
_SKY = np.array([0.55, 0.58, 0.62])


@dataclass(frozen=True)
class Arena:
    """A round arena: floor plane, radius of the bedding-textured floor, wall colour beyond.

    Attributes:
        floor: height of the floor plane (world z).
        radius: radius of the light floor disc round the origin; darker floor beyond it.
        shadow: darkening right under the animal's body (0 = no contact shadow).
    """

    floor: float = -0.455
    radius: float = 3.2
    shadow: float = 0.18

    def floor_points(self, cam: Camera) -> tuple[np.ndarray, np.ndarray]:
        """Where every pixel centre's ray meets the floor.

        Returns:
            xy: [H, W, 2] world x, y of the hit (NaN where the ray misses the floor).
            hit: [H, W] bool.
        """
        i, j = np.meshgrid(np.arange(cam.w) + 0.5, np.arange(cam.h) + 0.5, indexing="xy")
        d = (((i - cam.cx) / cam.fx)[..., None] * cam.R[0]
             + ((j - cam.cy) / cam.fy)[..., None] * cam.R[1] + cam.R[2])
        c = cam.center
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (self.floor - c[2]) / d[..., 2]
        hit = np.isfinite(t) & (t > 0)
        xy = c[:2] + t[..., None] * d[..., :2]
        xy[~hit] = np.nan
        return xy, hit

    def render(self, cam: Camera) -> tuple[np.ndarray, np.ndarray]:
        """The empty arena seen by ``cam``.

        Returns:
            rgb: [H, W, 3] float32 in [0, 1].
            xy: [H, W, 2] floor coordinates of each pixel (NaN off the floor), for shadows.
        """
        xy, hit = self.floor_points(cam)
        rgb = np.empty((cam.h, cam.w, 3), np.float32)
        rgb[:] = _SKY
        p = xy[hit]
        pts = np.column_stack([p, np.zeros(len(p))])
        # Bedding: a coarse mottle, a fine grain and a few darker flecks.
        grain = (0.55 * _value_noise(pts * 3.0 + 5.0) + 0.3 * _value_noise(pts * 19.0 + 41.0)
                 + 0.15 * _value_noise(pts * 61.0 + 7.0))
        fleck = np.clip((_value_noise(pts * 27.0 + 77.0) - 0.72) * 6.0, 0.0, 0.6)
        inside = np.linalg.norm(p, axis=1) < self.radius
        albedo = np.where(inside[:, None], _FLOOR, _RIM) * (0.78 + 0.4 * grain[:, None])
        albedo *= (1.0 - fleck)[:, None]
        light = _AMBIENT + sum(k * max(float(L[2]), 0.0) for L, k in _LIGHTS)
        rgb[hit] = np.clip(albedo * light * 0.85, 0.0, 1.0)
        return rgb, xy

    def shadow_factor(self, xy: np.ndarray, pose: np.ndarray) -> np.ndarray:
        """[H, W] multiplier (<= 1) of a soft contact shadow under the body at ``pose``.

        Args:
            xy: [H, W, 2] floor coordinates from :meth:`render`.
            pose: [4, 4] mouse-to-world transform.
        """
        if self.shadow <= 0:
            return np.ones(xy.shape[:2], np.float32)
        local = (xy - pose[:2, 3]) @ pose[:2, :2]  # rotate into the mouse's frame
        r2 = (local[..., 0] / 0.42) ** 2 + ((local[..., 1] - 0.05) / 0.8) ** 2
        f = 1.0 - self.shadow * np.exp(-1.5 * r2)
        return np.nan_to_num(f, nan=1.0).astype(np.float32)
