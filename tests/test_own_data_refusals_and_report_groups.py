"""Own data: a dataset YAML whose categories its COCO files label none of, refused by every
command that scores photos of it; the report's Data problems said once per file and grouped; an RLE size written
[w, h]."""

import json

from PIL import Image

from conftest import says


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


def _wrong_categories_yaml(tmp_path, name) -> str:
    _coco_export(tmp_path / "walls")
    yaml_file = tmp_path / f"{name}.yaml"
    yaml_file.write_text(f"name: {name}\nfolder: {tmp_path / 'walls'}\nprompts: [segment crack]\n"
                         "categories: [wall crack]\n", encoding="utf-8")
    return str(yaml_file)


def _no_model_work(monkeypatch):
    """Makes loading a model, shipping's sweep and the confidence fit fail the test."""
    import drywallqa.engine.calibrate as calibrate
    import drywallqa.engine.shipping as shipping

    def model_work(*_a, **_k):
        raise AssertionError("model work began")

    for module, attr in ((shipping, "ship"), (calibrate, "confidence_segmenter"),
                         (calibrate, "calibrate_model_confidence")):
        monkeypatch.setattr(module, attr, model_work)


def test_ship_refuses_categories_its_files_label_nothing_of(tiny_model_dir, tmp_path, monkeypatch, names):
    """`ship -d own.yaml` of `categories: [wall crack]` for a file's 'Wall Crack': its val photos were read as showing
    nothing (thresholds chosen, confidence fitted on empty masks), where train and evaluate refuse the dataset."""
    from typer.testing import CliRunner

    from drywallqa.cli import app

    names.append("h311_ship")
    _no_model_work(monkeypatch)
    own = _wrong_categories_yaml(tmp_path, "h311_ship")
    res = CliRunner().invoke(app, ["ship", str(tiny_model_dir), "--out", str(tmp_path / "out"), "-d", own])
    assert res.exit_code == 2, res.output
    assert says(res.output, "label none of them", "'wall crack' is written 'Wall Crack'"), res.output
    assert not (tmp_path / "out").exists()


def test_calibrate_confidence_refuses_categories_its_files_label_nothing_of(tiny_model_dir, tmp_path, monkeypatch,
                                                                           names):
    """`calibrate-confidence -d own.yaml` of categories its files label none of fitted the confidence on masks all
    empty; now refused as train and evaluate refuse it, before the model loads."""
    from typer.testing import CliRunner

    from drywallqa.cli import app

    names.append("h311_conf")
    _no_model_work(monkeypatch)
    own = _wrong_categories_yaml(tmp_path, "h311_conf")
    res = CliRunner().invoke(app, ["calibrate-confidence", "--model-path", str(tiny_model_dir), "-d", own,
                                   "--limit", "10"])
    assert res.exit_code == 2, res.output
    assert says(res.output, "label none of them", "'wall crack' is written 'Wall Crack'"), res.output


class _RedMaps:
    """A segmenter whose map of every prompt is the photo's red channel / 255 (made at first use: the module's
    imports stay light)."""

    def __new__(cls):
        import numpy as np

        from drywallqa.engine.segmenter import SegmentationResult, Segmenter

        class RedMaps(Segmenter):
            def decode(self, encoded, prompts, threshold=None, label_shape=None):
                prob = encoded.rgb[..., 0].astype(np.float32) / 255
                return SegmentationResult(masks={p: prob > 0.5 for p in prompts},
                                          probabilities={p: prob for p in prompts})

        return RedMaps()


def _jpeg_masks_dataset(root, name, n_noisy: int):
    """A mask-folder dataset ``name`` of one split, ``valid`` (scored as the published valid split and among all
    photos): one clean 0/255 mask and ``n_noisy`` saved as JPEG once (their noise about strokes of several widths)."""
    import io

    import numpy as np
    from PIL import ImageDraw

    from drywallqa.data import registry
    from drywallqa.data.registry import DatasetConfig, SplitSource

    (root / "valid" / "_masks").mkdir(parents=True)
    for i in range(n_noisy + 1):
        m = Image.new("L", (64, 64), 0)
        ImageDraw.Draw(m).line([(5, 6), (56, 54 - i)], fill=255, width=3 + i % 5)
        label = np.asarray(m) > 0
        Image.fromarray(np.repeat(label.astype(np.uint8)[..., None] * 200, 3, axis=2)).save(
            root / "valid" / f"p{i:02d}.jpg", quality=95)
        if i:  # a JPEG's noise, kept as PNG
            b = io.BytesIO()
            m.save(b, "JPEG", quality=75)
            m = Image.open(b)
        m.save(root / "valid" / "_masks" / f"p{i:02d}.png")
    config = DatasetConfig(name, str(root), ("segment crack",), {"valid": SplitSource("mask_folder", "valid")})
    registry.register_dataset(config)
    return config


