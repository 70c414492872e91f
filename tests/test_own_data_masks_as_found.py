"""What a user's own annotated data goes through: masks and COCO files as people really have them, read
by `evaluate`, `data stats` and `data split`: right numbers, or a clear warning or error naming the file."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image, ImageDraw

from conftest import says
from drywallqa.data import registry
from drywallqa.data.registry import DatasetConfig, SplitSource
from drywallqa.engine.segmenter import SegmentationResult, Segmenter


class _RedMaps(Segmenter):
    """Every prompt's map: the photo's red channel / 255."""

    def decode(self, encoded, prompts, threshold=None, label_shape=None):
        prob = encoded.rgb[..., 0].astype(np.float32) / 255
        return SegmentationResult(masks={p: prob > 0.5 for p in prompts}, probabilities={p: prob for p in prompts})


def _label(size=64):
    m = Image.new("L", (size, size), 0)
    ImageDraw.Draw(m).line([(5, 6), (size - 8, size - 10)], fill=255, width=6)
    return np.asarray(m) > 0


def _jpeg_mask(mask: np.ndarray) -> Image.Image:
    """A 0/255 mask saved as JPEG once (as many tools export), then kept as PNG: its noise about the stroke."""
    b = io.BytesIO()
    Image.fromarray(mask.astype(np.uint8) * 255).save(b, "JPEG", quality=75)
    return Image.open(b)


def _mask_folder(root, masks: dict) -> DatasetConfig:
    """A mask-folder dataset under ``root`` (split ``train``): a photo per mask (its red channel the label)."""
    (root / "train" / "_masks").mkdir(parents=True)
    for stem, mask in masks.items():
        label = np.asarray(mask.convert("L")) > 0 if isinstance(mask, Image.Image) else mask
        Image.fromarray(np.repeat(label.astype(np.uint8)[..., None] * 200, 3, axis=2)).save(root / "train" / f"{stem}.jpg",
                                                                                            quality=95)
        (mask if isinstance(mask, Image.Image) else Image.fromarray(mask.astype(np.uint8) * 255)).save(
            root / "train" / "_masks" / f"{stem}.png")
    config = DatasetConfig("h306_own", str(root), ("segment crack",), {"train": SplitSource("mask_folder", "train")})
    registry.register_dataset(config)
    return config


def test_evaluate_names_a_jpeg_mask_among_the_data_problems_of_its_report(tmp_path):
    """A 0/255 mask saved as JPEG is read as foreground wherever it is above 0 (its noise too): it was named only in a
    log line during scoring, and the report kept (report.md, report.json) said nothing of the photo's score."""
    from drywallqa.engine.evaluator import evaluate

    config = _mask_folder(tmp_path / "ds", {"clean": _label(), "noisy": _jpeg_mask(_label())})
    report = evaluate(_RedMaps(), tmp_path / "eval", datasets=(config.name,), which=("all",), speed_images=0,
                      progress=False)
    named = [p for p in report["data_problems"] if "noisy.png" in p]
    assert len(named) == 1 and "grey levels" in named[0], report["data_problems"]
    assert not any("clean.png" in p for p in report["data_problems"])
    assert "noisy.png" in (tmp_path / "eval" / "report.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("layout, said", [
    ("train/masks", "train/masks/ holds masks (PNG): a mask-folder split reads them from train/_masks/"),
    ("masks", "masks/ holds masks (PNG): a mask-folder split reads them from <split>/_masks/"),
])
def test_a_masks_folder_not_named_underscore_masks_is_named_with_what_to_do(tmp_path, layout, said):
    """Photos with their masks in masks/ (as most tools and tutorials lay them out), not _masks/: the error said only
    "no split folders found (expected ...); list them under splits:", and a split so declared read every photo as
    having no mask."""
    from drywallqa.data.registry import load_dataset_config

    root = tmp_path / "ds"
    photos = root / ("train" if layout.startswith("train") else "images")
    (root / layout).mkdir(parents=True)
    photos.mkdir(exist_ok=True)
    Image.new("RGB", (8, 8)).save(photos / "a.jpg")
    Image.new("L", (8, 8)).save(root / layout / "a.png")
    (tmp_path / "d.yaml").write_text("name: d\nfolder: ds\nprompts: [segment crack]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no split folders found") as err:
        load_dataset_config(tmp_path / "d.yaml")
    assert said in str(err.value), str(err.value)


