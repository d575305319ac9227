from pathlib import Path

import pytest
import tyro

from splatsynth.cli import RunArgs, _config_default, _parse
from splatsynth.config import RunConfig, config_to_dict, load_config, save_config
from splatsynth.errors import SplatsynthError


def test_defaults_match_spec():
    c = RunConfig()
    assert (c.fit.method, c.fit.iterations, c.fit.num_gaussians) == ("3dgs", 1000, 20000)
    assert (c.fit.lr_position, c.fit.lr_feature, c.fit.lr_opacity, c.fit.lr_scaling,
            c.fit.lr_rotation) == (1e-3, 1e-2, 5e-2, 5e-3, 1e-3)
    # lr_pose departs from the specification's 1e-3 on measurements (docs/fit.md, "Pose
    # refinement": 3e-4 wins back more of a calibration error and costs less on exact cameras)
    assert (c.fit.optimize_pose, c.fit.lr_pose) == (False, 3e-4)
    assert (c.fit.depth_weight, c.fit.normal_weight, c.fit.ssim_lambda) == (0.1, 0.05, 0.2)
    assert (c.orbit.views, c.orbit.size, c.orbit.elevation, c.orbit.distance) == \
        (32, 512, 20.0, 2.7)
    assert c.normalize.radius == 1.0


def test_yaml_round_trip(tmp_path):
    c = RunConfig()
    save_config(c, tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml") == c


def test_yaml_partial_and_cli_override(tmp_path):
    (tmp_path / "c.yaml").write_text("fit:\n  iterations: 500\n  optimize_pose: true\n"
                                     "orbit: {views: 8}\n")
    argv = ["scene", "--out", "o", "--config", str(tmp_path / "c.yaml"),
            "--fit.iterations", "700"]
    a = _parse(RunArgs, argv, "run",
               default=RunArgs(scene=tyro.MISSING, out=tyro.MISSING, cfg=_config_default(argv)))
    assert a.cfg.fit.iterations == 700  # the flag wins over the file
    assert a.cfg.fit.optimize_pose is True and a.cfg.orbit.views == 8  # the file wins over defaults
    assert a.cfg.fit.num_gaussians == 20000
    assert config_to_dict(a.cfg)["fit"]["iterations"] == 700


@pytest.mark.parametrize("text, match", [
    ("fit: {iteration: 5}", r"c.yaml: fit: unknown key\(s\) \['iteration'\]"),
    ("fit: {iterations: many}", r"c.yaml: fit.iterations: expected an integer"),
    ("fitt: {}", r"c.yaml: unknown key\(s\) \['fitt'\]"),
    ("fit: {method: nerf}", r"fit.method: expected one of \['3dgs', '2dgs'\], got 'nerf'"),
    ("fit: {background: [1, 1]}", r"fit.background: expected 3 numbers"),
    ("fit: {background: [1, 1, white]}", r"fit.background: expected 3 numbers"),
    ("fit: {background: 5}", r"fit.background: expected 3 numbers, got 5"),
    ("fit: {background: abc}", r"fit.background: expected 3 numbers, got 'abc'"),
    ("fit: {background: {r: 1}}", r"fit.background: expected 3 numbers, got \{'r': 1\}"),
    ("fit: {1: 2, x: 3}", r"c.yaml: fit: unknown key\(s\) \[1, 'x'\]"),
    ("fit: 3", r"c.yaml: fit: expected a mapping, got 3"),
    ("orbit: {focal: wide}", r"orbit.focal: expected a number or null, got 'wide'"),
    ("output: {mesh: 1}", r"output.mesh: expected true or false, got 1"),
    ("fit: {iterations: true}", r"fit.iterations must be an integer, got True"),
    ("fit: {iterations: 0}", r"c.yaml: fit.iterations must be >= 1, got 0"),
    ("- a\n- b", "expected a mapping"),
    ("fit: {iterations: [1", "not valid YAML"),
])
def test_bad_yaml_names_file_and_key(tmp_path, text, match):
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(SplatsynthError, match=match):
        load_config(tmp_path / "c.yaml")


def test_missing_config_file(tmp_path):
    with pytest.raises(SplatsynthError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize("name, iterations", [("fast", 500), ("quality", 2000)])
def test_shipped_presets_load_and_change_only_the_steps(name, iterations):
    path = Path(__file__).resolve().parents[1] / "configs" / f"{name}.yaml"
    cfg = load_config(path)
    assert cfg.fit.iterations == iterations
    got, default = config_to_dict(cfg), config_to_dict(RunConfig())
    got["fit"].pop("iterations")
    default["fit"].pop("iterations")
    assert got == default


def test_yaml_numbers_in_exponent_form_are_numbers(tmp_path):
    # YAML 1.1 reads 1e-3 (no dot) as a string
    (tmp_path / "c.yaml").write_text("fit: {lr_position: 1e-3, lr_pose: 2}\n")
    cfg = load_config(tmp_path / "c.yaml")
    assert cfg.fit.lr_position == 1e-3
    assert cfg.fit.lr_pose == 2.0 and isinstance(cfg.fit.lr_pose, float)
