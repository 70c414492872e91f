"""Own data: a dataset YAML whose categories its COCO files label none of, refused by the
`data` commands that read its labels as by train and evaluate; report.md's Files that failed grouped as its Data
problems are."""

import json

from PIL import Image

from conftest import says


def _wrong_categories_yaml(tmp_path, name, *, boxes=False) -> str:
    """A dataset YAML ``name`` of `categories: [wall crack]` over a COCO export whose one polygon is of 'Wall Crack'
    (Roboflow's parent category 0 too); ``boxes``: declared `label_shape: box` (refine-masks' kind)."""
    root = tmp_path / "walls"
    (root / "train").mkdir(parents=True)
    Image.new("RGB", (32, 32)).save(root / "train" / "a.jpg")
    coco = {"images": [{"id": 1, "file_name": "a.jpg", "width": 32, "height": 32}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 100,
                             "bbox": [5, 5, 10, 10], "segmentation": [[5, 5, 15, 5, 15, 15, 5, 15]]}],
            "categories": [{"id": 0, "name": "walls", "supercategory": "none"},
                           {"id": 1, "name": "Wall Crack", "supercategory": "walls"}]}
    (root / "train" / "_annotations.coco.json").write_text(json.dumps(coco), encoding="utf-8")
    yaml_file = tmp_path / f"{name}.yaml"
    yaml_file.write_text(f"name: {name}\nfolder: {root}\nprompts: [segment crack]\ncategories: [wall crack]\n"
                         + ("label_shape: box\n" if boxes else ""), encoding="utf-8")
    return str(yaml_file)


def _fails_if_called(monkeypatch, *targets):
    def work(*_a, **_k):
        raise AssertionError("the dataset was read")

    for module, attr in targets:
        monkeypatch.setattr(module, attr, work)


def _refused(res) -> None:
    assert res.exit_code == 2, res.output
    assert says(res.output, "label none of them", "'wall crack' is written 'Wall Crack'"), res.output


def test_data_split_refuses_categories_its_files_label_nothing_of(tmp_path, monkeypatch, names):
    """`data split -d own.yaml` of `categories: [wall crack]` for a file's 'Wall Crack' read every photo as showing
    nothing and wrote a manifest of it (exit 0), where train and evaluate refuse the dataset."""
    from typer.testing import CliRunner

    import drywallqa.data.grouping as grouping
    from drywallqa.cli import app

    names.append("h312_split")
    _fails_if_called(monkeypatch, (grouping, "make_group_split"))
    own = _wrong_categories_yaml(tmp_path, "h312_split")
    res = CliRunner().invoke(app, ["data", "split", "--out", str(tmp_path / "splits"), "-d", own])
    _refused(res)
    assert not (tmp_path / "splits").exists()


def test_data_refine_masks_refuses_categories_its_files_label_nothing_of(tmp_path, monkeypatch, names):
    """`data refine-masks -d own.yaml` of box labels its categories: choose none of refined empty masks (a dataset of
    photos showing nothing written, exit 0)."""
    from typer.testing import CliRunner

    import drywallqa.data.refine as refine
    from drywallqa.cli import app

    names.append("h312_refine")
    _fails_if_called(monkeypatch, (refine, "read_refine_splits"), (refine, "refine_box_masks"))
    own = _wrong_categories_yaml(tmp_path, "h312_refine", boxes=True)
    res = CliRunner().invoke(app, ["data", "refine-masks", "-d", own, "--with", "edges",
                                   "--out", str(tmp_path / "refined")])
    _refused(res)
    assert not (tmp_path / "refined").exists()


def test_data_stats_refuses_categories_its_files_label_nothing_of(tmp_path, monkeypatch, names):
    """`data stats -d own.yaml` of categories its files label none of reported every photo's mask empty (coverage 0,
    no stroke width, exit 0; --json the same to a script), the one line saying why among the data problems."""
    from typer.testing import CliRunner

    import drywallqa.data.stats as stats
    from drywallqa.cli import app

    names.append("h312_stats")
    _fails_if_called(monkeypatch, (stats, "dataset_stats"))
    own = _wrong_categories_yaml(tmp_path, "h312_stats")
    res = CliRunner().invoke(app, ["data", "stats", "-d", own, "--json", str(tmp_path / "stats.json")])
    _refused(res)
    assert not (tmp_path / "stats.json").exists()


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


def test_files_that_failed_many_share_are_one_line_of_report_md_and_every_one_is_in_report_json(tmp_path, names):
    """`evaluate` of a dataset with many photos that cannot be read (a folder of broken downloads) listed every one
    under report.md's Files that failed, where its Data problems are grouped: now one line of the failure, how many
    files, the first few and where all are named (report.json's failures, which keeps every one)."""
    from PIL import ImageDraw

    from drywallqa.data import registry
    from drywallqa.data.registry import DatasetConfig, SplitSource
    from drywallqa.engine.evaluator import evaluate

    names.append("h312_failed")
    root = tmp_path / "ds"
    (root / "valid" / "_masks").mkdir(parents=True)
    m = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(m).line([(5, 6), (56, 54)], fill=255, width=3)
    m.save(root / "valid" / "_masks" / "ok.png")
    m.convert("RGB").save(root / "valid" / "ok.jpg")
    broken = [f"b{i:02d}.jpg" for i in range(8)]
    for b in broken:
        (root / "valid" / b).write_bytes(b"not a photo")
        Image.new("L", (64, 64)).save(root / "valid" / "_masks" / b.replace(".jpg", ".png"))
    registry.register_dataset(DatasetConfig("h312_failed", str(root), ("segment crack",),
                                            {"valid": SplitSource("mask_folder", "valid")}))
    report = evaluate(_RedMaps(), tmp_path / "eval", datasets=("h312_failed",), which=("all",), speed_images=0,
                      progress=False)
    saved = json.loads((tmp_path / "eval" / "report.json").read_text(encoding="utf-8"))["failures"]
    assert all(sum(b in f for f in saved) == 1 for b in broken), saved  # report.json: every file, once
    assert len(report["failures"]) == len(broken), report["failures"]
    md = (tmp_path / "eval" / "report.md").read_text(encoding="utf-8")
    section = md.split("## Files that failed", 1)[1].split("\n## ", 1)[0]
    items = [line for line in section.splitlines() if line.startswith("- ")]
    assert len(items) == 1, section
    assert "8 files" in items[0] and "b00.jpg" in items[0] and "report.json's failures" in items[0], items[0]
    assert "b07.jpg" not in items[0] and "numbers" not in items[0], items[0]  # (one message: no numbers to differ)
