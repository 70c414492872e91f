"""Corners of a user's own data: a COCO category no annotation uses (Roboflow's parent category), masks of
0/1 with 255 as 'ignore', and EXIF orientations that turn or mirror a photo without changing its size."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import yaml
from PIL import Image

from drywallqa.data import registry
from drywallqa.data.sample import load_split

from test_own_data_leftovers import H, POLY, W  # (names, the fixture: conftest)


def _declare(tmp_path, names, name, splits: dict, folder=None, **extra):
    """A dataset YAML ``name`` of the split folders ``splits`` ({split: kind}) under ``tmp_path/folder`` (default:
    ``name``); its config."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "folder": str(tmp_path / (folder or name)), "prompts": ["segment crack"],
                                    "splits": {s: {"kind": k, "folder": s} for s, k in splits.items()}, **extra}))
    names.append(name)
    return registry.get_dataset_config(str(path))


# ------------------------------------------------------------------ 1. a COCO category that no annotation uses
ROBOFLOW_CATEGORIES = [{"id": 0, "name": "crack", "supercategory": "none"},  # the project: Roboflow's parent category
                       {"id": 1, "name": "NewCracks - v2", "supercategory": "crack"}]  # the class every box is of


def _coco(tmp_path, name, categories, annotations, splits=("train", "valid")):
    """A COCO export ``tmp_path/name`` of one photo ``a.jpg`` per split, of ``categories`` and ``annotations``."""
    for split in splits:
        folder = tmp_path / name / split
        folder.mkdir(parents=True)
        Image.fromarray(np.full((H, W, 3), 120, np.uint8)).save(folder / "a.jpg")
        (folder / "_annotations.coco.json").write_text(json.dumps({
            "images": [{"id": 0, "file_name": "a.jpg", "width": W, "height": H}],
            "categories": categories, "annotations": annotations}))


def _roboflow_export(tmp_path, name, splits=("train", "valid")):
    _coco(tmp_path, name, ROBOFLOW_CATEGORIES,
          [{"id": 5, "image_id": 0, "category_id": 1, "bbox": [2, 2, 8, 6], "segmentation": POLY}], splits)


def _check(config):
    """The trainer's check of the categories a dataset's YAML names (raises where it has none of them)."""
    from drywallqa.engine.trainer import Trainer

    Trainer.check_categories(SimpleNamespace(datasets=[config], config=SimpleNamespace(
        data=SimpleNamespace(datasets_dir=None))))


def test_an_unused_parent_category_is_ignored_without_a_word(tmp_path, names):
    """A Roboflow export lists its project as category 0, which no annotation is of: the used category is the label,
    and the unused one is no problem (nor counted among 'several categories')."""
    _roboflow_export(tmp_path, "rf_plain")
    samples, problems = load_split(_declare(tmp_path, names, "rf_plain", {"valid": "coco"}), "valid")
    assert samples[0].load_mask().sum() == 48 and not problems, problems


def test_a_yaml_category_no_annotation_is_of_is_named_with_the_one_to_name(tmp_path, names):
    """categories: [crack] (the docs' example) on a Roboflow export chose its parent category 0, "crack", which labels
    nothing: every photo was read as showing nothing, without a word (the name is one of the file's), and `train`
    trained the prompt on empty masks. It is read as its children (h231: said at INFO, no problem); train goes on."""
    _roboflow_export(tmp_path, "rf_parent")
    config = _declare(tmp_path, names, "rf_parent", {"train": "coco", "valid": "coco"}, categories=["crack"])
    samples, problems = load_split(config, "valid")
    assert samples[0].load_mask().sum() == 48 and not problems, problems
    _check(config)
    # the class itself, by its name: read, nothing said
    chosen = _declare(tmp_path, names, "rf_class", {"train": "coco", "valid": "coco"}, folder="rf_parent",
                      categories=["NewCracks - v2"])
    samples, problems = load_split(chosen, "valid")
    assert samples[0].load_mask().sum() == 48 and not problems, problems
    _check(chosen)


