"""Standard 3DGS PLY files (Inria layout, read by most viewers and tools).

Layout per vertex: x, y, z, nx, ny, nz, f_dc_0..2, f_rest_0..(3*(K-1)-1), opacity (logit),
scale_0..2 (log), rot_0..3 (wxyz). ``f_rest`` is channel-major: all R coefficients, then G,
then B, as Inria writes ``features_rest.transpose(1, 2).flatten(1)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from plyfile import PlyData, PlyElement

from ..errors import SplatsynthError
from ..fileio import atomic_path
from .model import Gaussians
from .sh import sh_degree_from_coeffs


def write_ply(path: str | Path, gaussians: Gaussians) -> None:
    """Write ``gaussians`` as a standard 3DGS PLY, atomically."""
    g = gaussians.detach().to("cpu")
    n, k = len(g), g.sh.shape[1]
    means = g.means.numpy().astype(np.float32)
    dc = g.sh[:, 0, :].numpy().astype(np.float32)
    rest = g.sh[:, 1:, :].permute(0, 2, 1).reshape(n, 3 * (k - 1)).numpy().astype(np.float32)
    names = ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
    names += [f"f_rest_{i}" for i in range(3 * (k - 1))]
    names += ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    cols = np.concatenate([means, np.zeros_like(means), dc, rest,
                           g.opacity_logits.numpy().astype(np.float32)[:, None],
                           g.log_scales.numpy().astype(np.float32),
                           g.quats_wxyz.numpy().astype(np.float32)], axis=1)
    data = np.empty(n, dtype=[(name, "f4") for name in names])
    for i, name in enumerate(names):
        data[name] = cols[:, i]
    with atomic_path(path) as tmp:
        PlyData([PlyElement.describe(data, "vertex")]).write(str(tmp))


def read_ply(path: str | Path) -> Gaussians:
    """Read a standard 3DGS PLY into float32 :class:`Gaussians`."""
    path = Path(path)
    try:
        v = PlyData.read(str(path))["vertex"]
    except (OSError, KeyError, ValueError) as e:
        raise SplatsynthError(f"{path}: not a readable 3DGS PLY ({e})") from e
    props = {p.name for p in v.properties}
    need = {"x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1",
            "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"}
    missing = sorted(need - props)
    if missing:
        raise SplatsynthError(f"{path}: PLY lacks 3DGS properties {missing}")
    n_rest = len([p for p in props if p.startswith("f_rest_")])
    try:
        sh_degree_from_coeffs(n_rest // 3 + 1)
    except ValueError as e:
        raise SplatsynthError(f"{path}: {n_rest} f_rest properties is not a valid SH layout") from e
    col = lambda name: np.asarray(v[name], dtype=np.float32)  # noqa: E731
    n = len(v.data)
    means = np.stack([col("x"), col("y"), col("z")], 1)
    dc = np.stack([col(f"f_dc_{i}") for i in range(3)], 1)[:, None, :]
    rest = np.stack([col(f"f_rest_{i}") for i in range(n_rest)], 1) if n_rest else \
        np.zeros((n, 0), np.float32)
    rest = rest.reshape(n, 3, n_rest // 3).transpose(0, 2, 1)
    t = torch.from_numpy
    return Gaussians(
        means=t(means),
        quats_wxyz=t(np.stack([col(f"rot_{i}") for i in range(4)], 1)),
        log_scales=t(np.stack([col(f"scale_{i}") for i in range(3)], 1)),
        opacity_logits=t(col("opacity")),
        sh=t(np.ascontiguousarray(np.concatenate([dc, rest], 1))),
    )
