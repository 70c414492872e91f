"""A YAML's categories: naming Roboflow's parent category (no annotation is of it, its children carry them all)
is read as its children; a palette (VOC) mask's index 255, VOC's 'void', is read as no label."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from PIL import Image

from drywallqa.data.sample import load_split

from test_own_data_corners import POLY, _check, _coco, _crack, _declare

POLY2 = [[20, 10, 30, 10, 30, 20, 20, 20]]  # a 10x10 box: 100 pixels


# ------------------------------------------------------------------ 1. Roboflow's parent category, named
ROBOFLOW = [{"id": 0, "name": "crack", "supercategory": "none"},
            {"id": 1, "name": "NewCracks - v2", "supercategory": "crack"},
            {"id": 2, "name": "hairline", "supercategory": "crack"}]
TWO_CHILDREN = [{"id": 5, "image_id": 0, "category_id": 1, "bbox": [2, 2, 8, 6], "segmentation": POLY},
                {"id": 6, "image_id": 0, "category_id": 2, "bbox": [20, 10, 10, 10], "segmentation": POLY2}]


def test_a_named_parent_category_is_read_as_its_children_said_once_at_info(tmp_path, names, caplog):
    """categories: [crack] on a Roboflow export (the docs' example): 'crack' is its parent category 0, of no
    annotation; it is read as its children (both), said once naming them (h238: a warning, once a dataset), no problem; train goes."""
    _coco(tmp_path, "rf_parent", ROBOFLOW, TWO_CHILDREN)
    config = _declare(tmp_path, names, "rf_parent", {"train": "coco", "valid": "coco"}, categories=["crack"])
    with caplog.at_level(logging.INFO, logger="drywallqa.data.sample"):
        samples, problems = load_split(config, "valid")
        load_split(config, "valid")  # read again: said once
    assert samples[0].load_mask().sum() == 148 and not problems, problems
    said = [r for r in caplog.records if "parent category" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.WARNING, [r.getMessage() for r in said]
    message = said[0].getMessage()
    assert "'crack'" in message and "NewCracks - v2" in message and "hairline" in message, message
    _check(config)  # not refused: its files label the parent's children


def test_a_named_child_is_read_alone_and_parent_with_child_as_before(tmp_path, names, caplog):
    """A child named by its name reads it only (not its sibling); a parent named beside all its children reads
    them all, nothing said."""
    _coco(tmp_path, "rf_child", ROBOFLOW, TWO_CHILDREN)
    child = _declare(tmp_path, names, "rf_child", {"train": "coco", "valid": "coco"}, categories=["hairline"])
    samples, problems = load_split(child, "valid")
    assert samples[0].load_mask().sum() == 100 and not problems, problems
    _check(child)
    both = _declare(tmp_path, names, "rf_all", {"valid": "coco"}, folder="rf_child",
                    categories=["crack", "NewCracks - v2", "hairline"])
    with caplog.at_level(logging.INFO, logger="drywallqa.data.sample"):
        samples, problems = load_split(both, "valid")
    assert samples[0].load_mask().sum() == 148 and not problems, problems
    assert not [r for r in caplog.records if "parent category" in r.getMessage()]


def test_an_unused_category_with_no_children_is_still_a_problem_and_refused(tmp_path, names):
    """A category no annotation is of and no category's parent (its boxes deleted): still named, train refuses."""
    _coco(tmp_path, "deleted", [{"id": 1, "name": "crack", "supercategory": "none"},
                                {"id": 2, "name": "stain", "supercategory": "none"}],
          [{"id": 5, "image_id": 0, "category_id": 2, "bbox": [2, 2, 8, 6], "segmentation": POLY}])
    config = _declare(tmp_path, names, "deleted", {"train": "coco", "valid": "coco"}, categories=["crack"])
    samples, problems = load_split(config, "valid")
    said = "\n".join(map(str, problems))
    assert not samples[0].load_mask().any()
    assert "['crack']" in said and "showing none of them" in said and "['stain']" in said, said
    with pytest.raises(ValueError, match="'deleted'"):
        _check(config)
    # a parent whose children are of no annotation either: labels nothing, said so
    _coco(tmp_path, "empty_kids", ROBOFLOW, [], splits=("valid",))
    samples, problems = load_split(_declare(tmp_path, names, "empty_kids", {"valid": "coco"}, categories=["crack"]),
                                   "valid")
    assert not samples[0].load_mask().any() and "showing none of them" in "\n".join(map(str, problems)), problems


def test_the_shipped_cracks_export_reads_as_before_and_its_parent_reads_its_child(tmp_path, names):
    """The shipped cracks export (no categories: in its YAML) reads every annotation; categories: [crack] (its
    parent) reads the same masks as categories: naming its child."""
    from drywallqa.data.registry import get_dataset_config

    shipped = get_dataset_config("cracks")
    if not (shipped.root() / "valid" / "_annotations.coco.json").is_file():
        pytest.skip("the cracks dataset is not here")
    assert not shipped.categories
    plain, plain_problems = load_split(shipped, "valid")
    cats = json.loads((shipped.root() / "valid" / "_annotations.coco.json").read_text())["categories"]
    child = next(c["name"] for c in cats if c["supercategory"] == "crack")
    folder = str(shipped.root())
    parent = _declare(tmp_path, names, "cracks_parent", {"valid": "coco"}, folder=folder, categories=["crack"])
    named = _declare(tmp_path, names, "cracks_child", {"valid": "coco"}, folder=folder, categories=[child])
    by_parent, parent_problems = load_split(parent, "valid")
    by_child, _ = load_split(named, "valid")
    assert len(plain) == len(by_parent) == len(by_child)
    assert not any("label nothing" in str(p) or "labels nothing" in str(p) for p in parent_problems)
    for a, b, c in list(zip(plain, by_parent, by_child))[:5]:
        assert len(a.annotations) == len(b.annotations) == len(c.annotations) > 0


# ------------------------------------------------------------------ 2. a palette (VOC) mask's index 255, 'void'


def _voc_palette() -> list[int]:
    """PASCAL VOC's label palette (its bit-interleaved colour map), written out here as VOC's devkit does."""
    out = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        out += [r, g, b]
    return out


OTHER = [0, 0, 0, 255, 0, 0] + [40, 40, 40] * 253 + [255, 255, 255]  # black, red, ..., white at 255


def _palette_mask(path, indices: np.ndarray, palette: list[int]) -> None:
    img = Image.frombytes("P", (indices.shape[1], indices.shape[0]), np.ascontiguousarray(indices).tobytes())
    img.putpalette(palette)
    img.save(path)


def _palette_folder(tmp_path, name, masks: dict):
    """A mask-folder split ``valid`` of ``tmp_path/name``: a photo per palette mask ``{stem: (indices, palette)}``."""
    folder = tmp_path / name / "valid"
    (folder / "_masks").mkdir(parents=True)
    for stem, (indices, palette) in masks.items():
        Image.fromarray(np.full((*indices.shape, 3), 120, np.uint8)).save(folder / f"{stem}.jpg")
        _palette_mask(folder / "_masks" / f"{stem}.png", indices, palette)
    return folder / "_masks"


def test_a_voc_palette_mask_reads_its_index_255_as_no_label_said_once_a_folder(tmp_path, names, caplog):
    """A VOC mask (palette mode: 0 background, 1 crack, 255 'void' coloured (224, 224, 192)) was read by its colours,
    its void band as crack, and named as a mask of 2 colours (several classes?). Its index 255 is read as no label,
    said once for the folder naming a file, as a grey 0/1/255 mask's 255 is."""
    from drywallqa.data.sample import soft_mask_problem

    voc = _voc_palette()
    masks = _palette_folder(tmp_path, "voc", {"a": (_crack(1, band=255), voc), "b": (_crack(1, band=255), voc),
                                              "c": (_crack(15, band=255), voc), "d": (_crack(1), voc)})
    samples, problems = load_split(_declare(tmp_path, names, "voc", {"valid": "mask_folder"}), "valid")
    assert not problems, problems
    with caplog.at_level(logging.WARNING, logger="drywallqa"):
        read = {s.image_path.stem: s.load_mask() for s in samples}
    assert {k: int(m.sum()) for k, m in read.items()} == {"a": 48, "b": 48, "c": 48, "d": 48}
    assert read["a"][6:12, 6:14].all()
    said = soft_mask_problem(masks / "a.png").message
    assert "255" in said and "ignore" in said and "colours" not in said, said
    warned = [r.getMessage() for r in caplog.records if "ignore" in r.getMessage()]
    assert len(warned) == 1 and ".png" in warned[0], warned  # once for the folder, naming a file
    assert soft_mask_problem(masks / "d.png") is None  # no void: as before


def test_a_palette_mask_of_255_beside_class_indices_reads_it_as_ignore_and_others_as_before(tmp_path):
    """Another palette: index 255 beside a region of low indices (the grey 0/1/255 rule, on its indices) is 'ignore';
    a palette mask of 0 and 255 (its label white), or of 255 and a stray index 1, is read by its colours as before;
    read_mask without ignore reads every coloured pixel, as before."""
    from drywallqa.utils.image_io import read_mask

    stray = _crack(255, band=255)
    stray[0, 0] = 1
    grey = [v for i in range(256) for v in (i, i, i)]
    masks = _palette_folder(tmp_path, "other", {"a": (_crack(1, band=255), OTHER), "b": (_crack(255), OTHER),
                                                "c": (stray, OTHER), "d": (_crack(1, band=255), grey),
                                                "e": (_crack(255), _voc_palette())})
    assert int(read_mask(masks / "a.png", ignore=True).sum()) == 48
    assert int(read_mask(masks / "a.png").sum()) == 10 * 12  # (without ignore: as before)
    assert int(read_mask(masks / "b.png", ignore=True).sum()) == 48
    assert int(read_mask(masks / "c.png", ignore=True).sum()) == 10 * 12 + 1
    assert int(read_mask(masks / "d.png", ignore=True).sum()) == 48  # a grey palette: as the grey rule read it
    assert not read_mask(masks / "e.png", ignore=True).any()  # VOC's void alone: no label
