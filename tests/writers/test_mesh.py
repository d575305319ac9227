"""TSDF fusion + marching cubes on a sphere whose depth maps are known in closed form."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from plyfile import PlyData

from splatsynth.cameras import orbit_cameras
from splatsynth.errors import SplatsynthError
from splatsynth.writers.mesh import fuse_tsdf, mesh_from_tsdf, write_tsdf_mesh

CENTRE = np.array([0.12, -0.08, 0.05])
RADIUS = 0.7


def _sphere_views(size: int = 96):
    """Cameras above and below the sphere, with its depth (camera z, 0 on a miss), coverage
    and a colour that encodes the world normal, all by ray-sphere intersection."""
    cams = orbit_cameras(views=12, size=size, elevation=30.0) \
        + orbit_cameras(views=12, size=size, elevation=-30.0)
    depths, alphas, images = [], [], []
    for cam in cams:
        j, i = np.mgrid[0:size, 0:size] + 0.5
        d = np.stack([(i - cam.cx) / cam.fx, (j - cam.cy) / cam.fy, np.ones_like(i)], -1) @ cam.R
        oc = cam.center - CENTRE
        a, b, c = (d * d).sum(-1), (d @ oc), oc @ oc - RADIUS**2
        disc = b * b - a * c
        hit = disc > 0
        z = np.where(hit, (-b - np.sqrt(np.maximum(disc, 0))) / a, 0.0)  # camera z (d.z = 1)
        n = (cam.center + z[..., None] * d - CENTRE) / RADIUS
        depths.append(z)
        alphas.append(hit.astype(np.float32))
        images.append(np.where(hit[..., None], (n + 1) / 2, 0.0))
    return cams, np.stack(depths), np.stack(alphas), np.stack(images)


@pytest.fixture(scope="module")
def sphere():
    return _sphere_views()


def test_fused_sphere_mesh_lies_on_the_sphere(sphere):
    pytest.importorskip("skimage")
    cams, depths, alphas, _ = sphere
    vol = fuse_tsdf(depths, cams, alphas, grid=64, bound=1.3)
    verts, faces = mesh_from_tsdf(vol)
    r = np.linalg.norm(verts - CENTRE, axis=1)
    assert len(faces) > 1000
    assert np.abs(r - RADIUS).max() < vol.voxel
    assert np.abs(r - RADIUS).mean() < 0.25 * vol.voxel
    # It covers the whole sphere (top, bottom and all round), not a patch of it.
    dirs = (verts - CENTRE) / r[:, None]
    assert dirs.min(0).max() < -0.95 and dirs.max(0).min() > 0.95
    # Faces wind outwards: their normals point away from the centre.
    tri = verts[faces]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    assert ((fn * (tri.mean(1) - CENTRE)).sum(-1) > 0).mean() > 0.99


def test_carving_removes_a_surface_only_some_views_report(sphere):
    """A phantom blob in one view's depth is contradicted by the others' empty pixels."""
    pytest.importorskip("skimage")
    cams, depths, alphas, _ = sphere
    depths, alphas = depths.copy(), alphas.copy()
    depths[0, :12, :12], alphas[0, :12, :12] = 1.0, 1.0  # a corner no other view agrees with
    vol = fuse_tsdf(depths, cams, alphas, grid=48)
    verts, _ = mesh_from_tsdf(vol)
    assert np.abs(np.linalg.norm(verts - CENTRE, axis=1) - RADIUS).max() < vol.voxel
    kept = mesh_from_tsdf(fuse_tsdf(depths, cams, alphas, grid=48, carve=False))[0]
    assert np.abs(np.linalg.norm(kept - CENTRE, axis=1) - RADIUS).max() > 0.2


def test_written_ply_has_faces_and_colours_from_the_views(sphere, tmp_path):
    pytest.importorskip("skimage")
    cams, depths, alphas, images = sphere
    name = write_tsdf_mesh(tmp_path / "mesh.ply", cams, depths, alphas, images, grid=48)
    assert name == "mesh.ply"
    ply = PlyData.read(str(tmp_path / "mesh.ply"))
    v = ply["vertex"]
    xyz = np.stack([v["x"], v["y"], v["z"]], 1)
    rgb = np.stack([v["red"], v["green"], v["blue"]], 1) / 255.0
    faces = np.stack(ply["face"]["vertex_indices"])
    assert faces.shape[1] == 3 and faces.max() < len(xyz)
    # The images paint the true normal, so each vertex's colour says where it is on the sphere.
    n = (xyz - CENTRE) / np.linalg.norm(xyz - CENTRE, axis=1, keepdims=True)
    assert np.median(np.abs(rgb * 2 - 1 - n).max(1)) < 0.05


def test_an_empty_field_is_a_clear_error(sphere):
    pytest.importorskip("skimage")
    cams, depths, alphas, _ = sphere
    with pytest.raises(SplatsynthError, match="no surface"):
        mesh_from_tsdf(fuse_tsdf(np.zeros_like(depths), cams, alphas * 0, grid=16))


def test_a_missing_scikit_image_is_a_clear_error(sphere, monkeypatch):
    cams, depths, alphas, _ = sphere
    monkeypatch.setitem(sys.modules, "skimage", None)
    monkeypatch.setitem(sys.modules, "skimage.measure", None)
    with pytest.raises(SplatsynthError, match="scikit-image"):
        mesh_from_tsdf(fuse_tsdf(depths, cams, alphas, grid=16))


def test_run_scene_writes_a_mesh_of_the_subject(tiny_demo, tiny_fit_config, tmp_path):
    """output.mesh on the toy mouse: mesh.ply in the scene folder, in the canonical frame, and
    its vertices taken back to the world land on the mouse in the true orbit views."""
    pytest.importorskip("skimage")
    from dataclasses import replace

    from splatsynth.cameras import OrbitConfig
    from splatsynth.config import OutputConfig, RunConfig
    from splatsynth.pipeline import load_ground_truth, run_scene
    from splatsynth.scene_io.normalize import Similarity

    cfg = RunConfig(fit=replace(tiny_fit_config, iterations=100),
                    orbit=OrbitConfig(views=16, size=96),
                    output=OutputConfig(mesh=True, contact_sheet=False))
    o = run_scene(tiny_demo, tmp_path, cfg)
    report = json.loads((o.scene_dir / "report.json").read_text())
    assert report["outputs"]["mesh"] == "mesh.ply"
    v = PlyData.read(str(o.scene_dir / "mesh.ply"))["vertex"]
    xyz = np.stack([v["x"], v["y"], v["z"]], 1).astype(np.float64)
    assert len(xyz) > 500 and np.abs(xyz).max() <= 1.3
    world = Similarity.from_dict(report["normalization"]).inverse().apply_points(xyz)
    gt = load_ground_truth(tiny_demo / "gt" / "orbit")
    on = []
    for cam, a in zip(gt.cameras, gt.mask):
        grown = np.pad(a, 2)
        grown = np.max([grown[dy:dy + a.shape[0], dx:dx + a.shape[1]]
                        for dy in range(5) for dx in range(5)], axis=0)
        uv, _ = cam.project(world)
        ij = np.clip(np.floor(uv).astype(int), 0, a.shape[0] - 1)
        on.append(grown[ij[:, 1], ij[:, 0]] > 0)
    assert np.mean(on) > 0.97


def test_run_scene_without_scikit_image_fails_before_fitting(tiny_demo, tmp_path, monkeypatch):
    from splatsynth.config import OutputConfig, RunConfig
    from splatsynth.pipeline import run_scene

    monkeypatch.setitem(sys.modules, "skimage", None)
    monkeypatch.setitem(sys.modules, "skimage.measure", None)
    with pytest.raises(SplatsynthError, match="scikit-image"):
        run_scene(tiny_demo, tmp_path, RunConfig(output=OutputConfig(mesh=True)))
    assert not any(tmp_path.iterdir())
