"""Leftovers of the day's changes: the pack keeps a mask's 'ignore' band, ..."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image


def _voc_palette_mask(indices: np.ndarray, path) -> None:
    from drywallqa.utils.image_io import VOC_PALETTE

    mask = Image.fromarray(indices)
    mask.putpalette([v for colour in VOC_PALETTE for v in colour])
    mask.save(path)


@pytest.mark.parametrize("kind", ["voc_tiny_label", "grey_0_1_255", "voc_void_alone"])
def test_a_mask_with_ignore_is_packed_with_its_ignore(kind, tmp_path, load_script):
    """The pack read a mask with Sample.load_mask (label == 1) and wrote a black and white PNG: a mask's 255 'ignore'
    band (kept through training here since 8ac3219: Sample.load_target) was packed as background, so a GPU run from
    the pack trained it as 'no crack' where a run here leaves it out. The packed mask reads back through
    Sample.load_target as the target here, resized by the nearest pixel: the band 'ignore', even where the label is a
    few pixels (a grey 0/1/255 mask's 255 is 'ignore' only where its label is 1% of what is above 0) or none."""
    from drywallqa.data.sample import Sample
    from drywallqa.utils.image_io import IGNORE_VALUE

    script = load_script("pack_training_images")
    photo, mask_path = tmp_path / "a.png", tmp_path / "_masks" / "a.png"
    mask_path.parent.mkdir()
    Image.fromarray(np.full((64, 96, 3), 128, np.uint8)).save(photo)
    indices = np.zeros((64, 96), np.uint8)
    indices[16:48, 8:88] = IGNORE_VALUE  # the band around the crack
    if kind == "voc_tiny_label":
        indices[30:34, 40:44] = 1  # 16 px of 2560 above 0: under 1%
        _voc_palette_mask(indices, mask_path)
    elif kind == "grey_0_1_255":
        indices[28:36, 16:80] = 1  # a fifth of what is above 0
        Image.fromarray(indices).save(mask_path)
    else:
        _voc_palette_mask(indices, mask_path)
    sample = Sample(photo, "h245", "train", 64, 96, mask_path=mask_path)
    want = sample.load_target()
    assert (want == IGNORE_VALUE).sum() > 0
    for size in (128, 48, 24):  # as it is, and shrunk
        files = script._encoded(sample, tmp_path / "out" / "a.png", size, 80)
        packed = tmp_path / f"packed_{size}" / "_masks" / "a.png"
        packed.parent.mkdir(parents=True)
        packed.write_bytes(files[1][1])
        width, height = Image.open(io.BytesIO(files[0][1])).size
        resized = want if size >= 96 else np.asarray(Image.fromarray(want).resize((width, height), Image.NEAREST))
        got = Sample(tmp_path / f"packed_{size}" / "a.png", "h245", "train", height, width,
                     mask_path=packed).load_target()
        assert got.shape == resized.shape and (got == resized).all(), (
            kind, size, np.unique(got, return_counts=True), np.unique(resized, return_counts=True))


@pytest.mark.parametrize("values", [(0, 255), (0, 1), (0, 128)])
def test_a_mask_without_ignore_packs_byte_for_byte_as_before(values, tmp_path, load_script):
    """A mask of no 'ignore' (every shipped dataset's) is packed exactly as before the pack kept 'ignore': its label
    as a 0/255 mode-L PNG, resized by the nearest pixel (the same bytes: a pack made before reads as one made now)."""
    from drywallqa.data.sample import Sample

    script = load_script("pack_training_images")
    photo, mask_path = tmp_path / "a.png", tmp_path / "_masks" / "a.png"
    mask_path.parent.mkdir()
    Image.fromarray(np.full((64, 96, 3), 128, np.uint8)).save(photo)
    plane = np.full((64, 96), values[0], np.uint8)
    plane[20:30, 5:77] = values[1]
    plane[40:42, 10:90] = values[1]
    Image.fromarray(plane).save(mask_path)
    sample = Sample(photo, "h245", "train", 64, 96, mask_path=mask_path)
    for size in (128, 48):
        files = script._encoded(sample, tmp_path / "out" / "a.png", size, 80)
        width, height = Image.open(io.BytesIO(files[0][1])).size
        before = Image.fromarray((plane > 0).astype(np.uint8) * 255)  # the pack's code before the change
        if before.size != (width, height):
            before = before.resize((width, height), Image.NEAREST)
        buf = io.BytesIO()
        before.save(buf, format="PNG")
        assert files[1][1] == buf.getvalue(), (values, size)


def test_a_held_back_read_of_an_ignore_mask_leaves_its_warning_to_the_next_read(tmp_path, caplog):
    """mask_level_problem warns of a mask once per process (a 255-'ignore' mask once a folder): a quiet read
    (utils/logs.warnings_held_back, as engine/shipping.val_photos_trained_on reads) that met the mask first marked its
    warning as given, the warning dropped: the command's own reading said nothing of it. It is said by the first
    reading not held back, once."""
    import logging

    from drywallqa.data.sample import Sample
    from drywallqa.utils.logs import warnings_held_back

    photo, folder = tmp_path / "a.png", tmp_path / "h245_held" / "_masks"
    folder.mkdir(parents=True)
    Image.fromarray(np.full((32, 48, 3), 128, np.uint8)).save(photo)
    soft = np.tile(np.linspace(0, 255, 48).astype(np.uint8), (32, 1))  # a soft map: warned once a mask
    band = np.zeros((32, 48), np.uint8)
    band[8:24, 4:44] = 255
    band[12:20, 10:38] = 1  # class indices beside 255 'ignore': warned once a folder
    Image.fromarray(soft).save(folder / "soft.png")
    Image.fromarray(band).save(folder / "band.png")
    samples = [Sample(photo, "h245", "train", 32, 48, mask_path=folder / f"{n}.png") for n in ("soft", "band")]
    with caplog.at_level(logging.WARNING, "drywallqa.data.sample"):
        with warnings_held_back():
            for s in samples:
                s.load_target()
        assert not caplog.records, [r.getMessage() for r in caplog.records]
        for _ in range(2):
            for s in samples:
                s.load_target()
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 2, said
    assert "grey levels" in said[0] and "('ignore')" in said[1], said


def test_a_held_back_read_of_a_parent_category_leaves_its_warning_to_the_next_read(tmp_path, names, caplog):
    """A YAML's categories naming a Roboflow parent category is said once a dataset: a quiet read
    (warnings_held_back, val_photos_trained_on's) of its COCO files first marked it as said, dropped; the command's
    reading said nothing. It is said by the first reading not held back."""
    import logging

    from drywallqa.data.sample import load_split
    from drywallqa.utils.logs import warnings_held_back

    from test_own_data_corners import _declare, _roboflow_export

    _roboflow_export(tmp_path, "h245_rf_held")
    config = _declare(tmp_path, names, "h245_rf_held", {"train": "coco", "valid": "coco"}, categories=["crack"])
    with caplog.at_level(logging.WARNING):
        with warnings_held_back():
            load_split(config, "train")
        assert not [r for r in caplog.records if "parent category" in r.getMessage()]
        for split in ("train", "valid"):
            load_split(config, split)
    said = [r.getMessage() for r in caplog.records if "parent category" in r.getMessage()]
    assert len(said) == 1 and "categories: 'crack' is a parent category" in said[0], said
