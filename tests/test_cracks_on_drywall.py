"""The cracks-on-drywall check (engine/cracks_on_drywall.py) and its place in ``drywallqa ship``."""

import json
import shutil

import cv2
import numpy as np
import pytest

from drywallqa.data import registry
from drywallqa.data.registry import DatasetConfig, SplitSource
from drywallqa.engine import cracks_on_drywall as drywall
from drywallqa.engine.segmenter import SegmentationResult, Segmenter
from drywallqa.engine.shipping import drywall_pair, ship
from drywallqa.utils.image_io import read_image


class _Constant(Segmenter):
    """Every prompt's mask all ``value`` on photos it ``sees`` (all photos when None), empty on the rest."""

    def __init__(self, value: bool, sees=None):
        self.value, self.sees = value, sees

    def decode(self, encoded, prompts, threshold=None, label_shape=None):
        image = encoded.rgb
        seen = self.sees is None or any(image.shape == s.shape and np.array_equal(image, s) for s in self.sees)
        masks = {p: np.full(image.shape[:2], self.value and seen) for p in prompts}
        return SegmentationResult(masks=masks, probabilities={p: m.astype(np.float32) for p, m in masks.items()})


def _pairs(synthetic_datasets, syn_splits):
    return drywall.transplant_pairs("test", syn_splits, synthetic_datasets, crack_dataset="syn_crack",
                                    wall_dataset="syn_tape")


def test_pairs_hold_every_labelled_crack_photo_and_the_composite_darkens_the_wall(synthetic_datasets, syn_splits):
    pairs = _pairs(synthetic_datasets, syn_splits)
    assert pairs and all(c.load_mask().any() for c, _ in pairs)
    assert len({str(c.image_path) for c, _ in pairs}) == len(pairs)
    comp = drywall.make_composite(*pairs[0])
    assert comp.composite.shape == comp.wall_photo.shape == comp.crack_photo.shape
    line = comp.crack_label
    assert comp.composite[line].mean() < comp.wall_photo[line].mean() - 10     # the crack arrives on the wall
    far = cv2.dilate(line.astype(np.uint8), np.ones((15, 15), np.uint8)) == 0
    assert far.any() and np.abs(comp.composite[far].astype(int) - comp.wall_photo[far]).max() <= 1  # nothing else


def test_a_model_blind_to_cracks_on_drywall_misses_every_composite_but_no_own_photo(synthetic_datasets, syn_splits):
    pairs = _pairs(synthetic_datasets, syn_splits)
    own_photos = [read_image(c.image_path) for c, _ in pairs]
    models = {"blind": _Constant(True, sees=own_photos), "all": _Constant(True), "none": _Constant(False)}
    rows, shown = drywall.score_cracks_on_drywall(models, pairs, examples=1, progress=False)
    rows = {r["model"]: r for r in rows}
    n = len(pairs)
    assert rows["blind"]["missed_own_photo"] == 0 and rows["blind"]["missed_on_drywall"] == n
    assert rows["blind"]["crack_mIoU_on_drywall"] == 0.0 < rows["blind"]["crack_mIoU_own_photo"]
    assert rows["none"]["missed_own_photo"] == rows["none"]["missed_on_drywall"] == n
    assert rows["all"]["missed_on_drywall"] == 0 and rows["all"]["crack_fg_on_plain_drywall"] == 1.0
    assert rows["blind"]["crack_fg_on_plain_drywall"] == 0.0 and all(r["crack_photos"] == n for r in rows.values())
    assert len(shown) == 1 and set(shown[0][1]) == set(models)
    table = drywall.markdown_table(list(rows.values()), "test")
    assert sum(row.startswith(("| blind |", "| all |", "| none |")) for row in table.splitlines()) == 3
    assert drywall.worse_than(rows["blind"], rows["all"]) and not drywall.worse_than(rows["all"], rows["blind"])
    assert f"missed {n} of {n}" in drywall.summary(rows["blind"], rows["all"])