def test_a_yaml_category_of_no_annotation_in_one_file_is_named_without_a_wrong_advice(tmp_path, names):
    """A category the user deleted every box of in one split's file: that file's photos are read as showing none of
    it, said so (with what its annotations are of), and the other category is not advised; a parent named beside
    its classes is read, nothing said."""
    _roboflow_export(tmp_path, "rf_both")
    both = _declare(tmp_path, names, "rf_both", {"valid": "coco"}, categories=["crack", "NewCracks - v2"])
    samples, problems = load_split(both, "valid")
    assert samples[0].load_mask().sum() == 48 and not problems, problems
    folder = tmp_path / "deleted" / "valid"
    folder.mkdir(parents=True)
    Image.fromarray(np.full((H, W, 3), 120, np.uint8)).save(folder / "a.jpg")
    (folder / "_annotations.coco.json").write_text(json.dumps({
        "images": [{"id": 0, "file_name": "a.jpg", "width": W, "height": H}],
        "categories": [{"id": 1, "name": "crack"}, {"id": 2, "name": "stain"}],
        "annotations": [{"id": 5, "image_id": 0, "category_id": 2, "bbox": [2, 2, 8, 6], "segmentation": POLY}]}))
    samples, problems = load_split(_declare(tmp_path, names, "deleted", {"valid": "coco"}, categories=["crack"]),
                                   "valid")
    said = "\n".join(map(str, problems))
    assert not samples[0].load_mask().any()
    assert "['crack']" in said and "showing none of them" in said and "['stain']" in said and "name those" not in said


# ------------------------------------------------------------------ 2. masks of 0/1 with 255 as 'ignore'
def _mask_folder(tmp_path, name, masks: dict):
    """A mask-folder split ``valid`` of ``tmp_path/name``: a photo per mask ``{stem: (H, W) uint8}``."""
    folder = tmp_path / name / "valid"
    (folder / "_masks").mkdir(parents=True)
    for stem, mask in masks.items():
        Image.fromarray(np.full((*mask.shape, 3), 120, np.uint8)).save(folder / f"{stem}.jpg")
        Image.fromarray(mask).save(folder / "_masks" / f"{stem}.png")


def _crack(value, band=None):
    """A 24x32 mask: an 8x6 crack of ``value``, inside a band 2 px wide of ``band`` where given."""
    mask = np.zeros((H, W), np.uint8)
    if band is not None:
        mask[4:14, 4:16] = band
    mask[6:12, 6:14] = value
    return mask


def test_a_mask_of_0_1_and_255_reads_255_as_ignore_and_says_so(tmp_path, names, caplog):
    """A mask of 0 background, 1 crack and 255 'ignore' (VOC's and MMSegmentation's convention) was read with its
    ignore band as crack (every pixel above 0), and its warning advised thresholding at 127: the crack gone, the band
    kept. The band is read as no crack, and said so once, naming the file; 0/255 and 0/1 masks are read as before."""
    import logging

    from drywallqa.data.sample import soft_mask_problem

    _mask_folder(tmp_path, "ignored", {"a": _crack(1, band=255), "b": _crack(1, band=255), "c": _crack(255),
                                       "d": _crack(1)})
    samples, problems = load_split(_declare(tmp_path, names, "ignored", {"valid": "mask_folder"}), "valid")
    assert not problems, problems
    with caplog.at_level(logging.WARNING, logger="drywallqa"):
        masks = {s.image_path.stem: s.load_mask() for s in samples}
    assert {k: int(m.sum()) for k, m in masks.items()} == {"a": 48, "b": 48, "c": 48, "d": 48}
    assert masks["a"][6:12, 6:14].all()
    said = soft_mask_problem(tmp_path / "ignored" / "valid" / "_masks" / "a.png").message
    assert "255" in said and "ignore" in said and "threshold" not in said, said
    warned = [r.getMessage() for r in caplog.records if "ignore" in r.getMessage()]
    assert len(warned) == 1 and "a.png" in warned[0], warned  # once for the folder, naming a file
    for clean in ("c", "d"):
        assert soft_mask_problem(tmp_path / "ignored" / "valid" / "_masks" / f"{clean}.png") is None


