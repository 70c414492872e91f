"""`drywallqa evaluate --splits all`: every photo of every split a dataset declares (an export of your own, whatever
its splits are named), scored once each and reported as "all photos"."""

from __future__ import annotations

import csv
import dataclasses
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import make_coco_split, says
from drywallqa.cli import app
from drywallqa.data import registry
from drywallqa.engine.evaluator import ALL_PHOTOS, SPLIT_CHOICES, NothingToScoreError, build_eval_sets


@pytest.fixture
def own_export(tmp_path):
    """``own_export(splits) -> path``: a Roboflow COCO export ``walls/<split>/`` of ``splits`` (split -> photos) and its
    dataset YAML ``my_walls`` (splits found from the layout), unregistered once the test is done (and before: other
    test files run in the same process register a ``my_walls`` of their own)."""
    if "my_walls" in registry.DATASETS:
        registry.DATASETS.remove("my_walls")

    def make(splits: dict) -> str:
        rng = np.random.default_rng(1)
        for split, n in splits.items():
            make_coco_split(tmp_path / "walls" / split, n, rng, stems=[f"{split}{i}" for i in range(n)], kind="polygon")
        path = tmp_path / "my_walls.yaml"
        path.write_text("name: my_walls\nfolder: walls\nprompts: [segment crack]\n")
        return str(path)

    yield make
    if "my_walls" in registry.DATASETS:
        registry.DATASETS.remove("my_walls")


def _evaluate(tiny_model_dir, *args):
    return CliRunner().invoke(app, ["evaluate", "--model-path", str(tiny_model_dir), "--speed-images", "0", *args])


def test_an_export_with_only_a_test_folder_is_scored_whole_as_all_photos(tiny_model_dir, own_export, tmp_path):
    yaml_file, out = own_export({"test": 5}), tmp_path / "eval"
    res = _evaluate(tiny_model_dir, "-d", yaml_file, "--splits", "all", "--out", str(out))
    assert res.exit_code == 0, res.output
    report = json.loads((out / "report.json").read_text())
    assert [(r["split"], r["dataset"], r["images"]) for r in report["metrics"]] == [(ALL_PHOTOS, "my_walls", 5)]
    with open(out / "per_image.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["split"] for r in rows} == {ALL_PHOTOS} and len({r["image"] for r in rows}) == 5
    assert f"| {ALL_PHOTOS} | my_walls |" in (out / "report.md").read_text()
    assert report["examples_png"] == "examples.png" and (out / "examples.png").is_file()  # drawn from all photos
    assert report["confidence_png"] == "confidence.png"


def test_all_photos_holds_every_split_once_and_leaves_the_other_choices_as_they_were(synthetic_datasets):
    sets = build_eval_sets(("syn_crack", "syn_tape"), which=("published", "all"), datasets_dir=synthetic_datasets)
    assert [(es.name, es.dataset, len(es.samples)) for es in sets] == [
        ("published valid", "syn_crack", 4), (ALL_PHOTOS, "syn_crack", 16),
        ("published valid", "syn_tape", 4), (ALL_PHOTOS, "syn_tape", 16)]
    for es in sets:
        assert len({str(s.image_path) for s in es.samples}) == len(es.samples) and not es.problems
    (few,) = build_eval_sets(("syn_crack",), which=("all",), datasets_dir=synthetic_datasets, limit=3)
    assert len(few.samples) == 3


def test_a_photo_two_splits_hold_is_scored_once_with_a_note(synthetic_datasets):
    crack = registry.get_dataset_config("syn_crack")
    registry.register_dataset(dataclasses.replace(crack, name="syn_crack_twice", splits={
        "valid": crack.splits["valid"], "test": crack.splits["valid"]}))  # one folder under two names
    try:
        (es,) = build_eval_sets(("syn_crack_twice",), which=("all",), datasets_dir=synthetic_datasets)
    finally:
        registry.DATASETS.remove("syn_crack_twice")
    assert len(es.samples) == 4 and len({str(s.image_path) for s in es.samples}) == 4
    assert any("4 photos are in more than one of its split folders" in n for n in es.notes)


def test_a_dataset_without_photos_is_a_clean_error_naming_it_and_its_splits(tiny_model_dir, own_export, tmp_path):
    yaml_file = own_export({"test": 0})
    with pytest.raises(NothingToScoreError, match="all photos of 'my_walls': no photo to score in any of its splits"):
        build_eval_sets((yaml_file,), which=("all",))
    res = _evaluate(tiny_model_dir, "-d", yaml_file, "--splits", "all", "--out", str(tmp_path / "eval"))
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    assert says(res.output, "error:", "all photos of 'my_walls'", "test:")
    assert not (tmp_path / "eval" / "report.json").exists()


def test_published_on_an_export_without_valid_points_to_all(tiny_model_dir, own_export, tmp_path):
    yaml_file = own_export({"test": 2})
    res = _evaluate(tiny_model_dir, "-d", yaml_file, "--splits", "published", "--out", str(tmp_path / "eval"))
    assert res.exit_code == 2, res.output
    assert says(res.output, "has no split 'valid'", "all scores every photo of every split")


def test_help_and_errors_name_every_choice():
    help_text = CliRunner().invoke(app, ["evaluate", "--help"]).output
    unknown = CliRunner().invoke(app, ["evaluate", "--splits", "everything"]).output
    for name in SPLIT_CHOICES:  # the choices the evaluator takes, each said in --help and in the refusal
        assert says(help_text, f"{name} (") and says(unknown, name), name


def test_a_split_that_cannot_be_read_beside_one_that_can_is_a_failure(own_export, tmp_path):
    yaml_file = own_export({"test": 3, "train": 2})
    (tmp_path / "walls" / "train" / "_annotations.coco.json").write_text("{bad")
    (es,) = build_eval_sets((yaml_file,), which=("all",))
    assert len(es.samples) == 3 and len(es.problems) == 1 and "cannot read COCO annotations" in es.problems[0]


def test_published_without_a_valid_split_is_refused_before_the_model_loads(own_export, tmp_path):
    yaml_file = own_export({"test": 2})
    res = CliRunner().invoke(app, ["evaluate", "--model-path", str(tmp_path / "no_model"), "-d", yaml_file,
                                   "--speed-images", "0", "--out", str(tmp_path / "eval")])  # default: published,group
    assert res.exit_code == 2 and says(res.output, "'my_walls' has no split 'valid'; it has test", "all scores every photo")
