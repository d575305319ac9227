"""Training feed: FaceLift/GS-LRM-style multi-view datasets over GS-LRM scene folders, mixed by
weight (the ``splatsynth[train]`` extra; needs torch only).

    from splatsynth.training import load_mix
    mixed = load_mix("mix.yaml")        # a torch Dataset of FaceLift RandomViewDataset items
    item = mixed[0]                     # image [V, 3|4, H, W], c2w, fxfycxcy, index, bg_color,
                                        # dataset (name)

See ``docs/training.md`` for the item contract and the YAML form.
"""

from .dataset import MixedMultiViewDataset, MultiViewDataset, parse_background
from .mix import MixConfig, MixEntry, build_mix, check_mix, load_mix, read_mix
from .scenes import (
    CAMERAS_FILE,
    SceneCameras,
    load_view,
    read_list_file,
    read_scene_cameras,
    validate_scene,
)
from .views import SELECTIONS, Selection, ViewSelectionError, select_views, view_angles_deg

__all__ = [
    "MultiViewDataset", "MixedMultiViewDataset", "load_mix", "check_mix", "read_mix",
    "build_mix", "MixConfig", "MixEntry", "parse_background", "CAMERAS_FILE", "SceneCameras",
    "read_list_file", "read_scene_cameras", "validate_scene", "load_view", "select_views",
    "view_angles_deg", "Selection", "SELECTIONS", "ViewSelectionError",
]