def test_a_0_255_mask_with_a_few_stray_low_values_keeps_its_label(tmp_path, names):
    """The ignore reading needs the low values to be a class (at least 1% of the foreground, a region): a 0/255 label
    with a stray pixel of 1, or a noise of lone pixels of 2, is read as before, 255 the label."""
    stray = _crack(255, band=255)
    stray[0, 0] = 1
    noisy = _crack(255, band=255)
    noisy[::4, ::3] = np.where(noisy[::4, ::3] == 0, 2, 255)
    _mask_folder(tmp_path, "stray", {"a": stray, "b": noisy})
    samples, _ = load_split(_declare(tmp_path, names, "stray", {"valid": "mask_folder"}), "valid")
    masks = {s.image_path.stem: s.load_mask() for s in samples}
    assert int(masks["a"].sum()) == 10 * 12 + 1 and masks["b"][4:14, 4:16].all()


# ------------------------------------------------------------------ 3. EXIF orientations that keep a photo's size
def _oriented(path, orientation, w, h):
    """A JPEG photo of ``w x h`` as stored, of the EXIF orientation ``orientation``."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(np.random.default_rng(orientation).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path, exif=exif)


@pytest.mark.parametrize("orientation, w, h, named", [(3, 32, 24, True), (2, 32, 32, True), (4, 32, 32, True),
                                                      (6, 32, 32, True), (1, 32, 32, False), (6, 32, 24, False)])
def test_an_exif_turn_that_keeps_the_size_is_named(tmp_path, names, orientation, w, h, named):
    """A photo of EXIF orientation 2-4 (mirrored, turned 180 degrees, flipped), or 5-8 on a square photo, is read
    turned, and keeps its size: a label drawn on it as stored (a tool that ignores EXIF) lay mirrored or turned
    against it, read without a word (no size check can tell). Each such photo is named (and read, as the tools that
    apply EXIF draw on it); a quarter turn of an oblong photo (6, 32x24 stored: read 24x32) is told by its size."""
    coco = tmp_path / f"o{orientation}" / "valid"
    masks = tmp_path / f"o{orientation}" / "train"
    (masks / "_masks").mkdir(parents=True)
    coco.mkdir(parents=True)
    _oriented(coco / "a.jpg", orientation, w, h)
    _oriented(masks / "a.jpg", orientation, w, h)
    rw, rh = (h, w) if orientation >= 5 else (w, h)  # as read
    label = np.zeros((rh, rw), np.uint8)
    label[2:8, 2:10] = 255
    Image.fromarray(label).save(masks / "_masks" / "a.png")
    (coco / "_annotations.coco.json").write_text(json.dumps({
        "images": [{"id": 0, "file_name": "a.jpg", "width": rw, "height": rh}], "categories": [],
        "annotations": [{"id": 5, "image_id": 0, "category_id": 1, "bbox": [2, 2, 8, 6], "segmentation": POLY}]}))
    config = _declare(tmp_path, names, f"o{orientation}_{w}", {"valid": "coco", "train": "mask_folder"},
                      folder=f"o{orientation}")
    for split in ("valid", "train"):
        samples, problems = load_split(config, split)
        assert len(samples) == 1, problems
        said = [str(p) for p in problems if "EXIF orientation" in p.message]
        assert bool(said) == named and not [p for p in problems if "EXIF" not in p.message], problems
        if named:
            assert "a.jpg" in said[0] and f"({orientation}" in said[0] and "exiftool" in said[0], said
    Image.fromarray(np.zeros((rh, rw), np.uint8)).save(masks / "_masks" / "a.png")  # no label: none to lie turned
    assert not load_split(config, "train")[1]
