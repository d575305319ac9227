"""The pinhole camera every room agrees on.

Convention: OpenCV — x right, y down, z forward; ``w2c`` maps world to camera; pixel (i, j)
covers [i, i+1) x [j, j+1), so its centre is (i + 0.5, j + 0.5) and cx = w / 2 is the image
centre (gsplat, 3DGS, COLMAP and FaceLift's GS-LRM agree).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

#: The largest image any command reads or renders, per side and in pixels (a 16384 x 4096
#: panorama passes, 8192 x 8192 is the largest square). Renders hold several float32 values per
#: pixel, so a 30000 x 30000 camera would ask for tens of GB before the first pixel is drawn;
#: the limit is checked wherever a camera or an image comes in, before anything is allocated.
MAX_IMAGE_SIDE = 16384
MAX_IMAGE_PIXELS = 8192 * 8192


def image_size_problem(w: int, h: int) -> str | None:
    """Why an image of ``w`` x ``h`` pixels is too large for splatsynth, or None."""
    if w > MAX_IMAGE_SIDE or h > MAX_IMAGE_SIDE or w * h > MAX_IMAGE_PIXELS:
        return (f"{w}x{h} is larger than the {MAX_IMAGE_SIDE} pixels per side and "
                f"{MAX_IMAGE_PIXELS / 1e6:.0f} megapixels splatsynth reads or renders "
                "(downscale the images and their intrinsics)")
    return None


@dataclass(frozen=True, eq=False)
class Camera:
    """A calibrated pinhole camera.

    Attributes:
        w2c: [4, 4] float64 world-to-camera (OpenCV axes).
        fx, fy, cx, cy: intrinsics in pixels for an image of ``w`` x ``h``.
        w, h: image width and height in pixels.
        file_path: the image this camera belongs to (relative to its scene), if any.
    """

    w2c: np.ndarray
    fx: float
    fy: float
    cx: float
    cy: float
    w: int
    h: int
    file_path: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        m = np.asarray(self.w2c, dtype=np.float64).reshape(4, 4).copy()
        m.setflags(write=False)
        object.__setattr__(self, "w2c", m)
        for name in ("fx", "fy", "cx", "cy"):
            object.__setattr__(self, name, float(getattr(self, name)))
        object.__setattr__(self, "w", int(self.w))
        object.__setattr__(self, "h", int(self.h))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Camera):
            return NotImplemented
        return (np.array_equal(self.w2c, other.w2c) and
                (self.fx, self.fy, self.cx, self.cy, self.w, self.h) ==
                (other.fx, other.fy, other.cx, other.cy, other.w, other.h))

    __hash__ = None  # type: ignore[assignment]  # mutable-looking array inside: not hashable

    # --- extrinsics -------------------------------------------------------------------
    @property
    def R(self) -> np.ndarray:
        """[3, 3] world-to-camera rotation."""
        return self.w2c[:3, :3]

    @property
    def t(self) -> np.ndarray:
        """[3] world-to-camera translation."""
        return self.w2c[:3, 3]

    @property
    def c2w(self) -> np.ndarray:
        """[4, 4] camera-to-world; its columns are the camera's x, y, z axes and centre."""
        return c2w_from_w2c(self.w2c)

    @property
    def center(self) -> np.ndarray:
        """[3] camera centre in world coordinates."""
        return -self.R.T @ self.t

    @property
    def forward(self) -> np.ndarray:
        """[3] unit viewing direction (camera +z) in world coordinates."""
        return self.R[2].copy()

    # --- intrinsics -------------------------------------------------------------------
    @property
    def K(self) -> np.ndarray:
        """[3, 3] intrinsic matrix."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def fov_x(self) -> float:
        """Horizontal field of view in radians."""
        return 2.0 * math.atan(self.w / (2.0 * self.fx))

    @property
    def fov_y(self) -> float:
        """Vertical field of view in radians."""
        return 2.0 * math.atan(self.h / (2.0 * self.fy))

    # --- geometry ---------------------------------------------------------------------
    def world_to_camera(self, points: np.ndarray) -> np.ndarray:
        """[N, 3] world points -> [N, 3] camera-frame points."""
        points = np.asarray(points, dtype=np.float64)
        return points @ self.R.T + self.t

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Project world points to pixels.

        Args:
            points: [N, 3] world positions.
        Returns:
            uv: [N, 2] pixel coordinates (top-left corner of the image is (0, 0)).
            depth: [N] camera-frame z; points with depth <= 0 are behind the camera.
        """
        pc = self.world_to_camera(points)
        z = pc[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            u = self.fx * pc[:, 0] / z + self.cx
            v = self.fy * pc[:, 1] / z + self.cy
        return np.stack([u, v], axis=-1), z

    def backproject(self, uv: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """Lift pixels with camera-frame depth back to the world.

        Args:
            uv: [N, 2] pixel coordinates.
            depth: [N] camera-frame z.
        Returns:
            [N, 3] world positions.
        """
        uv = np.asarray(uv, dtype=np.float64)
        depth = np.asarray(depth, dtype=np.float64)
        x = (uv[:, 0] - self.cx) / self.fx * depth
        y = (uv[:, 1] - self.cy) / self.fy * depth
        pc = np.stack([x, y, depth], axis=-1)
        return (pc - self.t) @ self.R

    def pixel_rays(self) -> tuple[np.ndarray, np.ndarray]:
        """Rays through every pixel centre.

        Returns:
            origins: [H, W, 3] (the camera centre, repeated).
            dirs: [H, W, 3] unit world directions through pixel centres (i + 0.5, j + 0.5).
        """
        i, j = np.meshgrid(np.arange(self.w) + 0.5, np.arange(self.h) + 0.5, indexing="xy")
        d_cam = np.stack([(i - self.cx) / self.fx, (j - self.cy) / self.fy, np.ones_like(i)], -1)
        d = d_cam @ self.R  # R^T applied to row vectors
        d /= np.linalg.norm(d, axis=-1, keepdims=True)
        o = np.broadcast_to(self.center, d.shape).copy()
        return o, d

    # --- image-space edits ------------------------------------------------------------
    def resized(self, w: int, h: int) -> Camera:
        """The same camera for the image resampled to ``w`` x ``h`` (pixel-corner origin)."""
        sx, sy = w / self.w, h / self.h
        return replace(self, fx=self.fx * sx, fy=self.fy * sy, cx=self.cx * sx, cy=self.cy * sy,
                       w=w, h=h)

    def cropped(self, x0: int, y0: int, w: int, h: int) -> Camera:
        """The same camera for the sub-image [x0, x0 + w) x [y0, y0 + h)."""
        return replace(self, cx=self.cx - x0, cy=self.cy - y0, w=w, h=h)

    def with_w2c(self, w2c: np.ndarray) -> Camera:
        """The same intrinsics at another pose."""
        return replace(self, w2c=np.asarray(w2c, dtype=np.float64))

    # --- serialization ----------------------------------------------------------------
    def to_frame(self) -> dict[str, Any]:
        """A frame dict of FaceLift's ``opencv_cameras.json`` (w, h, fx, fy, cx, cy, w2c, ...)."""
        d: dict[str, Any] = {"w": self.w, "h": self.h, "fx": self.fx, "fy": self.fy,
                             "cx": self.cx, "cy": self.cy, "w2c": self.w2c.tolist()}
        if self.file_path is not None:
            d["file_path"] = self.file_path
        return d

    @staticmethod
    def from_frame(frame: dict[str, Any]) -> Camera:
        """Inverse of :meth:`to_frame`; raises KeyError/ValueError on a malformed frame."""
        return Camera(w2c=np.asarray(frame["w2c"], dtype=np.float64), fx=frame["fx"],
                      fy=frame["fy"], cx=frame["cx"], cy=frame["cy"], w=frame["w"],
                      h=frame["h"], file_path=frame.get("file_path"))


def c2w_from_w2c(w2c: np.ndarray) -> np.ndarray:
    """[..., 4, 4] world-to-camera -> camera-to-world, using the rigid structure (R^T, -R^T t)."""
    w2c = np.asarray(w2c, dtype=np.float64)
    R = w2c[..., :3, :3]
    t = w2c[..., :3, 3:]
    out = np.zeros_like(w2c)
    Rt = np.swapaxes(R, -1, -2)
    out[..., :3, :3] = Rt
    out[..., :3, 3:] = -Rt @ t
    out[..., 3, 3] = 1.0
    return out


def w2c_from_c2w(c2w: np.ndarray) -> np.ndarray:
    """[..., 4, 4] camera-to-world -> world-to-camera (the same rigid inverse)."""
    return c2w_from_w2c(c2w)


# OpenGL/Blender cameras look down -z with y up: flipping the y and z axes maps them to OpenCV.
_GL_FLIP = np.diag([1.0, -1.0, -1.0, 1.0])


def opencv_c2w_from_opengl_c2w(c2w_gl: np.ndarray) -> np.ndarray:
    """[..., 4, 4] OpenGL/Blender camera-to-world (y up, looking down -z) -> OpenCV c2w."""
    return np.asarray(c2w_gl, dtype=np.float64) @ _GL_FLIP


def opengl_c2w_from_opencv_c2w(c2w_cv: np.ndarray) -> np.ndarray:
    """[..., 4, 4] OpenCV camera-to-world -> OpenGL/Blender c2w (inverse of the above)."""
    return np.asarray(c2w_cv, dtype=np.float64) @ _GL_FLIP


def look_at_w2c(eye: np.ndarray, target: np.ndarray, up: np.ndarray = (0.0, 0.0, 1.0)
                ) -> np.ndarray:
    """World-to-camera of an OpenCV camera at ``eye`` looking at ``target``.

    Convention: camera x = forward x up (right), y = forward x x (down), z = forward, so the
    world ``up`` points up in the image.

    Args:
        eye, target, up: [3] world vectors; ``up`` must not be parallel to the view direction.
    Returns:
        [4, 4] w2c.
    """
    eye = np.asarray(eye, dtype=np.float64)
    fwd = np.asarray(target, dtype=np.float64) - eye
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, np.asarray(up, dtype=np.float64))
    n = np.linalg.norm(right)
    if n < 1e-12:
        raise ValueError("look_at: the up vector is parallel to the viewing direction")
    right /= n
    down = np.cross(fwd, right)
    R = np.stack([right, down, fwd])
    w2c = np.eye(4)
    w2c[:3, :3] = R
    w2c[:3, 3] = -R @ eye
    return w2c


def intrinsics_matrix(fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    """[3, 3] pinhole K."""
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def image_shift_px(a: Camera, b: Camera, points: np.ndarray) -> float:
    """Median distance in pixels between where cameras ``a`` and ``b`` (one camera before and
    after a correction) see the [N, 3] ``points`` in front of both; 0 when there are none."""
    pts = np.asarray(points, np.float64).reshape(-1, 3)
    ua, za = a.project(pts)
    ub, zb = b.project(pts)
    front = (np.asarray(za) > 0) & (np.asarray(zb) > 0)
    if not front.any():
        return 0.0
    return float(np.median(np.linalg.norm(ua[front] - ub[front], axis=1)))
