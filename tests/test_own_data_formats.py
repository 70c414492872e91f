"""Datasets in the shapes their owners export them (mask files of other kinds, COCO files of other tools): each read
as the label it shows, or refused with a named problem saying what to do (tiny fixtures made on the fly)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from drywallqa.data.registry import load_dataset_config
from drywallqa.data.sample import _MASK_CHECKS, load_split

W, H = 96, 64


def _label() -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[10:30, 20:60] = True
    return m


def _photo(path, w=W, h=H, **save):
    Image.fromarray((np.random.default_rng(0).random((h, w, 3)) * 255).astype(np.uint8)).save(path, **save)


def _mask_dataset(tmp_path, name, masks: dict):
    """A mask-folder dataset ``name`` of one photo per mask (``{stem: mask image}``); its config."""
    split = tmp_path / name / "train"
    (split / "_masks").mkdir(parents=True)
    for stem, mask in masks.items():
        _photo(split / f"{stem}.jpg")
        mask.save(split / "_masks" / f"{stem}.png")
    (tmp_path / f"{name}.yaml").write_text(f"name: {name}\nfolder: {name}\nprompts: [segment crack]\n")
    return load_dataset_config(tmp_path / f"{name}.yaml")


def test_a_0_255_mask_with_a_jpegs_noise_of_few_levels_is_named(tmp_path, caplog):
    """A 0/255 mask saved through JPEG once (values 250-255 on the label, 1-5 around it: 12 grey levels, fewer than the
    16 a label of class indices may have) was read as foreground wherever the noise was, 86% of the photo, and
    neither `data stats` nor training said a word."""
    rng = np.random.default_rng(1)
    m = _label()
    noisy = np.where(m, rng.integers(250, 256, m.shape), rng.integers(0, 6, m.shape)).astype(np.uint8)
    clean = {"zero_one": Image.fromarray(m.astype(np.uint8)), "classes": Image.fromarray((m * 2).astype(np.uint8)),
             "white": Image.fromarray(m.astype(np.uint8) * 255)}
    config = _mask_dataset(tmp_path, "noisy_masks", {"noisy": Image.fromarray(noisy), **clean})
    _MASK_CHECKS.clear()
    samples, problems = load_split(config, "train")
    assert len(samples) == 4 and not problems
    with caplog.at_level(logging.WARNING, "drywallqa.data.sample"):
        read = {s.image_path.stem: s.load_mask() for s in samples}
    assert all(np.array_equal(read[k], m) for k in ("zero_one", "white"))  # what is read is not changed
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 1 and warned[0].startswith(str(config.root() / "train" / "_masks" / "noisy.png")), warned
    assert "values near 0" in warned[0] and "JPEG" in warned[0] and "save it as 0/255" in warned[0]


def _coco_dataset(tmp_path, name, annotations, label_shape="region"):
    split = tmp_path / name / "train"
    split.mkdir(parents=True)
    _photo(split / "a.jpg")
    _photo(split / "b.jpg")
    images = [{"id": 1, "file_name": "a.jpg", "width": W, "height": H}, {"id": 2, "file_name": "b.jpg", "width": W,
                                                                          "height": H}]
    (split / "_annotations.coco.json").write_text(json.dumps({"images": images, "annotations": annotations,
                                                              "categories": [{"id": 1, "name": "crack"}]}))
    (tmp_path / f"{name}.yaml").write_text(f"name: {name}\nfolder: {name}\nprompts: [segment crack]\n"
                                           f"label_shape: {label_shape}\n")
    return load_dataset_config(tmp_path / f"{name}.yaml")


@pytest.mark.parametrize("segmentation", [None, []])
def test_box_only_annotations_of_a_region_dataset_are_named(tmp_path, segmentation):
    """A COCO export of boxes only (a detection project's) declared as a region dataset (the default) was read as
    filled rectangles, a crack's box a block of wall, without a word; a box dataset says so and is not named."""
    box = {"id": 1, "image_id": 1, "category_id": 1, "bbox": [20, 10, 40, 20], "iscrowd": 0}
    if segmentation is not None:
        box["segmentation"] = segmentation
    outline = {"id": 2, "image_id": 2, "category_id": 1, "bbox": [20, 10, 40, 20], "iscrowd": 0,
               "segmentation": [[20, 10, 60, 10, 60, 30, 20, 30]]}
    config = _coco_dataset(tmp_path, "boxes_as_regions", [box, outline])
    samples, problems = load_split(config, "train")
    assert [np.array_equal(s.load_mask(), _label()) for s in samples] == [True, True]  # read as before
    assert len(problems) == 1 and problems[0].path == str(config.root() / "train" / "a.jpg")  # (scored, with a note)
    assert "1 annotations have a box and no outline" in str(problems[0])
    assert "label_shape: box" in str(problems[0])
    boxes = _coco_dataset(tmp_path / "b", "boxes", [box, outline], label_shape="box")
    assert load_split(boxes, "train")[1] == []


def test_a_mask_of_the_photos_name_in_other_case_or_suffix_is_named_beside_the_photo(tmp_path):
    """A mask named ``img_1.png`` for ``IMG_1.JPG`` (read so on macOS, whose names are of any case), ``a.PNG`` or
    ``b.jpg``: the photo was "no mask at _masks/IMG_1.png" and the mask "no photo takes this mask", two lines apart;
    the photo's problem now names the file it meant and what to do."""
    m = Image.fromarray(_label().astype(np.uint8) * 255)
    config = _mask_dataset(tmp_path, "cased", {"IMG_1": m, "a": m, "b": m, "c": m})
    masks = config.root() / "train" / "_masks"
    (config.root() / "train" / "IMG_1.jpg").rename(config.root() / "train" / "IMG_1.JPG")
    (masks / "IMG_1.png").rename(masks / "img_1.png")
    (masks / "a.png").rename(masks / "a.PNG")
    m.save(masks / "b.jpg", format="JPEG")
    (masks / "b.png").unlink()
    (masks / "c.png").unlink()
    samples, problems = load_split(config, "train")
    assert samples == []
    said = {Path(p.path).name: p.message for p in problems if Path(p.path).parent.name == "train"}  # the photos
    assert "(img_1.png of _masks/ is of this photo's name otherwise written" in said["IMG_1.JPG"]
    assert "(a.PNG of _masks/" in said["a.jpg"] and "(b.jpg of _masks/" in said["b.jpg"]
    assert "rename it, or save it as PNG" in said["b.jpg"]
    assert said["c.jpg"] == f"no mask at {masks / 'c.png'}; skipped"  # none near: as before


def _turned_photo(path, w=W, h=H):
    """A photo stored ``w`` x ``h`` whose EXIF orientation (6) turns it a quarter, to ``h`` x ``w`` as shown."""
    exif = Image.Exif()
    exif[0x0112] = 6
    _photo(path, w, h, exif=exif.tobytes())


def test_a_label_drawn_on_a_photo_unturned_by_its_exif_orientation_says_what_to_do(tmp_path):
    """A phone photo stored 96x64 and shown 64x96 (EXIF orientation 6), labelled in a tool that shows it as stored: its
    mask, or its COCO entry's size, is the stored size. It was refused as "of another size" with nothing to do said
    (as if the label were of another photo); the problem now says that the label fits the unturned photo and how to
    read it so. A label of the photo as shown is read, and one of another size is refused as before."""
    m = Image.fromarray(_label().astype(np.uint8) * 255)
    config = _mask_dataset(tmp_path, "turned_masks", {"stored": m, "shown": m.transpose(Image.Transpose.ROTATE_270),
                                                     "other": m.resize((W * 2, H * 2))})
    _turned_photo(config.root() / "train" / "stored.jpg")
    _turned_photo(config.root() / "train" / "shown.jpg")
    samples, problems = load_split(config, "train")
    assert [s.image_path.name for s in samples] == ["shown.jpg"] and samples[0].load_mask().shape == (W, H)
    said = {Path(p.path).name: p.message for p in problems}
    assert set(said) == {"stored.png", "other.png"}
    assert "the label was drawn on the unturned photo" in said["stored.png"] and "-Orientation=" in said["stored.png"]
    assert said["other.png"].endswith("(as read: EXIF orientation applied) (drawn on the photo at another size: resize "
                                      "the mask to 96x64, nearest neighbour so that its values stay, or put beside it "
                                      "the photo it was drawn on); skipped")
    coco = _coco_dataset(tmp_path / "c", "turned_coco", [])
    _turned_photo(coco.root() / "train" / "a.jpg")
    samples, problems = load_split(coco, "train")
    assert [s.image_path.name for s in samples] == ["b.jpg"] and len(problems) == 1
    assert problems[0].path == str(coco.root() / "train" / "a.jpg")
    assert "declared 96x64 in the COCO file, but the file is 64x96" in problems[0].message
    assert "the label was drawn on the unturned photo" in problems[0].message


def test_a_coco_file_of_another_name_is_named_with_where_it_goes(tmp_path):
    """CVAT's COCO export (annotations/instances_default.json beside images/) was "no split folders found" (a split
    declared on images/: "_annotations.coco.json not found"), not a word of the COCO file the export holds."""
    export = tmp_path / "cvat"
    (export / "annotations").mkdir(parents=True)
    (export / "images").mkdir()
    _photo(export / "images" / "a.jpg")
    (export / "annotations" / "instances_default.json").write_text(json.dumps({"images": [], "annotations": []}))
    decl = tmp_path / "cvat.yaml"
    decl.write_text("name: cvat\nfolder: cvat\nprompts: [segment crack]\n")
    with pytest.raises(ValueError, match=r"no split folders found .* \(it holds annotations/instances_default.json: a "
                                         r"COCO file is read only as _annotations.coco.json in the folder of the photos"):
        load_dataset_config(decl)
    (export / "annotations" / "instances_default.json").rename(export / "images" / "instances_default.json")
    decl.write_text("name: cvat\nfolder: cvat\nprompts: [segment crack]\nsplits: {train: {kind: coco, folder: images}}\n")
    samples, problems = load_split(load_dataset_config(decl), "train")
    assert samples == [] and len(problems) == 1
    assert "(_annotations.coco.json not found) (it holds instances_default.json: a COCO file" in problems[0].message
    decl.write_text("name: nothing\nfolder: nothing\nprompts: [segment crack]\n")
    (tmp_path / "nothing").mkdir()
    with pytest.raises(ValueError, match=r"list them under splits:$"):  # no JSON file: as before
        load_dataset_config(decl)


def test_a_mask_drawn_black_on_white_is_named(tmp_path, caplog):
    """A label drawn black on a white mask (inverted: 0 on the crack, 255 around it) was read as the whole photo but
    the crack, 87% of it, without a word; a label touching the border, or covering the whole photo, is not named."""
    m = _label()
    edge = np.zeros((H, W), bool)
    edge[:, :70] = True  # a large label reaching three sides of the photo, not all four
    config = _mask_dataset(tmp_path, "inverted", {"inverted": Image.fromarray((~m).astype(np.uint8) * 255),
                                                  "edge": Image.fromarray(edge.astype(np.uint8) * 255),
                                                  "full": Image.fromarray(np.full((H, W), 255, np.uint8))})
    _MASK_CHECKS.clear()
    samples, _ = load_split(config, "train")
    with caplog.at_level(logging.WARNING, "drywallqa.data.sample"):
        read = {s.image_path.stem: s.load_mask() for s in samples}
    assert np.array_equal(read["inverted"], ~m)  # what is read is not changed
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 1 and warned[0].startswith(str(config.root() / "train" / "_masks" / "inverted.png")), warned
    assert "black on white (inverted)?" in warned[0] and "87% of the photo" in warned[0]


def test_a_polygon_written_flat_not_in_a_list_of_polygons_is_read():
    """``"segmentation": [x1, y1, x2, y2, ...]`` (one polygon not inside a list, as some converters write it) was
    "unusable (coordinates must be a list of numbers, got 20)" and its photo read as showing nothing."""
    from drywallqa.data.coco import rasterize_annotations

    flat = {"id": 1, "segmentation": [20, 10, 60, 10, 60, 30, 20, 30], "bbox": [0, 0, 90, 60]}
    mask, problems = rasterize_annotations([flat], H, W, "a.jpg")
    assert problems == [] and np.array_equal(mask, _label())
    mask, problems = rasterize_annotations([{"id": 2, "segmentation": [20, 10, 60, 30], "bbox": [0, 0, 90, 60]}], H, W)
    assert not mask.any() and "degenerate polygon with 2 points dropped" in str(problems[0])  # as a nested one is


def test_a_coco_photo_listed_in_other_case_than_on_disk_names_the_file_there(tmp_path):
    """A COCO file listing ``A.JPG`` of a photo saved ``a.jpg`` (exported on Windows or macOS, where names are of any
    case) was "missing on disk", the photo "not listed" in another line: the problem now names the file there."""
    config = _coco_dataset(tmp_path, "cased_coco", [])
    ann = config.root() / "train" / "_annotations.coco.json"
    coco = json.loads(ann.read_text())
    coco["images"][0]["file_name"] = "A.JPG"
    coco["images"].append({"id": 3, "file_name": "c.jpg", "width": W, "height": H})  # not there in any case
    ann.write_text(json.dumps(coco))
    samples, problems = load_split(config, "train")
    said = {Path(p.path).name: p.message for p in problems}
    assert [s.image_path.name for s in samples] == ["b.jpg"]
    assert said["A.JPG"] == ("listed in the COCO file but missing on disk (a.jpg is there, of its name in other case: "
                             "write its name as on disk in the COCO file, or rename the photo); skipped")
    assert said["c.jpg"] == "listed in the COCO file but missing on disk; skipped"


def test_a_coco_file_name_written_as_a_windows_path_is_read(tmp_path):
    """``"file_name": "images\\\\a.jpg"`` (a COCO file a script on Windows wrote) named no file here: "missing on disk",
    and the photo "not listed": every photo of such an export left out."""
    config = _coco_dataset(tmp_path, "windows_paths", [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [20, 10, 40, 20],
                                                        "segmentation": [[20, 10, 60, 10, 60, 30, 20, 30]]}])
    split = config.root() / "train"
    (split / "images").mkdir()
    (split / "a.jpg").rename(split / "images" / "a.jpg")
    ann = split / "_annotations.coco.json"
    coco = json.loads(ann.read_text())
    coco["images"][0]["file_name"] = "images\\a.jpg"
    coco["images"][1]["file_name"] = "..\\b.jpg"  # outside the split folder, as '/' would be: refused
    ann.write_text(json.dumps(coco))
    samples, problems = load_split(config, "train")
    assert [s.image_path for s in samples] == [split / "images" / "a.jpg"]
    assert np.array_equal(samples[0].load_mask(), _label())
    assert [p.message for p in problems] == ["file_name points outside the split folder; skipped",
                                             f"1 photos of {split} are not listed in it and are not read (b.jpg)"]


