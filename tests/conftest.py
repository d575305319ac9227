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
