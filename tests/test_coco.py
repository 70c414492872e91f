import json

import numpy as np

from drywallqa.data.coco import rasterize_annotations
from drywallqa.data.registry import DatasetConfig, SplitSource
from drywallqa.data.sample import load_split, source_group


def test_polygon_is_filled():
    ann = {"id": 1, "segmentation": [[10, 10, 30, 10, 30, 20, 10, 20]], "bbox": [10, 10, 20, 10]}
    mask, problems = rasterize_annotations([ann], 40, 50)
    assert mask.shape == (40, 50) and not problems
    assert 190 <= mask.sum() <= 231  # 20x10 rectangle, pixel-edge conventions
    assert mask[15, 20] and not mask[5, 5]


def test_box_only_annotation_is_a_rectangle():
    mask, problems = rasterize_annotations([{"id": 1, "segmentation": [], "bbox": [5, 6, 10, 4]}], 20, 20)
    assert not problems
    assert mask.sum() == 40 and mask[6:10, 5:15].all()


def test_no_annotations_is_empty():
    mask, _ = rasterize_annotations([], 8, 9)
    assert mask.shape == (8, 9) and not mask.any()


def test_a_degenerate_polygon_is_dropped_as_reported_not_drawn_as_its_box():
    """A crack drawn as a 2-point line was "dropped" in the problem list, and its box filled: 82% of a photo marked."""
    ann = {"id": 7, "segmentation": [[2, 2, 60, 60]], "bbox": [2, 2, 58, 58]}
    mask, problems = rasterize_annotations([ann], 64, 64, "x.jpg")
    assert not mask.any()
    assert len(problems) == 1 and "x.jpg" in str(problems[0]) and "degenerate polygon with 2 points dropped" in str(problems[0])
    fine = {"id": 8, "segmentation": [[2, 2, 9, 2, 9, 9]], "bbox": [2, 2, 7, 7]}  # beside a good one: the good one drawn
    mask, problems = rasterize_annotations([{**ann, "segmentation": [[2, 2, 60, 60], [2, 2, 9, 2, 9, 9]]}, fine], 64, 64)
    assert 0 < mask.sum() < 64 and len(problems) == 1


def test_degenerate_box_is_dropped_and_reported():
    # as in the drywall export: a 1x1 box at the corner, alone (an unlabelled photo) or beside a real box
    tiny = {"id": 3, "segmentation": [], "bbox": [0, 0, 1, 1]}
    half = {"id": 4, "segmentation": [], "bbox": [0, 1, 0.5, 0.5]}
    mask, problems = rasterize_annotations([tiny, half], 10, 10, "y.jpg")
    assert not mask.any()
    assert len(problems) == 2 and all("y.jpg" in str(p) and "degenerate box" in str(p) for p in problems)
    mask, problems = rasterize_annotations([tiny, {"id": 5, "segmentation": [], "bbox": [2, 2, 2, 1]}], 10, 10)
    assert mask.sum() == 2 and not mask[0, 0] and len(problems) == 1   # a 2x1 box is small but real


def test_source_group():
    assert source_group("2000x1500_0_resized_jpg.rf.0dd5a8.jpg") == "2000x1500_0_resized_jpg"
    assert source_group("plain.png") == "plain"


def test_missing_file_and_broken_json_are_reported_and_rest_goes_on(tmp_path):
    good = tmp_path / "ds" / "train"
    good.mkdir(parents=True)
    from PIL import Image

    Image.new("RGB", (16, 16)).save(good / "a.jpg")
    (good / "_annotations.coco.json").write_text(json.dumps({
        "images": [{"id": 0, "file_name": "a.jpg", "height": 16, "width": 16},
                   {"id": 1, "file_name": "missing.jpg", "height": 16, "width": 16}],
        "annotations": [{"id": 0, "image_id": 0, "bbox": [0, 0, 4, 4], "segmentation": []}]}))
    bad = tmp_path / "ds" / "valid"
    bad.mkdir()
    (bad / "_annotations.coco.json").write_text("{not json")
    cfg = DatasetConfig("tmp", "ds", ("p",), {"train": SplitSource("coco", "train"), "valid": SplitSource("coco", "valid")})
    samples, problems = load_split(cfg, "train", tmp_path)
    assert [s.image_path.name for s in samples] == ["a.jpg"]
    assert any("missing.jpg" in str(p) for p in problems)
    assert samples[0].load_mask().sum() == 16
    samples, problems = load_split(cfg, "valid", tmp_path)
    assert samples == [] and "_annotations.coco.json" in str(problems[0])


def test_mask_folder_wrong_size_is_reported(tmp_path):
    from PIL import Image

    folder = tmp_path / "ds" / "train"
    (folder / "_masks").mkdir(parents=True)
    Image.new("RGB", (16, 16)).save(folder / "a.jpg")
    Image.new("L", (16, 16)).save(folder / "_masks" / "a.png")
    Image.new("RGB", (16, 16)).save(folder / "b.jpg")
    Image.new("L", (8, 8)).save(folder / "_masks" / "b.png")
    Image.new("RGB", (16, 16)).save(folder / "c.jpg")  # no mask
    cfg = DatasetConfig("tmp", "ds", ("p",), {"train": SplitSource("mask_folder", "train")})
    samples, problems = load_split(cfg, "train", tmp_path)
    assert [s.image_path.name for s in samples] == ["a.jpg"]
    text = " ".join(map(str, problems))
    assert "b.png" in text and "c.jpg" in text
    assert np.array_equal(samples[0].load_mask(), np.zeros((16, 16), bool))


def test_many_problems_are_logged_in_short_and_listed_in_full_by_data_stats(tmp_path, caplog):
    import logging

    from PIL import Image
    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.data.sample import LOGGED_PROBLEMS

    folder = tmp_path / "ds" / "valid"
    folder.mkdir(parents=True)
    n = LOGGED_PROBLEMS + 4
    for i in range(n):
        Image.new("RGB", (16, 16)).save(folder / f"p{i}.jpg")
    (folder / "_annotations.coco.json").write_text(json.dumps({
        "images": [{"id": i, "file_name": f"p{i}.jpg", "height": 16, "width": 16} for i in range(n)],
        "annotations": [{"id": i, "image_id": i, "bbox": [0, 0, 1, 1], "segmentation": []} for i in range(n)]}))
    cfg = DatasetConfig("dots", "ds", ("segment dot",), {"valid": SplitSource("coco", "valid")})
    with caplog.at_level(logging.WARNING, logger="drywallqa.data.sample"):
        samples, problems = load_split(cfg, "valid", tmp_path)
    assert len(samples) == n and len(problems) == n and not any(s.load_mask().any() for s in samples)
    assert len(caplog.records) == LOGGED_PROBLEMS + 1 and "and 4 more problems in dots/valid" in caplog.records[-1].getMessage()
    # data stats, the command for looking at a dataset, lists every one of them
    (tmp_path / "dots.yaml").write_text("name: dots\nfolder: ds\nprompts: [segment dot]\nlabel_shape: box\n"
                                        "splits: {valid: {kind: coco, folder: valid}}\n")
    res = CliRunner().invoke(app, ["data", "stats", "-d", str(tmp_path / "dots.yaml")], terminal_width=400)
    assert res.exit_code == 0, res.output
    assert f"{n} data problems" in res.output
    assert all(f"p{i}.jpg: annotation {i}: degenerate box" in res.output for i in range(n))
