"""MixedMultiViewDataset, the mix YAML (load_mix) and check_mix."""

from __future__ import annotations

import pickle
from collections import Counter

import numpy as np
import pytest
import torch
from gslrm_fixtures import SIZE
from torch.utils.data import DataLoader

from splatsynth.errors import SplatsynthError
from splatsynth.training import (
    MixedMultiViewDataset,
    MultiViewDataset,
    check_mix,
    load_mix,
    read_mix,
)


def _ds(lst, **kw):
    kw = {"num_views": 2, "num_input_views": 1, "image_size": SIZE} | kw
    return MultiViewDataset(lst, **kw)


def test_mix_proportions_converge_to_weights(two_datasets):
    obj, mouse = two_datasets
    mixed = MixedMultiViewDataset([("objaverse", _ds(obj), 0.7), ("mouse", _ds(mouse), 0.3)],
                                  epoch_length=20000, seed=3)
    plan = mixed.draws()
    share = np.bincount(plan[:, 0], minlength=2) / len(plan)
    # binomial std is 0.0032 at n = 20000: 0.015 is ~4.6 sigma
    np.testing.assert_allclose(share, [0.7, 0.3], atol=0.015)
    for k, n in ((0, 3), (1, 5)):  # scenes uniform within each dataset
        counts = np.bincount(plan[plan[:, 0] == k, 1], minlength=n)
        assert counts.size == n
        np.testing.assert_allclose(counts / counts.sum(), 1 / n, atol=0.03)


def test_mix_items_follow_the_plan(two_datasets):
    obj, mouse = two_datasets
    mixed = MixedMultiViewDataset([("objaverse", _ds(obj), 1.0), ("mouse", _ds(mouse), 3.0)],
                                  epoch_length=40, seed=0)
    assert mixed.probabilities.tolist() == pytest.approx([0.25, 0.75])
    assert mixed.offsets.tolist() == [0, 3]
    names = Counter()
    for i, (k, scene) in enumerate(mixed.draws()):
        item = mixed[i]
        assert item["dataset"] == ["objaverse", "mouse"][k]
        # index[:, 1] is unique across the mix: offset by the earlier datasets' scene counts
        assert (item["index"][:, 1] == scene + (3 if k == 1 else 0)).all()
        names[item["dataset"]] += 1
    assert names["mouse"] > names["objaverse"] > 0


def test_mix_plan_is_seeded_and_changes_per_epoch(two_datasets):
    obj, mouse = two_datasets
    def mix(seed):
        return MixedMultiViewDataset([("a", _ds(obj), 0.5), ("b", _ds(mouse), 0.5)],
                                     epoch_length=200, seed=seed)
    m = mix(0)
    np.testing.assert_array_equal(m.draws(), mix(0).draws())
    assert not np.array_equal(m.draws(), mix(1).draws())
    first = m.draws().copy()
    m.set_epoch(1)
    assert not np.array_equal(m.draws(), first)
    np.testing.assert_array_equal(m.draws(epoch=0), first)
    assert len(m) == 200


def test_mix_rejects_what_cannot_be_batched_or_drawn(two_datasets):
    obj, mouse = two_datasets
    with pytest.raises(SplatsynthError, match="num_views = 3 differs"):
        MixedMultiViewDataset([("a", _ds(obj), 1), ("b", _ds(mouse, num_views=3), 1)])
    with pytest.raises(SplatsynthError, match="with_alpha"):
        MixedMultiViewDataset([("a", _ds(obj), 1), ("b", _ds(mouse, with_alpha=True), 1)])
    with pytest.raises(SplatsynthError, match="used twice"):
        MixedMultiViewDataset([("a", _ds(obj), 1), ("a", _ds(mouse), 1)])
    with pytest.raises(SplatsynthError, match="weight -1"):
        MixedMultiViewDataset([("a", _ds(obj), -1)])
    with pytest.raises(SplatsynthError, match="sum to 0"):
        MixedMultiViewDataset([("a", _ds(obj), 0), ("b", _ds(mouse), 0.0)])
    m = MixedMultiViewDataset([("a", _ds(obj), 1), ("b", _ds(mouse), 0)], epoch_length=50)
    assert (m.draws()[:, 0] == 0).all()  # weight 0 is listed but never drawn
    assert len(MixedMultiViewDataset([("a", _ds(obj), 1), ("b", _ds(mouse), 1)])) == 8


