"""A hand-written two-surfel 8x8 case, computed by plain ray-plane geometry, through both
backends (the kernels use the homogeneous cross-product form; this uses t = n.p / n.d)."""

import math

import numpy as np
import pytest
import torch

from splatsynth.render import rasterize_surfels

W = H = 8
F = 8.0
BG = (0.0, 1.0, 0.0)
TILT = math.radians(40.0)
# (centre, quaternion wxyz, (s_u, s_v), opacity, colour); camera at the origin looking down +z
SURFELS = [
    ((0.0, 0.0, 2.0), (1.0, 0.0, 0.0, 0.0), (0.3, 0.2), 0.8, (1.0, 0.0, 0.0)),
    ((0.25, 0.1, 3.0), (math.cos(TILT / 2), 0.0, math.sin(TILT / 2), 0.0), (0.9, 0.6), 0.6,
     (0.0, 0.0, 1.0)),
]


def _rot(q):
    w, x, y, z = np.asarray(q) / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def expected():
    """Per pixel: ray d through the pixel centre; the splat plane n.(X - p) = 0 is met at
    X = (n.p / n.d) d; (u, v) are X - p in the scaled tangent axes. Composite front to back."""
    out = {k: np.zeros((H, W, c)) for k, c in
           (("rgb", 3), ("alpha", 1), ("depth", 1), ("normal", 3), ("dist", 1), ("median", 1))}
    for j in range(H):
        for i in range(W):
            d = np.array([(i + 0.5 - W / 2) / F, (j + 0.5 - H / 2) / F, 1.0])
            T, ws, zs = 1.0, [], []
            rgb, nrm, med = np.zeros(3), np.zeros(3), 0.0
            for p, q, (su, sv), o, col in sorted(SURFELS, key=lambda s: s[0][2]):
                p = np.asarray(p)
                R = _rot(q)
                n = R[:, 2]
                t = n @ p / (n @ d)
                X = t * d
                u, v = (X - p) @ R[:, 0] / su, (X - p) @ R[:, 1] / sv
                cu, cv = F * p[0] / p[2] + W / 2, F * p[1] / p[2] + H / 2
                d2 = (i + 0.5 - cu) ** 2 + (j + 0.5 - cv) ** 2
                if u * u + v * v <= 2 * d2:
                    power, z = 0.5 * (u * u + v * v), X[2]
                else:  # the screen-space fallback wins: centre depth
                    power, z = d2, p[2]
                al = min(0.99, o * math.exp(-power))
                if al < 1 / 255:
                    continue
                if T > 0.5:
                    med = z
                w = al * T
                ws.append(w)
                zs.append(z)
                rgb += w * np.array(col)
                nrm += w * (n if n @ p < 0 else -n)
                T *= 1 - al
            out["rgb"][j, i] = rgb + T * np.array(BG)
            out["alpha"][j, i] = 1 - T
            out["depth"][j, i] = sum(w * z for w, z in zip(ws, zs))
            out["normal"][j, i] = nrm
            out["dist"][j, i] = sum(2 * ws[a] * ws[b] * (zs[a] - zs[b])
                                    for a in range(len(ws)) for b in range(a))
            out["median"][j, i] = med
    return out


@pytest.mark.parametrize("backend", ["torch", "numba"])
@pytest.mark.parametrize("scale_cols", [2, 3])
def test_two_surfels_match_ray_plane_geometry(backend, scale_cols):
    dt = torch.float64
    means = torch.tensor([s[0] for s in SURFELS], dtype=dt)
    quats = torch.tensor([s[1] for s in SURFELS], dtype=dt) * 1.7  # norm need not be 1
    scales = torch.tensor([s[2] + (5.0,) * (scale_cols - 2) for s in SURFELS], dtype=dt)
    opac = torch.tensor([s[3] for s in SURFELS], dtype=dt)
    cols = torch.tensor([s[4] for s in SURFELS], dtype=dt)
    K = torch.tensor([[[F, 0, W / 2], [0, F, H / 2], [0, 0, 1]]], dtype=dt)
    out = rasterize_surfels(means, quats, scales, opac, cols, torch.eye(4, dtype=dt)[None], K,
                            W, H, backgrounds=torch.tensor([BG], dtype=dt), backend=backend)
    ex = expected()
    got = {"rgb": out.colors, "alpha": out.alphas, "depth": out.depths, "normal": out.normals,
           "dist": out.distortion, "median": out.median_depths}
    for k, v in got.items():
        assert v.shape == (1, H, W, ex[k].shape[-1]), k
        np.testing.assert_allclose(v[0].numpy(), ex[k], atol=1e-11, err_msg=k)
    # the case is not trivial: both surfels overlap somewhere, the tilted one's depth varies
    # across its face, some pixels are empty and the distortion is non-zero
    assert 0.5 < out.alphas.max() < 0.99 and out.alphas.min() == 0.0
    assert (out.distortion.abs() > 1e-3).sum() >= 4
    d = ex["depth"][..., 0] / np.maximum(ex["alpha"][..., 0], 1e-12)
    assert np.ptp(d[ex["alpha"][..., 0] > 0.3]) > 0.3
    np.testing.assert_allclose(out.means2d[0].numpy(), [[4.0, 4.0], [4 + 8 * 0.25 / 3,
                                                                      4 + 8 * 0.1 / 3]])
    assert (out.radii > 0).all()


def test_sh_degree0_renders_like_rgb():
    from splatsynth.render import sh_from_rgb

    dt = torch.float64
    rgb = torch.tensor([[0.2, 0.5, 0.9]], dtype=dt)
    args = (torch.tensor([[0.0, 0.0, 2.0]], dtype=dt), torch.tensor([[0.9, 0.1, 0.3, 0]], dtype=dt),
            torch.tensor([[0.3, 0.5]], dtype=dt), torch.tensor([0.7], dtype=dt))
    K = torch.tensor([[[F, 0, W / 2], [0, F, H / 2], [0, 0, 1]]], dtype=dt)
    vm = torch.eye(4, dtype=dt)[None]
    for backend in ("torch", "numba"):
        a = rasterize_surfels(*args, rgb, vm, K, W, H, backend=backend)
        b = rasterize_surfels(*args, sh_from_rgb(rgb)[:, None, :], vm, K, W, H, sh_degree=0,
                              backend=backend)
        torch.testing.assert_close(a.colors, b.colors, rtol=0, atol=1e-12)
