"""`drywallqa data ...` and the data layer on what a user with a dataset of their own sends: folders moved between
runs, odd labels, odd names (tiny fixtures made on the fly)."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image


@pytest.fixture
def registered():
    """Dataset names registered by the test, removed afterwards."""
    from drywallqa.data import registry

    before = set(registry.DATASETS.names())
    yield registry
    for name in set(registry.DATASETS.names()) - before:
        registry.DATASETS.remove(name)


class _Boxes:
    """A refiner that keeps each box (no HED weights, no SAM)."""

    def describe(self):
        return {"with": "edges"}

    def __call__(self, image, boxes):
        from drywallqa.data.coco import box_mask

        return [box_mask([b], *image.shape[:2]) for b in boxes], ["fell_back"] * len(boxes)


def _box_split(folder, n=3, size=(48, 64)):
    """A COCO split of ``n`` photos ``p<i>.jpg``, one box each."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    images, anns = [], []
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(folder / f"p{i}.jpg")
        images.append({"id": i, "file_name": f"p{i}.jpg", "height": size[0], "width": size[1]})
        anns.append({"id": i, "image_id": i, "category_id": 1, "bbox": [10, 10, 20, 8], "segmentation": []})
    (folder / "_annotations.coco.json").write_text(json.dumps(
        {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "joint"}]}))


def test_a_refine_rerun_after_the_datasets_folder_moved_links_the_photos_again(tmp_path, registered):
    """The links of the refined dataset point at the photos' old place once the datasets folder is moved; a rerun with
    the new --datasets-dir said every file done (same boxes, size and time) and left every link to nothing: the refined
    dataset read no photo."""
    from drywallqa.data.refine import refine_box_masks
    from drywallqa.data.sample import load_split

    registered.register_dataset(registered.DatasetConfig(
        "moved_boxes", "ds", ("segment joint",), {"train": registered.SplitSource("coco", "train")}, label_shape="box"))
    _box_split(tmp_path / "old" / "ds" / "train")
    out = tmp_path / "refined"
    refine_box_masks("moved_boxes", out, datasets_dir=tmp_path / "old", refiner=_Boxes(), progress=False)
    shutil.move(tmp_path / "old", tmp_path / "new")  # (mv keeps the photos' size and time)
    report = refine_box_masks("moved_boxes", out, datasets_dir=tmp_path / "new", refiner=_Boxes(), progress=False)
    assert report["splits"]["train"]["images"] == 3
    assert all((out / "train" / f"p{i}.jpg").exists() for i in range(3))
    assert os.path.realpath(out / "train" / "p0.jpg") == str((tmp_path / "new" / "ds" / "train" / "p0.jpg").resolve())
    registered.register_dataset(registered.DatasetConfig(
        "moved_refined", str(out), ("segment joint",), {"train": registered.SplitSource("mask_folder", "train")}))
    samples, problems = load_split("moved_refined", "train")
    assert len(samples) == 3 and not problems


def _box_yaml(tmp_path, name="own_boxes"):
    """A dataset YAML of a COCO box split of 3 photos: its path."""
    _box_split(tmp_path / name / "train")
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\nfolder: {name}\nprompts: [segment joint]\nlabel_shape: box\n")
    return path


@pytest.mark.parametrize("json_name, preview_name", [("same", "same"), ("pv/x.json", "pv/x.json/sub"),
                                                     ("pv/own_boxes_preview.png", "pv")])
def test_stats_json_and_preview_of_one_path_are_refused_before_the_work(tmp_path, registered, monkeypatch,
                                                                        json_name, preview_name):
    """``--json same --preview same`` wrote the JSON file, then stopped with a FileExistsError traceback making the
    preview folder; a JSON file named as a preview picture was written over by the picture, without a word."""
    from typer.testing import CliRunner

    from drywallqa.cli import app

    yaml = _box_yaml(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["data", "stats", "-d", str(yaml), "--json", json_name, "--preview", preview_name])
    assert result.exit_code == 2, result.output
    assert "--json / --preview" in result.output and not (tmp_path / json_name).exists()
    assert "Traceback" not in result.output


def test_a_category_spelled_decomposed_in_the_coco_file_is_chosen_by_its_yaml_name(tmp_path, registered):
    """``categories: [Reïs]`` typed in the YAML file (composed, NFC) chose no category of a file that spells it
    decomposed ("Rei" + a combining diaeresis), and the problem named the two alike: "not categories of this file (it
    has: ['Reïs'])"."""
    from drywallqa.data.sample import load_split

    _box_split(tmp_path / "walls" / "train", n=1)
    ann = tmp_path / "walls" / "train" / "_annotations.coco.json"
    coco = json.loads(ann.read_text())
    coco["categories"] = [{"id": 1, "name": "Rei\u0308s"}, {"id": 2, "name": "stain"}]
    coco["annotations"].append({"id": 9, "image_id": 0, "category_id": 2, "bbox": [40, 30, 10, 10], "segmentation": []})
    ann.write_text(json.dumps(coco))
    path = tmp_path / "walls.yaml"
    path.write_text("name: nfc_walls\nfolder: walls\nprompts: [segment joint]\nlabel_shape: box\ncategories: [Re\u00efs]\n", encoding="utf-8")
    samples, problems = load_split(str(path), "train")
    assert not problems
    assert samples[0].load_mask().sum() == 20 * 8  # the joint's box, not the stain's