def test_worse_than_needs_a_clear_margin():
    ref = {"missed_on_drywall": 40, "crack_photos": 278, "crack_mIoU_on_drywall": 0.318}
    assert not drywall.worse_than(dict(ref, missed_on_drywall=45, crack_mIoU_on_drywall=0.31), ref)
    assert drywall.worse_than(dict(ref, missed_on_drywall=60, crack_mIoU_on_drywall=0.31), ref)   # 20 more: 7%
    assert drywall.worse_than(dict(ref, crack_mIoU_on_drywall=0.29), ref)


def test_the_drywall_pair_comes_from_the_datasets_concepts(synthetic_datasets):
    strips = DatasetConfig("syn_strips", "tape", ("segment taping area",), {"train": SplitSource("coco", "train")},
                           concept="taping")
    crack = DatasetConfig("syn_crack2", "crack", ("segment crack",), {"train": SplitSource("mask_folder", "train")},
                          concept="cracks")
    for c in (strips, crack):
        registry.register_dataset(c)
    try:
        assert drywall_pair(("syn_crack2", "syn_strips", "syn_tape")) == ("syn_crack2", "syn_strips")
        assert drywall_pair(("syn_crack", "syn_tape")) is None      # concepts of their own names: no pair
    finally:
        for c in (strips, crack):
            registry.DATASETS.remove(c.name)


def test_ship_checks_cracks_on_drywall_against_the_model_it_replaces(tiny_model_dir, synthetic_datasets, syn_splits,
                                                                    tmp_path):
    dest = tmp_path / "shipped"
    shutil.copytree(tiny_model_dir, dest)   # the model replaced
    lines = []
    out = ship(tiny_model_dir, dest, datasets=("syn_crack", "syn_tape"), scales=((64,),), tta=(False,),
               splits_dir=syn_splits, datasets_dir=synthetic_datasets, timing_images=0, budget=False, gate=False,
               confidence=False, drywall_check=("syn_crack", "syn_tape"), progress=False, report=lines.append)
    check = json.loads((dest / "selection.json").read_text())["cracks_on_drywall"]
    assert check["part"] == "val" and set(check["rows"]) == {"new", "replaced"}
    new, old = check["rows"]["new"], check["rows"]["replaced"]
    assert new["crack_photos"] == old["crack_photos"] > 0
    assert abs(new["crack_mIoU_on_drywall"] - old["crack_mIoU_on_drywall"]) < 0.02  # the same weights (float16)
    assert check["worse"] is False and out["chosen"]["cracks_on_drywall"]["missed"] == new["missed_on_drywall"]
    assert any(str(x).startswith("val part, cracks on drywall: missed") for x in lines)
    fresh = tmp_path / "fresh"   # nothing replaced: the new model alone
    ship(tiny_model_dir, fresh, datasets=("syn_crack", "syn_tape"), scales=((64,),), tta=(False,), splits_dir=syn_splits,
         datasets_dir=synthetic_datasets, timing_images=0, budget=False, gate=False, confidence=False,
         drywall_check=("syn_crack", "syn_tape"), progress=False, report=lambda *_: None)
    assert set(json.loads((fresh / "selection.json").read_text())["cracks_on_drywall"]["rows"]) == {"new"}


