"""Silent losses in dataset reading found by an adversarial pass: each input gets a named problem."""

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from drywallqa.cli import app
from drywallqa.data.registry import load_dataset_config
from drywallqa.data.sample import load_split
from drywallqa.utils.image_io import read_mask

from conftest import says


def _photo(path, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(path)


def _dataset(tmp_path, images, annotations):
    split = tmp_path / "ds" / "valid"
    for i in range(4):
        _photo(split / f"p{i}.jpg", i)
    (split / "_annotations.coco.json").write_text(json.dumps({"images": images, "annotations": annotations}))
    (tmp_path / "ds.yaml").write_text("name: hunt_ds\nfolder: ds\nprompts: [segment crack]\n")
    return load_dataset_config(tmp_path / "ds.yaml")


def _entry(i, name):
    return {"id": i, "file_name": name, "width": 64, "height": 64}


def test_annotations_of_no_image_are_named(tmp_path):
    config = _dataset(tmp_path, [_entry(1, "p0.jpg"), _entry("2", "p1.jpg")],
                      [{"id": 1, "image_id": 2, "bbox": [1, 1, 20, 20]}, {"id": 2, "image_id": 99, "bbox": [1, 1, 20, 20]}])
    samples, problems = load_split(config, "valid")
    assert len(samples) == 2
    assert any("2 annotations name image ids that no image entry has" in str(p) for p in problems)


@pytest.mark.parametrize("bbox", [[10, 10, -5, -5], [10, 10, 0, 20], [1, 2, 3], None])
def test_unusable_box_is_named(tmp_path, bbox):
    config = _dataset(tmp_path, [_entry(1, "p0.jpg")], [{"id": 7, "image_id": 1, "bbox": bbox, "segmentation": []}])
    samples, problems = load_split(config, "valid")
    assert len(samples) == 1 and any("annotation 7" in str(p) for p in problems)


def test_file_listed_twice_is_read_once(tmp_path):
    config = _dataset(tmp_path, [_entry(1, "p0.jpg"), _entry(2, "p0.jpg")],
                      [{"id": 1, "image_id": 1, "bbox": [0, 0, 10, 10]}, {"id": 2, "image_id": 2, "bbox": [30, 30, 10, 10]}])
    samples, problems = load_split(config, "valid")
    assert len(samples) == 1 and any("listed twice" in str(p) for p in problems)


def test_grey_alpha_mask_is_its_grey_channel(tmp_path):
    la = np.zeros((8, 8, 2), np.uint8)
    la[..., 1] = 255  # opaque everywhere
    la[2:4, 2:4, 0] = 255
    Image.fromarray(la, "LA").save(tmp_path / "m.png")
    assert read_mask(tmp_path / "m.png").sum() == 4


def test_palette_and_transparent_masks_are_read_by_their_colours_and_what_was_painted(tmp_path):
    """A two-colour palette mask (white at index 0, as quantize() saves it) was read by its indices: inverted, 90% of
    every photo a crack; a mask painted on a transparent layer (transparent white around it) was all foreground."""
    from drywallqa.data.sample import soft_mask_problem

    drawn = np.zeros((16, 16), bool)
    drawn[3:6, 2:12] = True
    Image.fromarray(drawn.astype(np.uint8) * 255).quantize(2).save(tmp_path / "palette.png")
    assert Image.open(tmp_path / "palette.png").mode == "P"
    layer = np.zeros((16, 16, 4), np.uint8)
    layer[...] = (255, 255, 255, 0)  # transparent white
    layer[drawn] = (255, 0, 0, 255)  # the crack painted red
    Image.fromarray(layer, "RGBA").save(tmp_path / "layer.png")
    ink = np.zeros((16, 16, 4), np.uint8)
    ink[drawn] = (0, 0, 0, 255)  # black ink on a transparent layer
    Image.fromarray(ink, "RGBA").save(tmp_path / "ink.png")
    opaque = np.zeros((16, 16, 4), np.uint8)
    opaque[..., 3] = 255
    opaque[drawn] = (255, 255, 255, 255)  # black and white, opaque: by its colour, as before
    Image.fromarray(opaque, "RGBA").save(tmp_path / "opaque.png")
    nearly = opaque.copy()
    nearly[0, 0, 3] = 254  # one pixel not quite opaque: still by its colour (it read all foreground)
    Image.fromarray(nearly, "RGBA").save(tmp_path / "nearly.png")
    clear = opaque.copy()
    clear[..., 3] = 0  # all transparent: by its colour too (an alpha of nothing painted says nothing)
    Image.fromarray(clear, "RGBA").save(tmp_path / "clear.png")
    for name in ("palette.png", "layer.png", "ink.png", "opaque.png", "nearly.png", "clear.png"):
        assert np.array_equal(read_mask(tmp_path / name), drawn), name
        assert soft_mask_problem(tmp_path / name) is None, name


def test_split_name_with_a_path_is_refused(tmp_path):
    _dataset(tmp_path, [_entry(1, "p0.jpg")], [])
    (tmp_path / "bad.yaml").write_text("name: hunt_bad\nfolder: ds\nprompts: [segment crack]\nlabel_shape: box\n"
                                       "splits: {'../ds/valid': {kind: coco, folder: valid}}\n")
    with pytest.raises(ValueError, match="split name must be a folder name"):
        load_dataset_config(tmp_path / "bad.yaml")
    (tmp_path / "fine.yaml").write_text("name: hunt_fine\nfolder: ds\nprompts: [segment crack]\n"
                                        "splits: {'my split': {kind: coco, folder: valid}, 'trén': {kind: coco, folder: other}}\n")
    assert list(load_dataset_config(tmp_path / "fine.yaml").splits) == ["my split", "trén"]  # names, not paths: fine


def test_stats_of_a_dataset_with_nothing_read_names_why(tmp_path):
    split = tmp_path / "broken" / "valid"
    split.mkdir(parents=True)
    (split / "_annotations.coco.json").write_text('{"images": [')
    (tmp_path / "broken.yaml").write_text("name: hunt_broken\nfolder: broken\nprompts: [segment crack]\n")
    result = CliRunner().invoke(app, ["data", "stats", "-d", str(tmp_path / "broken.yaml")])
    assert "cannot read COCO annotations" in result.output  # why nothing was read, not only that


def test_mask_folder_reads_every_image_suffix_as_oriented_and_names_shared_stems(tmp_path):
    split = tmp_path / "mf" / "train"
    (split / "_masks").mkdir(parents=True)
    for name in ("a.jpeg", "b.JPG", "c.webp", "d.jpg", "d.png", "t.tga"):
        _photo(split / name)
    (split / "notes.txt").write_text("shot on site 3")
    (split / ".DS_Store").write_bytes(b"")
    rotated = Image.fromarray(np.zeros((32, 64, 3), np.uint8))  # stored 64 wide, 32 high; shown turned: 32x64
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated.save(split / "r.jpg", exif=exif)
    for stem, size in (("a", 64), ("b", 64), ("c", 64), ("d", 64), ("t", 64)):
        Image.fromarray(np.zeros((size, size), np.uint8)).save(split / "_masks" / f"{stem}.png")
    Image.fromarray(np.zeros((64, 32), np.uint8)).save(split / "_masks" / "r.png")  # the mask of the photo as shown
    (tmp_path / "mf.yaml").write_text("name: hunt_mf\nfolder: mf\nprompts: [segment crack]\n"
                                      "splits: {train: {kind: mask_folder, folder: train}}\n")
    samples, problems = load_split(load_dataset_config(tmp_path / "mf.yaml"), "train")
    assert sorted(s.image_path.name for s in samples) == ["a.jpeg", "b.JPG", "c.webp", "d.jpg", "r.jpg", "t.tga"]
    r = next(s for s in samples if s.image_path.name == "r.jpg")
    assert (r.height, r.width) == (64, 32)
    assert [str(p).split(" (photos:")[0] for p in problems] == [
        f"{split / 'd.png'}: shares its mask d.png with d.jpg; skipped (rename one of them)",
        f"{split / 'notes.txt'}: not a photo by its name"]


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
def test_a_photo_is_sized_as_it_is_read_in_every_format_and_orientation(tmp_path, fmt):
    """A TIFF with an EXIF orientation of 5-8 was sized turned twice (Pillow reports a TIFF's size turned already):
    its mask, of the photo as read, was refused as of another size. The size a dataset reader gives is the shape of
    the photo as read, for every orientation."""
    from drywallqa.data.sample import _image_size
    from drywallqa.utils.image_io import read_image

    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        path = tmp_path / f"o{orientation}.{fmt.lower()}"
        Image.new("RGB", (32, 20), (90, 90, 90)).save(path, format=fmt, exif=exif)
        height, width = read_image(path).shape[:2]
        assert (width, height) == ((20, 32) if orientation >= 5 else (32, 20)), (fmt, orientation)
        assert _image_size(path) == (width, height), (fmt, orientation)


def test_a_turned_tiff_is_read_with_its_mask_and_its_coco_entry(tmp_path):
    """The user's case: a TIFF stored 32x20 with EXIF orientation 6, shown (and predicted) 20x32; its mask of 20x32
    and a COCO entry declaring 20x32 were refused ("declared 20x32 ..., but the file is 32x20")."""
    exif = Image.Exif()
    exif[0x0112] = 6
    mf = tmp_path / "mf" / "train"
    (mf / "_masks").mkdir(parents=True)
    Image.new("RGB", (32, 20)).save(mf / "t.tif", exif=exif)
    Image.fromarray(np.zeros((32, 20), np.uint8)).save(mf / "_masks" / "t.png")
    (tmp_path / "mf.yaml").write_text("name: hunt_tif\nfolder: mf\nprompts: [segment crack]\n"
                                      "splits: {train: {kind: mask_folder, folder: train}}\n")
    samples, problems = load_split(load_dataset_config(tmp_path / "mf.yaml"), "train")
    assert [(s.image_path.name, s.width, s.height) for s in samples] == [("t.tif", 20, 32)] and not problems, problems
    coco = tmp_path / "ds" / "valid"
    coco.mkdir(parents=True)
    Image.new("RGB", (32, 20)).save(coco / "t.tif", exif=exif)
    (coco / "_annotations.coco.json").write_text(json.dumps({"images": [{"id": 1, "file_name": "t.tif", "width": 20,
                                                                         "height": 32}], "annotations": []}))
    (tmp_path / "ds.yaml").write_text("name: hunt_ds\nfolder: ds\nprompts: [segment crack]\n")
    samples, problems = load_split(load_dataset_config(tmp_path / "ds.yaml"), "valid")
    assert [(s.image_path.name, s.width, s.height) for s in samples] == [("t.tif", 20, 32)] and not problems, problems


def test_a_dataset_yaml_that_is_no_utf8_is_named(tmp_path):
    """A dataset YAML saved in another encoding (cp1252 'Bücher') or a binary file given as one: the error was Python's
    "'utf-8' codec can't decode byte 0xfc ..." with no file named, on every command that takes -d."""
    path = tmp_path / "walls.yaml"
    path.write_bytes("name: walls\nfolder: B\u00fccher\nprompts: [segment crack]\n".encode("cp1252"))
    with pytest.raises(ValueError, match=r"walls\.yaml: not UTF-8 text \(invalid start byte at byte 21\); save it as UTF-8"):
        load_dataset_config(path)
    res = CliRunner().invoke(app, ["data", "stats", "-d", str(path)], terminal_width=300)
    assert res.exit_code == 2 and says(res.output, "walls.yaml: not UTF-8 text"), res.output


def test_a_coco_photo_that_is_a_link_to_a_file_elsewhere_is_read(tmp_path):
    """Photos that are links into a store elsewhere (a DVC cache's) were all skipped as "file_name points outside the
    split folder"; a name that leads outside the folder still is."""
    import os

    store = tmp_path / "store" / "p9.jpg"
    _photo(store, 9)
    config = _dataset(tmp_path, [_entry(1, "p9.jpg"), _entry(2, "../valid/p0.jpg"), _entry(3, "../../store/p9.jpg")],
                      [{"id": 1, "image_id": 1, "bbox": [0, 0, 10, 10]}])
    os.symlink(store, tmp_path / "ds" / "valid" / "p9.jpg")
    samples, problems = load_split(config, "valid")
    assert [s.image_path.name for s in samples] == ["p9.jpg", "p0.jpg"] and samples[0].load_mask().sum() == 100
    assert [p.message for p in problems if "outside" in p.message] == ["file_name points outside the split folder; skipped"]
    assert any(p.path == str(tmp_path / "ds" / "valid" / "../../store/p9.jpg") for p in problems)
