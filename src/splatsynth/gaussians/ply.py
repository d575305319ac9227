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
    """Read a standard 3DGS PLY into float32 :class:`Gaussians` (the input contract for PLYs).

    Raises:
        SplatsynthError: naming the file: missing, not a PLY, truncated or garbled, without a
            ``vertex`` element or the 3DGS properties, without Gaussians, or with NaN/inf
            values or zero-length rotations.
    """
    path = Path(path)
    if not path.is_file():
        raise SplatsynthError(f"{path}: missing" if not path.exists() else f"{path}: not a file")
    try:
        v = PlyData.read(str(path))["vertex"]
        _ = v.data  # plyfile parses lazily in places; a truncated body fails here
    except KeyError as e:
        raise SplatsynthError(f"{path}: not a 3DGS PLY (no 'vertex' element)") from e
    except Exception as e:  # plyfile and numpy raise many types for garbled files  # noqa: BLE001
        raise SplatsynthError(f"{path}: not a readable 3DGS PLY (truncated or garbled: "
                              f"{str(e).strip() or type(e).__name__})") from e
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
    if n_rest % 3 or {f"f_rest_{i}" for i in range(n_rest)} - props:
        raise SplatsynthError(f"{path}: the f_rest properties are not f_rest_0..{n_rest - 1}")
    n = len(v.data)
    if n == 0:
        raise SplatsynthError(f"{path}: the PLY holds no Gaussians")
    try:
        col = lambda name: np.asarray(v[name], dtype=np.float32)  # noqa: E731
        means = np.stack([col("x"), col("y"), col("z")], 1)
        dc = np.stack([col(f"f_dc_{i}") for i in range(3)], 1)[:, None, :]
        rest = np.stack([col(f"f_rest_{i}") for i in range(n_rest)], 1) if n_rest else \
            np.zeros((n, 0), np.float32)
        quats = np.stack([col(f"rot_{i}") for i in range(4)], 1)
        log_scales = np.stack([col(f"scale_{i}") for i in range(3)], 1)
        opacity = col("opacity")
    except (TypeError, ValueError) as e:  # list-typed properties and the like
        raise SplatsynthError(f"{path}: 3DGS properties that are not numbers ({e})") from e
    rest = rest.reshape(n, 3, n_rest // 3).transpose(0, 2, 1)
    flat = np.concatenate([means, dc[:, 0], rest.reshape(n, -1), quats, log_scales,
                           opacity[:, None]], 1)
    bad = ~np.isfinite(flat).all(1)
    if bad.any():
        raise SplatsynthError(f"{path}: {int(bad.sum())} of {n} Gaussians have NaN/inf values")
    if (np.abs(quats).sum(1) == 0).any():
        raise SplatsynthError(f"{path}: {int((np.abs(quats).sum(1) == 0).sum())} Gaussians "
                              "have a zero rotation quaternion")
    t = torch.from_numpy
    return Gaussians(means=t(means), quats_wxyz=t(quats), log_scales=t(log_scales),
                     opacity_logits=t(opacity),
                     sh=t(np.ascontiguousarray(np.concatenate([dc, rest], 1))))
