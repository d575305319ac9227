"""Fixtures shared by the fit tests."""

import pytest

import splatsynth.render as render


@pytest.fixture
def raster_sizes(monkeypatch) -> list[tuple[int, int]]:
    """(width, height) of every 3DGS render from here on, in call order."""
    sizes: list[tuple[int, int]] = []
    real = render.rasterize

    def spy(*args, **kw):
        sizes.append((args[7], args[8]))
        return real(*args, **kw)

    monkeypatch.setattr(render, "rasterize", spy)
    return sizes
