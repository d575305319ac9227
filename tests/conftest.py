"""Shared fixtures: paths to the real data shipped beside the project."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def facelift_dir() -> Path:
    d = FIXTURES / "facelift"
    assert d.is_dir(), f"missing fixture folder {d}"
    return d


@pytest.fixture(scope="session")
def tiny_demo(tmp_path_factory) -> Path:
    """The toy-mouse demo scene at 96 x 96 (6 rig views, 32 ground-truth orbit views)."""
    from splatsynth.demo import make_demo_scene

    return make_demo_scene(tmp_path_factory.mktemp("demo"), size=96)


@pytest.fixture(scope="session")
def tiny_fit_config():
    """A shrunk fit (nerfstudio's set_reduced_config idea): small, quick, still meaningful."""
    from splatsynth.fit import FitConfig

    return FitConfig(iterations=150, num_gaussians=3000, refine_start=50, refine_every=50,
                     sh_increase_every=50, progress=False)