def _coco_export(root, category="Wall Crack"):
    """A COCO export ``root/train`` of one photo and one polygon of ``category`` (Roboflow's parent category 0 too)."""
    (root / "train").mkdir(parents=True)
    Image.new("RGB", (32, 32)).save(root / "train" / "a.jpg")
    coco = {"images": [{"id": 1, "file_name": "a.jpg", "width": 32, "height": 32}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 100,
                             "bbox": [5, 5, 10, 10], "segmentation": [[5, 5, 15, 5, 15, 15, 5, 15]]}],
            "categories": [{"id": 0, "name": "walls", "supercategory": "none"},
                           {"id": 1, "name": category, "supercategory": "walls"}]}
    (root / "train" / "_annotations.coco.json").write_text(json.dumps(coco), encoding="utf-8")


def test_evaluate_refuses_categories_its_files_label_nothing_of_naming_one_written_in_other_case(tmp_path):
    """`categories: [wall crack]` of a file whose category is 'Wall Crack': every photo was read as showing nothing
    and scored against an empty mask (a report of numbers, exit 1), where `train` refuses the dataset; now refused
    as `train` refuses it (exit 2, before the model loads), the name in the file's case said."""
    from typer.testing import CliRunner

    from drywallqa.cli import app

    _coco_export(tmp_path / "walls")
    yaml_file = tmp_path / "w.yaml"
    yaml_file.write_text("name: h306_cat\nfolder: walls\nprompts: [segment crack]\ncategories: [wall crack]\n",
                         encoding="utf-8")
    res = CliRunner().invoke(app, ["evaluate", "--model-path", str(tmp_path / "no_model"), "-d", str(yaml_file),
                                   "--splits", "all", "--speed-images", "0", "--out", str(tmp_path / "eval")])
    assert res.exit_code == 2, res.output
    assert says(res.output, "label none of them", "'wall crack' is written 'Wall Crack'"), res.output
    assert not (tmp_path / "eval" / "report.json").exists()


def test_an_annotation_whose_image_id_is_text_for_a_numeric_id_is_named_as_such(tmp_path):
    """An annotation of image_id "1" (text; its image entry's id is the number 1, as some converters write it) is
    skipped, and was named as of an image id "that no image entry has (1)": the very id the file's entry has."""
    from drywallqa.data.sample import load_split

    _coco_export(tmp_path / "walls")
    path = tmp_path / "walls" / "train" / "_annotations.coco.json"
    coco = json.loads(path.read_text(encoding="utf-8"))
    coco["annotations"][0]["image_id"] = "1"
    path.write_text(json.dumps(coco), encoding="utf-8")
    config = DatasetConfig("h306_ids", str(tmp_path / "walls"), ("segment crack",), {"train": SplitSource("coco", "train")})
    samples, problems = load_split(config, "train")
    said = [str(p) for p in problems if "image ids" in str(p)]
    assert len(said) == 1 and "('1')" in said[0] and "'1' is text, the image entry's id 1 a number" in said[0], said
    assert not samples[0].load_mask().any()


def test_a_grey_mask_of_classes_spaced_up_to_255_is_named_and_an_anti_aliased_edge_is_not(tmp_path):
    """A grey mask of two classes drawn at 128 and 255 (class indices spread over the grey range, to be seen) was read
    as one label without a word: only class indices below 128 were told from a 0/255 label's grey edge."""
    from drywallqa.data.sample import soft_mask_problem

    classes = np.zeros((100, 100), np.uint8)
    classes[10:30, 10:90], classes[50:80, 10:90] = 255, 128
    Image.fromarray(classes).save(tmp_path / "classes.png")
    said = soft_mask_problem(tmp_path / "classes.png")
    assert said is not None and "a mask of 2 values" in said.message and "128: 2400 px" in said.message, said
    edged = np.zeros((100, 100), np.uint8)  # a 0/255 stroke with a 1 px grey edge of two levels (anti-aliased)
    edged[38:62, 8:92] = 128
    edged[39:61, 9:91] = 190
    edged[40:60, 10:90] = 255
    Image.fromarray(edged).save(tmp_path / "edged.png")
    assert soft_mask_problem(tmp_path / "edged.png") is None


