import numpy as np
import pytest
import torch
from plyfile import PlyData

from splatsynth.errors import SplatsynthError
from splatsynth.gaussians import Gaussians, read_ply, write_ply


def random_gaussians(n, degree, seed=0):
    g = torch.Generator().manual_seed(seed)
    k = (degree + 1) ** 2
    return Gaussians(torch.randn(n, 3, generator=g), torch.randn(n, 4, generator=g),
                     torch.randn(n, 3, generator=g) - 3, torch.randn(n, generator=g),
                     torch.randn(n, k, 3, generator=g))


@pytest.mark.parametrize("degree", [0, 1, 3])
def test_ply_round_trip(tmp_path, degree):
    g = random_gaussians(50, degree)
    write_ply(tmp_path / "g.ply", g)
    back = read_ply(tmp_path / "g.ply")
    for a, b in zip(g.tensors(), back.tensors()):
        torch.testing.assert_close(a, b)
    assert back.sh_degree == degree


def test_ply_uses_inria_layout(tmp_path):
    g = random_gaussians(3, 1)
    write_ply(tmp_path / "g.ply", g)
    v = PlyData.read(str(tmp_path / "g.ply"))["vertex"]
    names = [p.name for p in v.properties]
    assert names[:9] == ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
    assert names[-8:] == ["opacity", "scale_0", "scale_1", "scale_2",
                          "rot_0", "rot_1", "rot_2", "rot_3"]
    # f_rest is channel-major: f_rest_0..2 are the red channel's three degree-1 coefficients.
    np.testing.assert_allclose([v["f_rest_0"][1], v["f_rest_1"][1], v["f_rest_2"][1]],
                               g.sh[1, 1:, 0].numpy(), rtol=1e-6)
    np.testing.assert_allclose(v["f_rest_3"][2], g.sh[2, 1, 1].item(), rtol=1e-6)
    np.testing.assert_allclose(v["rot_0"], g.quats_wxyz[:, 0].numpy(), rtol=1e-6)  # w first


def test_read_ply_names_missing_properties(tmp_path):
    from plyfile import PlyElement
    data = np.zeros(2, dtype=[("x", "f4"), ("y", "f4"), ("z", "f4")])
    PlyData([PlyElement.describe(data, "vertex")]).write(str(tmp_path / "pts.ply"))
    with pytest.raises(SplatsynthError, match=r"pts.ply.*lacks 3DGS properties.*f_dc_0"):
        read_ply(tmp_path / "pts.ply")


def test_gaussians_reject_bad_shapes():
    with pytest.raises(ValueError, match="log_scales"):
        Gaussians(torch.zeros(2, 3), torch.zeros(2, 4), torch.zeros(3, 3), torch.zeros(2),
                  torch.zeros(2, 1, 3))
    with pytest.raises(ValueError, match="degree"):
        Gaussians(torch.zeros(2, 3), torch.zeros(2, 4), torch.zeros(2, 3), torch.zeros(2),
                  torch.zeros(2, 5, 3))
