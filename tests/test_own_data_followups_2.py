"""Follow-ups of the own-data audits (2): a dataset YAML whose categories its COCO files label none of, refused by the
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