FLAT = """\
datasets:
  - {{name: objaverse, path: {obj}, weight: 0.7}}
  - {{name: mouse_synthetic, path: {mouse}, weight: 0.3}}
num_views: 3
num_input_views: 2
image_size: 8
epoch_length: 10
"""

NESTED = """\
dataset: {{type: MixedDataset,
          datasets: [{{name: objaverse, path: {obj}, weight: 0.7}},
                     {{name: mouse_synthetic, path: {mouse}, weight: 0.3}}],
          num_views: 3, num_input_views: 2, image_size: 8,
          background_color: black, remove_alpha: false, maximize_view_overlap: true}}
model: {{ignored: true}}
"""


def test_load_mix_flat_form_with_relative_paths(two_datasets, tmp_path):
    obj, mouse = two_datasets
    cfg = tmp_path / "mix.yaml"
    cfg.write_text(FLAT.format(obj="objaverse/data_gslrm_train.txt",
                               mouse="mouse/data_gslrm_train.txt"))
    mixed = load_mix(cfg)
    assert mixed.names == ["objaverse", "mouse_synthetic"]
    assert mixed.probabilities.tolist() == pytest.approx([0.7, 0.3])
    assert len(mixed) == 10 and mixed.num_views == 3 and mixed.num_input_views == 2
    assert [d.list_file for d in mixed.datasets] == [obj, mouse]
    item = mixed[0]
    assert item["image"].shape == (3, 3, 8, 8)
    assert item["dataset"] in ("objaverse", "mouse_synthetic")
    assert load_mix(cfg, strict=False, epoch_length=4).datasets[0].strict is False


def test_load_mix_nested_form_and_facelift_spellings(two_datasets, tmp_path):
    obj, mouse = two_datasets
    cfg = tmp_path / "train.yaml"
    cfg.write_text(NESTED.format(obj=obj, mouse=mouse))
    c = read_mix(cfg)
    assert (c.selection, c.with_alpha, c.background) == ("overlap", True, "black")
    mixed = load_mix(cfg)
    item = mixed[0]
    assert item["image"].shape == (3, 4, 8, 8)
    assert item["bg_color"].tolist() == [0.0, 0.0, 0.0]
    assert len(mixed) == 8  # default epoch length: every listed scene once


@pytest.mark.parametrize("text, match", [
    ("datasets: []\n", "non-empty list"),
    ("datasets: [{name: a, path: x.txt}]\nnum_view: 8\n", "unknown key 'num_view'"),
    ("datasets: [{name: a, path: x.txt, weight: -2}]\n", r"datasets\[0\] \(a\): weight -2"),
    ("datasets: [{name: a, path: x.txt, wieght: 2}]\n", "unknown key.*wieght"),
    ("datasets: [{name: a, path: x.txt}]\nnum_views: 2\nnum_input_views: 3\n",
     "num_input_views must be in .*got 3"),
    ("datasets: [{name: a, path: x.txt}]\nimage_size: 0\n", "image_size 0"),
    ("datasets: [{name: a, path: x.txt}]\nselection: best\n", "selection 'best'"),
    ("dataset: {type: ConcatDataset, datasets: []}\n", "not MixedDataset"),
    ("num_views: 8\n", "no 'datasets' list"),
    ("datasets: [{name: a, path: missing.txt}]\n", "missing.txt: cannot read scene list"),
])
def test_mix_config_errors_name_file_and_key(tmp_path, text, match):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    with pytest.raises(SplatsynthError, match=match) as err:
        load_mix(cfg)
    assert "bad.yaml" in str(err.value) or "missing.txt" in str(err.value)