def test_a_data_problem_of_a_photo_scored_in_two_sets_is_listed_once(tmp_path, names):
    """A photo scored as the published valid split and among all photos had its mask's note listed twice in
    report.json and report.md."""
    from drywallqa.engine.evaluator import evaluate

    names.append("h311_twice")
    config = _jpeg_masks_dataset(tmp_path / "ds", "h311_twice", 2)
    report = evaluate(_RedMaps(), tmp_path / "eval", datasets=(config.name,), which=("published", "all"),
                      speed_images=0, progress=False)
    for noisy in ("p01.png", "p02.png"):
        assert sum(noisy in p for p in report["data_problems"]) == 1, report["data_problems"]
        saved = json.loads((tmp_path / "eval" / "report.json").read_text(encoding="utf-8"))["data_problems"]
        assert sum(noisy in p for p in saved) == 1, saved
        assert (tmp_path / "eval" / "report.md").read_text(encoding="utf-8").count(noisy) == 1


def test_a_data_problem_many_files_share_is_one_line_of_report_md_and_every_file_is_in_report_json(tmp_path, names):
    """A dataset of many JPEG masks listed every one under report.md's Data problems (thousands of lines, the
    report unreadable): now one line of the problem, how many files have it, the first few and where all are named
    (report.json, which keeps every one)."""
    from drywallqa.engine.evaluator import evaluate

    names.append("h311_many")
    config = _jpeg_masks_dataset(tmp_path / "ds", "h311_many", 12)
    evaluate(_RedMaps(), tmp_path / "eval", datasets=(config.name,), which=("all",), speed_images=0,
             progress=False)
    noisy = [f"p{i:02d}.png" for i in range(1, 13)]
    saved = json.loads((tmp_path / "eval" / "report.json").read_text(encoding="utf-8"))["data_problems"]
    assert all(sum(n in p for p in saved) == 1 for n in noisy), saved  # report.json: every file, once
    md = (tmp_path / "eval" / "report.md").read_text(encoding="utf-8")
    section = md.split("## Data problems", 1)[1].split("\n## ", 1)[0]
    items = [line for line in section.splitlines() if line.startswith("- ")]
    assert len(items) == 1, section
    assert "12 files" in items[0] and "p01.png" in items[0] and "report.json" in items[0], items[0]
    assert "p12.png" not in items[0], items[0]


def test_an_rle_whose_size_is_written_width_first_is_said_to_look_swapped():
    """An RLE of size [w, h] (a common export bug; COCO writes [height, width]) was named with both sizes and no word
    of what is wrong: now said to look swapped, with the size to write."""
    from drywallqa.data.coco import rasterize_annotations

    ann = {"id": 5, "segmentation": {"size": [32, 24], "counts": [100, 20, 648]}}
    mask, problems = rasterize_annotations([ann], 24, 32, "a.json")
    assert not mask.any() and len(problems) == 1, problems
    said = str(problems[0])
    assert "annotation 5" in said and "[32, 24]" in said and "swapped" in said and "[24, 32]" in said, said
    _, others = rasterize_annotations([{"id": 6, "segmentation": {"size": [5, 5], "counts": [25]}}], 24, 32, "a.json")
    assert "swapped" not in str(others[0]), others  # another size: not called swapped


def test_a_file_that_failed_in_two_sets_is_listed_once(tmp_path, names):
    """A photo that cannot be read, in a split scored as the published valid split and among all photos, was listed
    twice under the report's Files that failed."""
    from drywallqa.engine.evaluator import evaluate

    names.append("h311_failed")
    config = _jpeg_masks_dataset(tmp_path / "ds", "h311_failed", 1)
    (tmp_path / "ds" / "valid" / "p09.jpg").write_bytes(b"not a photo")
    Image.new("L", (64, 64)).save(tmp_path / "ds" / "valid" / "_masks" / "p09.png")
    report = evaluate(_RedMaps(), tmp_path / "eval", datasets=(config.name,), which=("published", "all"),
                      speed_images=0, progress=False)
    assert sum("p09.jpg" in f for f in report["failures"]) == 1, report["failures"]
    assert (tmp_path / "eval" / "report.md").read_text(encoding="utf-8").count("p09.jpg") == 1