def test_a_clear_regression_keeps_the_old_model_and_leaves_the_new_one_beside_it(tiny_model_dir, synthetic_datasets,
                                                                                 syn_splits, tmp_path, monkeypatch):
    from drywallqa.engine import shipping

    row = {"model": "new", "crack_photos": 100, "missed_on_drywall": 30, "crack_mIoU_on_drywall": 0.2}
    old = dict(row, model="replaced", missed_on_drywall=10, crack_mIoU_on_drywall=0.3)
    monkeypatch.setattr(shipping, "check_drywall", lambda *a, **k: {
        "part": "val", "rows": {"new": row, "replaced": old}, "worse": drywall.worse_than(row, old)})
    dest = tmp_path / "shipped"
    shutil.copytree(tiny_model_dir, dest)
    (dest / "MODEL_CARD.md").write_text("# the old model's card")
    before = {p.name: p.read_bytes() for p in dest.iterdir()}
    kwargs = dict(datasets=("syn_crack", "syn_tape"), scales=((64,),), tta=(False,), splits_dir=syn_splits,
                  datasets_dir=synthetic_datasets, timing_images=0, budget=False, gate=False, confidence=False,
                  drywall_check=("syn_crack", "syn_tape"), progress=False, report=lambda *_: None)
    with pytest.raises(shipping.DrywallRegression, match=r"missed 30 of 100.*replaced: 10.*shipped.candidate"):
        ship(tiny_model_dir, dest, **kwargs)
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == before        # the old model, untouched
    candidate = tmp_path / "shipped.candidate"
    assert json.loads((candidate / "selection.json").read_text())["cracks_on_drywall"]["worse"] is True
    assert Segmenter.load(candidate).predict(np.zeros((64, 64, 3), np.uint8), ["segment crack"]).masks
    assert not any(p.name.startswith(".shipped") for p in tmp_path.iterdir())
    lines = []
    out = ship(tiny_model_dir, dest, **dict(kwargs, report=lines.append), accept_drywall_regression=True)
    assert out["chosen"]["cracks_on_drywall"]["worse"] is True and "selection.json" in out["files"]
    assert json.loads((dest / "selection.json").read_text())["cracks_on_drywall"]["rows"]["new"]["missed_on_drywall"] == 30
    assert any("WARNING" in str(x) for x in lines) and (dest / "MODEL_CARD.md").read_text() == "# the old model's card"


def test_taping_on_the_composite_is_scored_against_box_labels_as_evaluate_scores_it(synthetic_datasets, syn_splits):
    """syn_tape's labels are boxes: its prompt's masks are asked for as boxes (the model's box adapter), as evaluate
    asks for them; plain strip masks were scored against the boxes (v0.5.0's strips: 0.35 where v0.4.0's boxes 0.64)."""

    class _Boxes(Segmenter):  # the wall label where masks are asked for as boxes, nothing otherwise
        def decode(self, encoded, prompts, threshold=None, label_shape=None):
            h, w = encoded.rgb.shape[:2]
            masks = {p: np.zeros((h, w), bool) for p in prompts}
            if label_shape == "box" and drywall.TAPING in prompts:
                masks[drywall.TAPING] = label.copy()
            return SegmentationResult(masks=masks, probabilities={p: m.astype(np.float32) for p, m in masks.items()})

    pairs = _pairs(synthetic_datasets, syn_splits)[:1]
    label = drywall.make_composite(*pairs[0]).wall_label
    assert label.any()
    rows, _ = drywall.score_cracks_on_drywall({"boxes": _Boxes()}, pairs, progress=False)
    assert rows[0]["taping_mIoU_on_composite"] == 1.0
    assert rows[0]["missed_on_drywall"] == 1  # the crack prompt's mask is as it was (no adapter of its own)


def test_the_benchmark_refuses_a_model_path_given_twice(load_script, tmp_path, monkeypatch, capsys):
    """benchmarks/cracks_on_drywall.py --model-path A --model-path A scored A twice and kept one column of the two,
    without a word."""
    import sys

    import pytest

    script = load_script("cracks_on_drywall", "benchmarks")
    monkeypatch.setattr(script, "check_split_manifest", lambda *a, **k: None)
    monkeypatch.setattr(script, "transplant_pairs", lambda *a, **k: [object()])
    monkeypatch.setattr(script.Segmenter, "load", lambda *a, **k: pytest.fail("the models loaded"))
    monkeypatch.setattr(sys, "argv", ["cracks_on_drywall.py", "--out", str(tmp_path / "o"), "--model-path",
                                      str(tmp_path / "m"), "--model-path", str(tmp_path / "m")])
    with pytest.raises(SystemExit) as exc:
        script.main()
    assert exc.value.code == 2 and "given twice" in capsys.readouterr().err