@pytest.mark.parametrize("command", [["stats"], ["split", "--out", "splits"], ["refine-masks", "--with", "edges",
                                                                                "--out", "refined"]])
def test_a_yaml_folder_in_the_datasets_folder_follows_datasets_dir(tmp_path, registered, monkeypatch, command):
    """``folder: "{datasets}/walls"`` is the datasets folder's; ``--datasets-dir`` names it, but the YAML file was read
    with $DRYWALLQA_DATASETS or ../shared/datasets all the same: "no split folders found under .../shared/datasets/
    walls" with the dataset right where --datasets-dir said."""
    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.data import refine

    monkeypatch.setitem(refine.BOX_REFINERS._items, "edges", _Boxes)
    monkeypatch.delenv("DRYWALLQA_DATASETS", raising=False)
    _box_split(tmp_path / "mine" / "walls" / "train", n=4)
    (tmp_path / "walls.yaml").write_text("name: placed_walls\nfolder: '{datasets}/walls'\nprompts: [segment joint]\n"
                                         "label_shape: box\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["data", *command, "-d", "walls.yaml", "--datasets-dir", "mine"])
    assert result.exit_code == 0, result.output
    assert registered.get_dataset_config("placed_walls").root() == (tmp_path / "mine" / "walls").resolve()


def _mask_split(folder, n=2):
    """An image/mask-folder split of ``n`` photos whose masks are filled boxes."""
    (folder / "_masks").mkdir(parents=True)
    rng = np.random.default_rng(1)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(folder / f"m{i}.jpg")
        mask = np.zeros((48, 64), np.uint8)
        mask[10:30, 5:25] = 255
        Image.fromarray(mask).save(folder / "_masks" / f"m{i}.png")


def test_refine_refuses_a_mask_folder_split_it_would_write_empty_masks_of(tmp_path, registered):
    """A box dataset of image/mask folders (its boxes saved as masks, ``label_shape: box``): refine-masks found no
    annotation to refine in them and wrote every mask empty, reporting "3 images, 0 boxes" and no problem: a refined
    dataset of photos labelled with nothing. A dataset with COCO splits too refines those by default."""
    from drywallqa.data.refine import refine_box_masks

    _mask_split(tmp_path / "boxes" / "train")
    (tmp_path / "boxes.yaml").write_text("name: mask_boxes\nfolder: boxes\nprompts: [segment joint]\nlabel_shape: box\n")
    with pytest.raises(ValueError, match="'train' is an image/mask folder"):
        refine_box_masks(str(tmp_path / "boxes.yaml"), tmp_path / "out", refiner=_Boxes(), progress=False)
    assert not (tmp_path / "out").exists()

    _box_split(tmp_path / "boxes" / "valid")
    (tmp_path / "both.yaml").write_text("name: mixed_boxes\nfolder: boxes\nprompts: [segment joint]\nlabel_shape: box\n")
    with pytest.raises(ValueError, match="'train' is an image/mask folder.*its COCO splits: valid"):
        refine_box_masks(str(tmp_path / "both.yaml"), tmp_path / "out", splits=["train", "valid"], refiner=_Boxes(),
                         progress=False)
    report = refine_box_masks(str(tmp_path / "both.yaml"), tmp_path / "out", refiner=_Boxes(), progress=False)
    assert list(report["splits"]) == ["valid"] and report["splits"]["valid"]["boxes"] == 3


def test_a_dataset_yaml_file_named_in_capitals_is_read(tmp_path, registered, monkeypatch):
    """``-d WALLS.YAML`` (a file saved on Windows) was "unknown dataset 'WALLS.YAML'; ... (or give a dataset YAML
    file)": a YAML file was given."""
    from typer.testing import CliRunner

    from drywallqa.cli import app

    _box_split(tmp_path / "walls" / "train")
    (tmp_path / "WALLS.YAML").write_text("name: upper_walls\nfolder: walls\nprompts: [segment joint]\nlabel_shape: box\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["data", "split", "-d", "WALLS.YAML", "--out", "splits"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "splits" / "upper_walls.json").read_text())["dataset"] == "upper_walls"


def test_stats_json_to_a_pipe_or_device_is_refused_not_replaced_by_a_file(tmp_path, registered, monkeypatch):
    """``--json`` a named pipe (or, run as root, ``/dev/stdout``, ``/dev/full``): the statistics were written to a
    temporary file renamed into its place, so the pipe (the device node) was replaced by a regular file."""
    import stat

    from typer.testing import CliRunner

    from drywallqa.cli import app

    yaml = _box_yaml(tmp_path)
    pipe = tmp_path / "stats.pipe"
    os.mkfifo(pipe)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["data", "stats", "-d", str(yaml), "--json", str(pipe)])
    assert result.exit_code == 2, result.output
    assert "not a regular file" in result.output and stat.S_ISFIFO(pipe.lstat().st_mode)
