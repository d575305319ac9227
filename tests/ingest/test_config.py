"""IngestConfig: every bad knob is refused with its dotted name; frame selection."""

from __future__ import annotations

import pytest

from splatsynth.errors import SplatsynthError
from splatsynth.ingest import BackgroundConfig, CheckConfig, IngestConfig


@pytest.mark.parametrize("kwargs, knob", [
    ({"every": 0}, "ingest.every"),
    ({"frames": "5"}, "ingest.frames"),
    ({"frames": "a:b"}, "ingest.frames"),
    ({"frames": "10:5"}, "ingest.frames"),
    ({"skip": "1,x"}, "ingest.skip"),
    ({"masks": "magic"}, "ingest.masks"),
    ({"crop": "head"}, "ingest.crop"),
    ({"size": 4}, "ingest.size"),
    ({"margin": -1.0}, "ingest.margin"),
    ({"workers": 0}, "ingest.workers"),
    ({"mask_threshold": 1.0}, "ingest.mask_threshold"),
    ({"hull_grid": 2}, "ingest.hull_grid"),
])
def test_bad_knobs_name_themselves(kwargs, knob):
    with pytest.raises(SplatsynthError, match=knob.replace(".", r"\.")):
        IngestConfig(**kwargs)


def test_nested_knobs_name_themselves():
    with pytest.raises(SplatsynthError, match=r"ingest\.background\.samples"):
        BackgroundConfig(samples=1)
    with pytest.raises(SplatsynthError, match=r"ingest\.checks\.max_area_ratio"):
        CheckConfig(max_area_ratio=0.5)
    with pytest.raises(SplatsynthError, match=r"ingest\.checks\.max_bad_views"):
        CheckConfig(max_bad_views=-1)


def test_selection_is_half_open_zero_based_with_every_and_skip():
    cfg = IngestConfig(frames="2:12", every=3, skip="5,8")
    assert cfg.select(20, "rec") == [2, 11]
    assert IngestConfig().select(4, "rec") == [0, 1, 2, 3]
    assert IngestConfig(frames="3:").select(5, "rec") == [3, 4]
    assert IngestConfig(frames=":2").select(5, "rec") == [0, 1]


@pytest.mark.parametrize("kwargs, what", [
    ({"frames": "5:"}, "starts at frame 5"),
    ({"frames": "0:6"}, "ends at frame 6"),
    ({"skip": "7"}, "beyond"),
])
def test_frames_out_of_range_name_the_recording(kwargs, what):
    with pytest.raises(SplatsynthError, match=f"rec/videos.*{what}"):
        IngestConfig(**kwargs).select(5, "rec/videos")