def test_check_mix_reports_counts_and_effective_mix(two_datasets, tmp_path):
    obj, mouse = two_datasets
    cfg = tmp_path / "mix.yaml"
    cfg.write_text(FLAT.format(obj=obj, mouse=mouse).replace("epoch_length: 10\n", ""))
    report = check_mix(cfg)
    lines = report.splitlines()
    row = {ln.split()[0]: ln.split() for ln in lines if ln.strip().startswith(("objaverse",
                                                                               "mouse_synth"))}
    # dataset  scenes ok broken weight draws scenes% per-scene draws/epoch
    assert row["objaverse"][1:] == ["3", "3", "0", "0.7", "70.0%", "37.5%", "1.87x", "1.87"]
    assert row["mouse_synthetic"][1:] == ["5", "5", "0", "0.3", "30.0%", "62.5%", "0.48x",
                                          "0.48"]
    assert lines[-1] == "all 8 scenes OK"


def test_check_mix_lists_every_broken_scene(two_datasets, tmp_path):
    obj, mouse = two_datasets
    (mouse.parent / "mouse_2" / "images" / "cam_004.png").unlink()
    cams = obj.parent / "objaverse_1" / "opencv_cameras.json"
    cams.write_text(cams.read_text().replace('"w": 16', '"w": 17', 1))
    with open(mouse, "a") as f:
        f.write("mouse_4\n")  # listed twice (relative to the list file)
    cfg = tmp_path / "mix.yaml"
    cfg.write_text(FLAT.format(obj=obj, mouse=mouse))
    with pytest.raises(SplatsynthError) as err:
        check_mix(cfg)
    msg = str(err.value)
    assert "2 broken scene(s):" in msg
    assert f"[mouse_synthetic] scene {mouse.parent / 'mouse_2'}" in msg
    assert f"{mouse.parent / 'mouse_2' / 'images' / 'cam_004.png'}: image file is missing" in msg
    assert f"[objaverse] scene {obj.parent / 'objaverse_1'}" in msg
    assert "cam_000.png: image is 16x16 but opencv_cameras.json says 17x16" in msg
    assert "1 scene(s) listed more than once" in msg
    row = next(ln.split() for ln in msg.splitlines() if ln.strip().startswith("mouse_synthetic"))
    assert row[1:4] == ["6", "5", "1"]


def test_dataloader_workers_collate_and_draw_independently(two_datasets):
    obj, mouse = two_datasets
    mixed = MixedMultiViewDataset([("objaverse", _ds(obj, num_views=4), 0.5),
                                   ("mouse", _ds(mouse, num_views=4), 0.5)],
                                  epoch_length=8, seed=0)
    mixed = pickle.loads(pickle.dumps(mixed))
    torch.manual_seed(0)
    loader = DataLoader(mixed, batch_size=2, num_workers=2)
    batches = list(loader)
    assert len(batches) == 4
    b = batches[0]
    assert b["image"].shape == (2, 4, 3, SIZE, SIZE) and b["index"].shape == (2, 4, 2)
    assert isinstance(b["dataset"], list) and set(b["dataset"]) <= {"objaverse", "mouse"}
    names = [n for b in batches for n in b["dataset"]]
    assert names == [["objaverse", "mouse"][k] for k in mixed.draws()[:, 0]]


def test_workers_do_not_repeat_each_others_view_draws(two_datasets):
    obj, _ = two_datasets
    ds = _ds(obj, num_views=4)
    single = torch.utils.data.Subset(ds, [0] * 4)  # the same scene four times
    torch.manual_seed(0)
    items = list(DataLoader(single, batch_size=1, num_workers=2))
    views = [tuple(x["index"][0, :, 0].tolist()) for x in items]
    # worker 0 serves items 0 and 2, worker 1 items 1 and 3; copies of one generator would
    # draw the same views for items 0 and 1 (1 in 1680 by chance)
    assert views[0] != views[1] and views[2] != views[3]
