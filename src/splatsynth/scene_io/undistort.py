"""Lens distortion: the OpenCV model (k1, k2, p1, p2, k3), its inverse, and image resampling.

Every scene folder is pinhole in memory, so distorted (or skewed) calibrations are removed here:
points through an iterative inverse of the forward model, images by computing, for every output
pixel, where it came from in the distorted source and sampling there.

Convention: pixel coordinates have the top-left image corner at (0, 0) and pixel (i, j) centred
at (i + 0.5, j + 0.5) (SPEC section 2). ``K`` may carry a skew term ``K[0, 1]``; distortion acts
on normalized coordinates computed *without* skew (OpenCV and MATLAB agree on this), i.e.
``u = fx * xd + skew * yd + cx``, ``v = fy * yd + cy``.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import map_coordinates

# Newton on the 2x2 forward model converges in a handful of steps for calibrated lenses; points
# still off by more than this (far outside the calibrated field, where the model folds) are NaN.
_INVERSE_TOL = 1e-10


def distortion_coeffs(dist: np.ndarray | list[float] | None) -> np.ndarray:
    """Normalize a distortion vector to [5] float64 (k1, k2, p1, p2, k3), zero-padded."""
    d = np.zeros(5)
    if dist is not None:
        v = np.asarray(dist, dtype=np.float64).ravel()
        if v.size > 5:
            raise ValueError(f"distortion has {v.size} coefficients, expected at most 5 "
                             "(k1, k2, p1, p2, k3)")
        d[: v.size] = v
    return d


def distort(xy: np.ndarray, dist: np.ndarray | list[float] | None) -> np.ndarray:
    """Apply the OpenCV distortion model to normalized (undistorted) image coordinates.

    Args:
        xy: [..., 2] normalized coordinates x = X/Z, y = Y/Z.
        dist: [5] (k1, k2, p1, p2, k3), or fewer (zero-padded), or None.
    Returns:
        [..., 2] distorted normalized coordinates.
    """
    k1, k2, p1, p2, k3 = distortion_coeffs(dist)
    x, y = xy[..., 0], xy[..., 1]
    r2 = x * x + y * y
    radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xd = x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x)
    yd = y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y
    return np.stack([xd, yd], axis=-1)


def undistort(xy_d: np.ndarray, dist: np.ndarray | list[float] | None,
              iterations: int = 20) -> np.ndarray:
    """Invert :func:`distort` with Newton's method (analytic 2x2 Jacobian).

    Args:
        xy_d: [..., 2] distorted normalized coordinates.
        dist: [5] (k1, k2, p1, p2, k3) or None.
        iterations: Newton steps at most.
    Returns:
        [..., 2] undistorted normalized coordinates; NaN where the inverse did not converge.
    """
    d = distortion_coeffs(dist)
    xy_d = np.asarray(xy_d, dtype=np.float64)
    if not d.any():
        return xy_d.copy()
    k1, k2, p1, p2, k3 = d
    xy = xy_d.copy()
    for _ in range(iterations):
        x, y = xy[..., 0], xy[..., 1]
        r2 = x * x + y * y
        radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
        dradial = 2.0 * (k1 + r2 * (2.0 * k2 + 3.0 * k3 * r2))  # d radial / d(r2) * 2
        res = distort(xy, d) - xy_d
        j00 = radial + x * x * dradial + 2.0 * p1 * y + 6.0 * p2 * x
        j01 = x * y * dradial + 2.0 * p1 * x + 2.0 * p2 * y
        j10 = x * y * dradial + 2.0 * p1 * x + 2.0 * p2 * y
        j11 = radial + y * y * dradial + 6.0 * p1 * y + 2.0 * p2 * x
        det = j00 * j11 - j01 * j10
        with np.errstate(divide="ignore", invalid="ignore"):
            dx = (j11 * res[..., 0] - j01 * res[..., 1]) / det
            dy = (-j10 * res[..., 0] + j00 * res[..., 1]) / det
        xy = xy - np.stack([dx, dy], axis=-1)
        if np.nanmax(np.abs(res), initial=0.0) < _INVERSE_TOL * 1e-3:
            break
    err = np.linalg.norm(distort(xy, d) - xy_d, axis=-1)
    bad = ~(err < _INVERSE_TOL)
    xy[bad] = np.nan
    return xy


def normalized_from_pixels(uv: np.ndarray, K: np.ndarray) -> np.ndarray:
    """[..., 2] pixels -> normalized coordinates through ``K`` [3, 3] (skew allowed)."""
    uv = np.asarray(uv, dtype=np.float64)
    y = (uv[..., 1] - K[1, 2]) / K[1, 1]
    x = (uv[..., 0] - K[0, 2] - K[0, 1] * y) / K[0, 0]
    return np.stack([x, y], axis=-1)


def pixels_from_normalized(xy: np.ndarray, K: np.ndarray) -> np.ndarray:
    """[..., 2] normalized coordinates -> pixels through ``K`` [3, 3] (skew allowed)."""
    u = K[0, 0] * xy[..., 0] + K[0, 1] * xy[..., 1] + K[0, 2]
    v = K[1, 1] * xy[..., 1] + K[1, 2]
    return np.stack([u, v], axis=-1)


def pinhole_K(K: np.ndarray) -> np.ndarray:
    """The plain pinhole [3, 3] (fx, fy, cx, cy, no skew) that keeps ``K``'s focal lengths and
    principal point: the target of :func:`undistort_image` by default."""
    K = np.asarray(K, dtype=np.float64)
    return np.array([[K[0, 0], 0.0, K[0, 2]], [0.0, K[1, 1], K[1, 2]], [0.0, 0.0, 1.0]])


def needs_resampling(K_src: np.ndarray, dist: np.ndarray | list[float] | None,
                     K_dst: np.ndarray) -> bool:
    """Whether images under ``K_src`` + ``dist`` differ from the pinhole ``K_dst`` at all."""
    return bool(distortion_coeffs(dist).any()) or not np.allclose(K_src, K_dst, rtol=0, atol=1e-12)


def undistort_points(uv: np.ndarray, K_src: np.ndarray, dist: np.ndarray | list[float] | None,
                     K_dst: np.ndarray | None = None) -> np.ndarray:
    """Move observed (distorted) pixels to where the pinhole camera ``K_dst`` sees them.

    Args:
        uv: [N, 2] pixels in the distorted image.
        K_src: [3, 3] intrinsics of the distorted image (skew allowed).
        dist: [5] (k1, k2, p1, p2, k3) or None.
        K_dst: [3, 3] target pinhole intrinsics; :func:`pinhole_K` of ``K_src`` when None.
    Returns:
        [N, 2] pixels in the undistorted image; NaN where the inverse did not converge.
    """
    K_dst = pinhole_K(K_src) if K_dst is None else K_dst
    xy = undistort(normalized_from_pixels(uv, K_src), dist)
    return pixels_from_normalized(xy, K_dst)


def distort_points(uv: np.ndarray, K_dst: np.ndarray, dist: np.ndarray | list[float] | None,
                   K_src: np.ndarray) -> np.ndarray:
    """Inverse of :func:`undistort_points`: pinhole pixels [N, 2] -> distorted-image pixels."""
    xy = normalized_from_pixels(uv, K_dst)
    return pixels_from_normalized(distort(xy, dist), K_src)


def undistort_image(image: np.ndarray, K_src: np.ndarray,
                    dist: np.ndarray | list[float] | None, K_dst: np.ndarray | None = None,
                    size: tuple[int, int] | None = None, order: int = 1,
                    fill: float = 0.0) -> np.ndarray:
    """Resample a distorted image into the pinhole camera ``K_dst``.

    Each output pixel centre is sent through the forward model into the source image and
    sampled there (bilinear by default); output pixels whose source lies outside the source
    image get ``fill``.

    Args:
        image: [H, W] or [H, W, C] source image (any float or integer dtype).
        K_src: [3, 3] intrinsics of the source (skew allowed).
        dist: [5] (k1, k2, p1, p2, k3) or None.
        K_dst: [3, 3] target pinhole intrinsics; :func:`pinhole_K` of ``K_src`` when None.
        size: output (w, h); the source size when None.
        order: spline order for :func:`scipy.ndimage.map_coordinates` (1 = bilinear).
        fill: value for pixels that see outside the source.
    Returns:
        [h, w] or [h, w, C] float32.
    """
    K_dst = pinhole_K(K_src) if K_dst is None else np.asarray(K_dst, dtype=np.float64)
    src = np.asarray(image)
    H, W = src.shape[:2]
    w, h = size if size is not None else (W, H)
    ii, jj = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5, indexing="xy")
    uv = distort_points(np.stack([ii, jj], axis=-1), K_dst, dist, K_src)
    inside = ((uv[..., 0] >= 0) & (uv[..., 0] <= W) & (uv[..., 1] >= 0) & (uv[..., 1] <= H)
              & np.isfinite(uv).all(axis=-1))
    # Array index k holds the pixel centred at k + 0.5; "nearest" extends the edge pixels over
    # the outer half pixel so the image border is sampled, not blended with the fill.
    coords = np.stack([uv[..., 1] - 0.5, uv[..., 0] - 0.5])
    coords = np.nan_to_num(coords, nan=-1.0)
    chans = src[..., None] if src.ndim == 2 else src
    out = np.empty((h, w, chans.shape[2]), dtype=np.float32)
    for c in range(chans.shape[2]):
        out[..., c] = map_coordinates(chans[..., c].astype(np.float32), coords, order=order,
                                      mode="nearest")
    out[~inside] = fill
    return out[..., 0] if src.ndim == 2 else out