def test_a_file_name_of_the_path_a_photo_had_elsewhere_says_the_photo_of_its_name_is_there(tmp_path):
    """Label Studio writes file_name as the path a photo had when uploaded (/data/upload/1/a.jpg), a script on Windows
    an absolute path: every photo was skipped as "outside the split folder" or "missing on disk", and the photos as
    "not listed", without saying that the photo of that name is right there."""
    from drywallqa.data.sample import load_split

    _coco_export(tmp_path / "walls")
    path = tmp_path / "walls" / "train" / "_annotations.coco.json"
    coco = json.loads(path.read_text(encoding="utf-8"))
    Image.new("RGB", (32, 32)).save(tmp_path / "walls" / "train" / "b.jpg")
    coco["images"][0]["file_name"] = "/data/upload/1/a.jpg"
    coco["images"].append({"id": 2, "file_name": "C:\\Users\\me\\b.jpg", "width": 32, "height": 32})
    path.write_text(json.dumps(coco), encoding="utf-8")
    config = DatasetConfig("h306_names", str(tmp_path / "walls"), ("segment crack",), {"train": SplitSource("coco", "train")})
    samples, problems = load_split(config, "train")
    said = "\n".join(map(str, problems))
    assert not samples
    assert "a.jpg of this name is in the split folder" in said and "b.jpg of this name is in the split folder" in said, said


def test_a_mask_of_another_size_than_its_photo_says_what_to_do(tmp_path):
    """A mask of half its photo's size (the photo enlarged, or the mask saved smaller, after it was drawn) was skipped
    naming the two sizes and nothing to do."""
    from drywallqa.data.sample import load_split

    config = _mask_folder(tmp_path / "ds", {"a": _label(64)})
    Image.fromarray(_label(32).astype(np.uint8) * 255).save(tmp_path / "ds" / "train" / "_masks" / "a.png")
    samples, problems = load_split(config, "train")
    assert not samples and len(problems) == 1
    assert "mask is 32x32, image is 64x64" in problems[0].message and "resize the mask to 64x64" in problems[0].message
    Image.fromarray(np.zeros((20, 64), np.uint8)).save(tmp_path / "ds" / "train" / "_masks" / "a.png")
    samples, problems = load_split(config, "train")
    assert "another photo's mask" in problems[0].message, problems


def test_a_coco_photo_larger_than_its_entry_declares_says_what_to_do(tmp_path):
    """A photo replaced by a larger copy (the full-size original) after it was labelled at the declared size was
    skipped, naming the two sizes and nothing to do (a smaller copy of the same shape is read)."""
    from drywallqa.data.sample import load_split

    _coco_export(tmp_path / "walls")
    Image.new("RGB", (64, 64)).save(tmp_path / "walls" / "train" / "a.jpg")
    config = DatasetConfig("h306_big", str(tmp_path / "walls"), ("segment crack",), {"train": SplitSource("coco", "train")})
    samples, problems = load_split(config, "train")
    said = [p.message for p in problems]
    assert not samples and len(said) == 1 and "declared 32x32 in the COCO file, but the file is 64x64" in said[0], said
    assert "the labels were drawn on the photo at 32x32" in said[0], said


def test_a_declared_mask_folder_split_with_its_masks_in_masks_says_to_rename_it(tmp_path):
    """A split declared `kind: mask_folder` whose masks lie in masks/ (not _masks/): each photo was "no mask", and the
    folder "a folder: ... not below it; skipped (move them up, masks into _masks/)", as if it held photos."""
    from drywallqa.data.sample import load_split

    config = _mask_folder(tmp_path / "ds", {"a": _label()})
    (tmp_path / "ds" / "train" / "_masks").rename(tmp_path / "ds" / "train" / "masks")
    samples, problems = load_split(config, "train")
    said = {p.path.rsplit("/", 1)[-1]: p.message for p in problems}
    assert not samples and "rename it to _masks" in said["masks"], said
    assert "masks/a.png is there" in said["a.jpg"], said