def test_a_mask_of_several_classes_is_named(tmp_path, caplog):
    """A mask of several classes (class indices 1 and 2; a CVAT or VOC export's red crack and green stain) was read as
    one label, the stain's pixels the crack's too, without a word, where a COCO file's several categories are named.
    A white label's lighter edge (one hue), a palette mask of one class and a 0/1 mask are no classes."""
    m = _label()
    two = m.astype(np.uint8)
    two[40:50, 10:80] = 2
    colours = np.zeros((H, W, 3), np.uint8)
    colours[two == 1] = [255, 0, 0]
    colours[two == 2] = [0, 128, 0]
    edged = np.zeros((H, W, 3), np.uint8)
    edged[m] = 255
    edged[10:30, 20] = 180  # a lighter edge of the one white label: not a class
    palette = Image.fromarray(m.astype(np.uint8), "P")
    palette.putpalette([0, 0, 0, 128, 0, 0] + [0] * 762)
    config = _mask_dataset(tmp_path, "classes", {"indices": Image.fromarray(two), "colours": Image.fromarray(colours),
                                                 "edged": Image.fromarray(edged), "palette": palette,
                                                 "zero_one": Image.fromarray(m.astype(np.uint8))})
    _MASK_CHECKS.clear()
    samples, _ = load_split(config, "train")
    with caplog.at_level(logging.WARNING, "drywallqa.data.sample"):
        read = {s.image_path.stem: s.load_mask() for s in samples}
    assert np.array_equal(read["indices"], two > 0) and np.array_equal(read["colours"], two > 0)  # read as before
    warned = sorted(r.getMessage() for r in caplog.records)
    masks = config.root() / "train" / "_masks"
    assert len(warned) == 2, warned
    assert warned[0] == (f"{masks / 'colours.png'}: a mask of 2 colours ((255, 0, 0): 800 px, (0, 128, 0): 700 px): "
                         "several classes? all are read as one label, this dataset's; keep only its class in the masks "
                         "(one dataset per class); a mask of instances of its one class (each its own value or "
                         "colour, as VOC's SegmentationObject) is read right: nothing to do")
    assert warned[1].startswith(f"{masks / 'indices.png'}: a mask of 2 values (1: 800 px, 2: 700 px): several classes?")


def test_a_mask_named_with_mask_or_the_photos_suffix_is_named_beside_the_photo(tmp_path):
    """``_masks/a_mask.png`` (as many exports name masks) or ``_masks/b.jpg.png`` beside photos
    a.jpg, b.jpg: "no mask at _masks/a.png", the mask named apart; the photo's problem now names the file it meant."""
    m = Image.fromarray(_label().astype(np.uint8) * 255)
    config = _mask_dataset(tmp_path, "tailed", {"a": m, "b": m, "mask": m})
    masks = config.root() / "train" / "_masks"
    (masks / "a.png").rename(masks / "a_mask.png")
    (masks / "b.png").rename(masks / "b.jpg.png")
    samples, problems = load_split(config, "train")
    assert [s.image_path.name for s in samples] == ["mask.jpg"]  # a photo named "mask" keeps its own mask
    said = {Path(p.path).name: p.message for p in problems if Path(p.path).parent.name == "train"}
    assert "(a_mask.png of _masks/ is of this photo's name otherwise written (case, suffix, '_mask')" in said["a.jpg"]
    assert "(b.jpg.png of _masks/" in said["b.jpg"]
