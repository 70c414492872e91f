"""Box annotations -> SAM masks, on a tiny random SAM."""

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from drywallqa.cli import app
from drywallqa.data.registry import DatasetConfig, SplitSource
from drywallqa.data.sample import load_split


def test_refine_masks_keeps_or_falls_back_and_writes_a_mask_dataset(synthetic_datasets, tiny_sam_dir, tmp_path):
    runner = CliRunner()
    strict = tmp_path / "strict"
    res = runner.invoke(app, ["data", "refine-masks", "-d", "syn_tape", "--out", str(strict), "--model-path", str(tiny_sam_dir),
                              "--min-iou", "1", "--split", "valid", "--datasets-dir", str(synthetic_datasets)])
    assert res.exit_code == 0, res.output
    rep = json.loads((strict / "report.json").read_text())["splits"]["valid"]
    assert rep["images"] == 4 and rep["boxes"] == 4 and rep["fell_back"] == 4 and rep["refined"] == 0
    # every box fell back: the masks equal the rasterised boxes
    originals, _ = load_split("syn_tape", "valid", synthetic_datasets)
    for s in originals:
        m = np.asarray(Image.open(strict / "valid" / "_masks" / f"{s.image_path.stem}.png")) > 0
        assert np.array_equal(m, s.load_mask())
    lenient = tmp_path / "lenient"
    res = runner.invoke(app, ["data", "refine-masks", "-d", "syn_tape", "--out", str(lenient), "--model-path", str(tiny_sam_dir),
                              "--min-iou", "0", "--split", "valid", "--datasets-dir", str(synthetic_datasets)])
    assert res.exit_code == 0, res.output
    rep = json.loads((lenient / "report.json").read_text())["splits"]["valid"]
    assert rep["refined"] + rep["fell_back"] == 4  # empty SAM masks still fall back
    # the output reads back as an image/mask-folder dataset
    cfg = DatasetConfig("refined", "lenient", ("segment taping area",), {"valid": SplitSource("mask_folder", "valid")})
    samples, problems = load_split(cfg, "valid", tmp_path)
    assert len(samples) == 4 and not problems


def test_refine_masks_with_an_uncached_hub_id_is_a_clear_error(monkeypatch, tmp_path, synthetic_datasets):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty"))
    res = CliRunner().invoke(app, ["data", "refine-masks", "-d", "syn_tape", "--out", str(tmp_path / "o"),
                                   "--datasets-dir", str(synthetic_datasets)])
    assert res.exit_code == 2 and "facebook/sam-vit-base" in res.output


def test_refined_masks_train_and_evaluate_as_a_dataset(synthetic_datasets, tiny_sam_dir, tiny_kwargs, tmp_path):
    """The SAM path end to end: boxes -> SAM masks -> a mask-folder dataset -> train, save, load, evaluate."""
    from drywallqa import Segmenter
    from drywallqa.data import registry
    from drywallqa.data.grouping import make_group_split
    from drywallqa.data.refine import refine_box_masks
    from drywallqa.engine.config import TrainConfig
    from drywallqa.engine.evaluator import evaluate
    from drywallqa.engine.trainer import Trainer

    refine_box_masks("syn_tape", synthetic_datasets / "tape_sam", str(tiny_sam_dir), min_iou=-1e9,
                     datasets_dir=synthetic_datasets, progress=False)
    registry.register_dataset(DatasetConfig("syn_tape_sam", "tape_sam", ("segment taping area",),
                                            {"train": SplitSource("mask_folder", "train"), "valid": SplitSource("mask_folder", "valid")}))
    try:
        splits = tmp_path / "splits"
        for ds in ("syn_crack", "syn_tape_sam"):
            make_group_split(ds, synthetic_datasets, {"train": 0.5, "val": 0.25, "test": 0.25}, seed=0).to_json(splits / f"{ds}.json")
        cfg = TrainConfig.from_dict({
            "model_config": tiny_kwargs, "output_dir": str(tmp_path / "run"), "device": "cpu", "bf16": False,
            "data": {"datasets": ["syn_crack", "syn_tape_sam"], "datasets_dir": str(synthetic_datasets),
                     "splits_dir": str(splits), "cache_size": 72, "cache_dir": None},
            "optim": {"batch_size": 4, "epochs": 1, "warmup_steps": 1}})
        Trainer(cfg, progress=False).train()
        seg = Segmenter.load(tmp_path / "run" / "best")
        report = evaluate(seg, tmp_path / "eval", datasets=("syn_crack", "syn_tape_sam"), splits_dir=splits,
                          datasets_dir=synthetic_datasets, speed_images=0, progress=False)
        assert {r["dataset"] for r in report["metrics"]} == {"syn_crack", "syn_tape_sam"}
    finally:
        registry.DATASETS.remove("syn_tape_sam")


class _StoppingRefiner:
    """Each box refined to itself, counted; Ctrl-C (KeyboardInterrupt) once ``stop_after`` photos are done. ``mode``:
    a setting of its own (another mode: another refine job)."""

    def __init__(self, stop_after=None, mode="a"):
        self.calls, self.stop_after, self.mode = 0, stop_after, mode

    def describe(self):
        return {"with": "counting", "mode": self.mode}

    def __call__(self, image, boxes):
        from drywallqa.data.coco import box_mask

        if self.calls == self.stop_after:
            raise KeyboardInterrupt
        self.calls += 1
        return [box_mask([b], *image.shape[:2]) for b in boxes], ["refined"] * len(boxes)


def test_an_interrupted_refine_run_resumes_where_it_stopped(synthetic_datasets, tmp_path):
    """A long refine run that is stopped keeps the files it finished: the next run does only the rest."""
    import pytest

    from drywallqa.data.refine import refine_box_masks

    out = tmp_path / "refined"
    first = _StoppingRefiner(stop_after=2)
    with pytest.raises(KeyboardInterrupt):
        refine_box_masks("syn_tape", out, splits=["valid"], datasets_dir=synthetic_datasets, progress=False, refiner=first)
    second = _StoppingRefiner()
    report = refine_box_masks("syn_tape", out, splits=["valid"], datasets_dir=synthetic_datasets, progress=False,
                              refiner=second)
    assert (first.calls, second.calls) == (2, 2)  # 4 photos with one box each: two done before the stop, two after
    assert report["splits"]["valid"]["refined"] == 4 and len(report["files"]) == 4
    assert (out / "preview.png").is_file()
    other = _StoppingRefiner(mode="b")  # other settings: every file is done again
    refine_box_masks("syn_tape", out, splits=["valid"], datasets_dir=synthetic_datasets, progress=False, refiner=other)
    assert other.calls == 4


def test_refine_never_writes_into_the_datasets_own_folder(synthetic_datasets, tmp_path):
    """--out on the dataset's folder used to replace every photo by a link to itself (the photos were lost)."""
    from drywallqa.data.registry import get_dataset_config

    root = get_dataset_config("syn_tape").root(synthetic_datasets)
    photos = {p: p.read_bytes() for p in root.rglob("*.jpg")}
    assert photos
    for out in (root, root / "train" / "refined", root.parent):
        res = CliRunner().invoke(app, ["data", "refine-masks", "-d", "syn_tape", "--with", "edges", "--out", str(out),
                                       "--datasets-dir", str(synthetic_datasets)], terminal_width=300)
        assert res.exit_code == 2 and "choose a folder of its own" in " ".join(res.output.replace("│", " ").split())
    assert {p: p.read_bytes() for p in root.rglob("*.jpg")} == photos and not any(p.is_symlink() for p in root.rglob("*"))


def _box_dataset(root, images, anns):
    """A one-split (``train``) COCO box dataset ``boxes`` of 64x64 photos under ``root``; returns its config."""
    from drywallqa.data.registry import DatasetConfig, SplitSource

    rng = np.random.default_rng(0)
    folder = root / "boxes" / "train"
    for name in images:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(folder / name)
    entries = [{"id": i, "file_name": n, "width": 64, "height": 64} for i, n in enumerate(images, 1)]
    (folder / "_annotations.coco.json").write_text(json.dumps({"images": entries, "annotations": anns, "categories": []}))
    return DatasetConfig("boxes", "boxes", ("segment taping area",), {"train": SplitSource("coco", "train")},
                         label_shape="box")


class _BoxRefiner:
    """Each box stays a box (``fell_back``): the refined masks equal the labels."""

    def describe(self):
        return {"with": "boxes"}

    def __call__(self, image, boxes):
        from drywallqa.data.coco import box_mask

        return [box_mask([b], *image.shape[:2]) for b in boxes], ["fell_back"] * len(boxes)


def _refine(config, tmp_path):
    """``refine_box_masks`` of the box dataset ``config`` (registered for the call) into ``tmp_path/out``."""
    from drywallqa.data import registry
    from drywallqa.data.refine import refine_box_masks

    registry.register_dataset(config)
    try:
        return refine_box_masks("boxes", tmp_path / "out", datasets_dir=tmp_path / "ds", progress=False,
                                refiner=_BoxRefiner())
    finally:
        registry.DATASETS.remove("boxes")


def test_refine_skips_a_box_of_string_coordinates_as_the_reader_does(tmp_path):
    """A bbox ["1", "2", "30", "30"] crashed refine-masks with a TypeError; the reader names it a problem."""
    config = _box_dataset(tmp_path / "ds", ["a.jpg"], [
        {"id": 1, "image_id": 1, "bbox": ["1", "2", "30", "30"], "segmentation": []},
        {"id": 2, "image_id": 1, "bbox": [40, 40, 10, 10], "segmentation": []}])
    report = _refine(config, tmp_path)
    counts = report["splits"]["train"]
    assert counts["images"] == 1 and counts["boxes"] == 1
    assert any("annotation 1" in p and "'1'" in p for p in counts["problems"])
    mask = np.asarray(Image.open(tmp_path / "out" / "train" / "_masks" / "a.png")) > 0
    assert mask.sum() == 100 and mask[40:50, 40:50].all()


def test_refine_keeps_photos_of_one_name_in_two_subfolders_apart(tmp_path):
    """sub1/a.jpg and sub2/a.jpg both became train/a.jpg and _masks/a.png (one photo silently lost)."""
    from drywallqa.data.registry import DatasetConfig, SplitSource

    config = _box_dataset(tmp_path / "ds", ["sub1/a.jpg", "sub2/a.jpg", "b.jpg", "b.png"], [
        {"id": 1, "image_id": 1, "bbox": [0, 0, 20, 20], "segmentation": []},
        {"id": 2, "image_id": 2, "bbox": [40, 40, 20, 20], "segmentation": []},
        {"id": 3, "image_id": 3, "bbox": [10, 10, 5, 5], "segmentation": []},
        {"id": 4, "image_id": 4, "bbox": [10, 10, 5, 5], "segmentation": []}])
    report = _refine(config, tmp_path)
    assert set(report["files"]) == {"train/sub1__a.jpg", "train/sub2__a.jpg", "train/b.jpg"}
    # b.png would share b.jpg's mask _masks/b.png: named, not written over it
    assert any("b.png" in p and "taken by" in p for p in report["splits"]["train"]["problems"])
    refined = DatasetConfig("refined", "out", ("segment taping area",), {"train": SplitSource("mask_folder", "train")})
    samples, problems = load_split(refined, "train", tmp_path)
    assert not problems and {s.image_path.name: int(s.load_mask().sum()) for s in samples} == \
        {"sub1__a.jpg": 400, "sub2__a.jpg": 400, "b.jpg": 25}
    masks = {s.image_path.name: s.load_mask() for s in samples}
    assert masks["sub1__a.jpg"][:20, :20].all() and masks["sub2__a.jpg"][40:60, 40:60].all()
    # a photo an earlier run wrote under another name (its old name, sub1/a.jpg as a.jpg): named, as the refined
    # dataset still holds it; a rerun of the same names says nothing
    (tmp_path / "out" / "train" / "a.jpg").write_bytes((tmp_path / "out" / "train" / "b.jpg").read_bytes())
    (tmp_path / "out" / "progress.jsonl").write_text("")  # whatever settings that run had: the file is found on disk
    again = _refine(config, tmp_path)
    stale = [p for p in again["splits"]["train"]["problems"] if "written by an earlier run" in p]
    assert len(stale) == 1 and stale[0].startswith(str(tmp_path / "out" / "train" / "a.jpg"))


@pytest.mark.parametrize("extra, words", [
    (["--min-iou", "nan"], "--min-iou: a predicted IoU must be a number in [0, 1], got nan"),
    (["--min-iou", "80"], "--min-iou: a predicted IoU must be a number in [0, 1], got 80.0"),
    (["--with", "edges", "--min-iou", "0.5"], "--min-iou is an option of --with sam, not --with edges"),
    (["--with", "edges", "--model-path", "my_sam"], "--model-path is an option of --with sam, not --with edges"),
    (["--with", "egdes"], "--with 'egdes': choose")])
def test_refine_options_that_would_refine_nothing_or_go_unused_are_refused(synthetic_datasets, tmp_path, monkeypatch,
                                                                            extra, words):
    """--min-iou nan or 80 (for 0.8) let every box fall back to itself without a word; SAM's options given with
    --with edges were dropped silently (the masks were not made the way they asked). Refused before weights load,
    and before the dataset is read (its annotations were read, and their problems printed, first)."""
    import drywallqa.cli.data as cli_data
    import drywallqa.data.refine as refine

    monkeypatch.setattr(refine, "load_sam", lambda *a: pytest.fail("the weights were loaded before the refusal"))
    monkeypatch.setattr(refine, "read_refine_splits", lambda *a: pytest.fail("the dataset was read before the refusal"))
    assert cli_data  # the command imports read_refine_splits from drywallqa.data.refine when it runs
    res = CliRunner().invoke(app, ["data", "refine-masks", "-d", "syn_tape", "--out", str(tmp_path / "o"),
                                   "--datasets-dir", str(synthetic_datasets), *extra])
    assert res.exit_code == 2 and words in " ".join(res.output.replace("│", " ").split()), res.output
    assert not (tmp_path / "o").exists()
    with pytest.raises(ValueError, match="min_iou must be a number"):
        refine.SamRefiner("my_sam", float("nan"))


def test_refine_from_a_datasets_folder_without_the_dataset_is_an_error_not_an_empty_dataset(synthetic_datasets, tmp_path,
                                                                                           monkeypatch):
    """It reported '0 images' per split, wrote an empty dataset and exited 0 (data stats and evaluate exit 1)."""
    import drywallqa.data.refine as refine

    monkeypatch.setattr(refine, "load_sam", lambda *a: pytest.fail("the weights were loaded before the refusal"))
    res = CliRunner().invoke(app, ["data", "refine-masks", "-d", "syn_tape", "--out", str(tmp_path / "o"),
                                   "--datasets-dir", str(tmp_path / "elsewhere")], terminal_width=400)
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.output
    assert f"no photo of 'syn_tape' could be read under {tmp_path / 'elsewhere' / 'tape'}" in res.output
    assert "--datasets-dir" in res.output and not (tmp_path / "o").exists()
    with pytest.raises(ValueError, match="no photo of 'syn_tape' could be read"):
        refine.refine_box_masks("syn_tape", tmp_path / "o", datasets_dir=tmp_path / "elsewhere",
                                refiner=refine.EdgeRefiner())


def test_a_label_edited_since_an_earlier_run_is_refined_again_not_kept(tmp_path):
    """A rerun after the labels were edited kept every mask of the first run (its record named files, not what they
    were made from): a photo whose boxes were all deleted still had its old mask, and the report counted old boxes."""
    boxes = [{"id": 1, "image_id": 1, "bbox": [0, 0, 20, 20], "segmentation": []},
             {"id": 2, "image_id": 2, "bbox": [40, 40, 20, 20], "segmentation": []}]
    config = _box_dataset(tmp_path / "ds", ["a.jpg", "b.jpg"], boxes)
    first = _refine(config, tmp_path)
    assert first["splits"]["train"]["boxes"] == 2
    coco = tmp_path / "ds" / "boxes" / "train" / "_annotations.coco.json"
    data = json.loads(coco.read_text())
    data["annotations"] = [{**boxes[1], "bbox": [10, 10, 30, 30]}]  # a.jpg has no box left, b.jpg's moved
    coco.write_text(json.dumps(data))
    again = _refine(config, tmp_path)
    assert again["splits"]["train"]["boxes"] == 1
    mask = lambda name: np.asarray(Image.open(tmp_path / "out" / "train" / "_masks" / name)) > 0  # noqa: E731
    assert not mask("a.png").any() and mask("b.png")[10:40, 10:40].all() and not mask("b.png")[45:60, 45:60].any()
    lines = (tmp_path / "out" / "progress.jsonl").read_text().splitlines()
    third = _refine(config, tmp_path)  # nothing changed since: kept (the record holds what each was made from)
    assert third["files"] == again["files"] and (tmp_path / "out" / "progress.jsonl").read_text().splitlines() == lines


def test_refining_one_split_then_another_into_one_folder_reports_both(tmp_path):
    """``--split valid`` then ``--split train`` into one --out: report.json held only the last split's files."""
    from drywallqa.data import registry
    from drywallqa.data.refine import refine_box_masks

    config = _box_dataset(tmp_path / "ds", ["a.jpg"], [{"id": 1, "image_id": 1, "bbox": [0, 0, 20, 20],
                                                         "segmentation": []}])
    config.splits["valid"] = config.splits["train"]  # the same photos as a second split
    registry.register_dataset(config)
    try:
        for split in ("valid", "train"):
            report = refine_box_masks("boxes", tmp_path / "out", datasets_dir=tmp_path / "ds", progress=False,
                                      refiner=_BoxRefiner(), splits=[split])
    finally:
        registry.DATASETS.remove("boxes")
    assert set(report["splits"]) == {"valid", "train"} and set(report["files"]) == {"valid/a.jpg", "train/a.jpg"}
    assert json.loads((tmp_path / "out" / "report.json").read_text())["files"] == report["files"]


def test_a_photo_that_cannot_be_read_or_refined_is_named_and_the_others_are_refined(tmp_path):
    """One truncated JPEG stopped the whole run (exit 1, no report.json), and every rerun stopped at it again."""
    boxes = [{"id": i, "image_id": i, "bbox": [5, 5, 20, 20], "segmentation": []} for i in (1, 2, 3, 4)]
    config = _box_dataset(tmp_path / "ds", ["a.jpg", "b.jpg", "c.jpg", "d.jpg"], boxes)
    photo = tmp_path / "ds" / "boxes" / "train" / "b.jpg"
    photo.write_bytes(photo.read_bytes()[: len(photo.read_bytes()) // 2])
    Image.new("RGB", (64, 64), (90, 90, 90)).save(tmp_path / "ds" / "boxes" / "train" / "c.jpg")  # plain grey
    real = _BoxRefiner()

    class FailsOnC(_BoxRefiner):
        def __call__(self, image, boxes):
            if image.std() < 1:  # c.jpg: the refiner itself fails on it
                raise RuntimeError("the refiner's model failed")
            return real(image, boxes)

    from drywallqa.data import registry
    from drywallqa.data.refine import refine_box_masks

    registry.register_dataset(config)
    try:
        for _ in range(2):  # and again: the finished photos kept, the two named again, nothing stops
            report = refine_box_masks("boxes", tmp_path / "out", datasets_dir=tmp_path / "ds", progress=False,
                                      refiner=FailsOnC())
            problems = report["splits"]["train"]["problems"]
            assert sum("b.jpg" in p and "skipped" in p for p in problems) == 1, problems
            assert sum("c.jpg" in p and "the refiner's model failed" in p for p in problems) == 1, problems
            written = sorted(p.name for p in (tmp_path / "out" / "train" / "_masks").iterdir())
            assert written == ["a.png", "d.png"] and sorted(report["files"]) == ["train/a.jpg", "train/d.jpg"]
    finally:
        registry.DATASETS.remove("boxes")
    assert json.loads((tmp_path / "out" / "report.json").read_text())["splits"]["train"]["problems"] == problems


def test_a_shrunk_copy_of_a_photo_is_refined_with_its_boxes_shrunk_with_it(tmp_path):
    """The reader takes a photo half the size its COCO entry declares (a shrunk copy keeps its labels' shape); its
    boxes were refined at the declared size: a box over the right half of the photo gave an empty mask."""
    from drywallqa.data.registry import DatasetConfig, SplitSource

    folder = tmp_path / "ds" / "boxes" / "train"
    folder.mkdir(parents=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(folder / "a.png")
    (folder / "_annotations.coco.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.png", "width": 64, "height": 64}],
        "annotations": [{"id": 1, "image_id": 1, "bbox": [32, 32, 24, 16], "segmentation": []}], "categories": []}))
    config = DatasetConfig("boxes", "boxes", ("segment taping area",), {"train": SplitSource("coco", "train")},
                           label_shape="box")
    report = _refine(config, tmp_path)
    assert report["splits"]["train"]["boxes"] == 1
    mask = np.asarray(Image.open(tmp_path / "out" / "train" / "_masks" / "a.png")) > 0
    assert mask.shape == (32, 32) and mask.sum() == 12 * 8 and mask[16:24, 16:28].all()


def test_a_record_line_cut_by_a_crash_costs_that_file_only(tmp_path):
    """A hard kill left the last line of progress.jsonl without its newline; the rerun appended its first record onto
    it, so that record was lost too (its file refined again by every later run)."""
    boxes = [{"id": i, "image_id": i, "bbox": [4 * i, 4 * i, 20, 20], "segmentation": []} for i in (1, 2, 3)]
    config = _box_dataset(tmp_path / "ds", ["a.jpg", "b.jpg", "c.jpg"], boxes)
    _refine(config, tmp_path)
    record = tmp_path / "out" / "progress.jsonl"
    lines = record.read_text().splitlines()
    assert len(lines) == 4  # settings, then a, b, c
    record.write_text("\n".join(lines[:3]) + "\n" + lines[3][: len(lines[3]) // 2])  # c's line cut mid-write
    _refine(config, tmp_path)  # c refined again, recorded whole
    again = record.read_text().splitlines()
    assert len(again) == 4 and [json.loads(line)["file"] for line in again[1:]] == [json.loads(line)["file"] for line in lines[1:]]
    assert record.read_text().endswith("\n")


@pytest.mark.parametrize("split", ["report.json", "progress.jsonl", "preview.png"])
def test_a_split_named_as_a_file_refining_writes_is_refused_in_its_yaml(tmp_path, split):
    """A YAML split named report.json (or progress.jsonl, preview.png) made refine-masks write its folder
    <out>/report.json/ and then crash writing the file report.json there (IsADirectoryError traceback); refused where
    the YAML file is read, naming it, for every command (exit 2)."""
    import yaml
    from conftest import says

    _box_dataset(tmp_path / "ds", ["a.jpg"], [{"id": 1, "image_id": 1, "bbox": [4, 4, 20, 20], "segmentation": []}])
    decl = tmp_path / "odd.yaml"
    decl.write_text(yaml.safe_dump({"name": "odd_split", "folder": "ds/boxes", "prompts": ["segment joint"],
                                    "label_shape": "box", "splits": {split: {"kind": "coco", "folder": "train"}}}))
    res = CliRunner().invoke(app, ["data", "refine-masks", "--with", "edges", "-d", str(decl), "--out",
                                   str(tmp_path / "out")])
    assert res.exit_code == 2 and says(res.output, f"a split may not be named '{split}'"), res.output
    assert not (tmp_path / "out").exists()


def test_a_run_stopped_while_copying_a_photo_leaves_no_half_photo_and_its_rerun_goes_on(tmp_path, monkeypatch):
    """Where links cannot be made the photos are copied into --out; a run stopped mid-copy left half a photo there,
    and every rerun then refused the folder ("... is not the photo ... (nor a copy of it)"): the copy is written whole,
    and the temporary file a killed copy leaves is removed by the next run."""
    import os
    import shutil

    config = _box_dataset(tmp_path / "ds", ["a.jpg", "b.jpg", "c.jpg"], [
        {"id": i, "image_id": i, "bbox": [4, 4, 20, 20], "segmentation": []} for i in (1, 2, 3)])
    monkeypatch.setattr(os, "symlink", lambda *a, **k: (_ for _ in ()).throw(OSError("no links on this disk")))
    real, calls = shutil.copy2, []

    def stopped_midway(src, dst):
        calls.append(src)
        if len(calls) == 2:
            with open(dst, "wb") as f:
                f.write(open(src, "rb").read()[:100])
            raise KeyboardInterrupt
        return real(src, dst)

    monkeypatch.setattr(shutil, "copy2", stopped_midway)
    with pytest.raises(KeyboardInterrupt):
        _refine(config, tmp_path)
    monkeypatch.setattr(shutil, "copy2", real)
    (tmp_path / "out" / "train" / ".c.jpg.999999-killed.tmp").write_bytes(b"half")  # what a kill -9 mid-copy leaves
    report = _refine(config, tmp_path)  # refused before: out/train/b.jpg was half of the photo
    assert report["splits"]["train"]["images"] == 3 and not report["splits"]["train"]["problems"]
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        assert (tmp_path / "out" / "train" / name).read_bytes() == (tmp_path / "ds" / "boxes" / "train" / name).read_bytes()
    assert not [p.name for p in (tmp_path / "out" / "train").iterdir() if p.name.startswith(".")]


def test_where_photos_are_copied_a_photo_replaced_since_is_refined_again_not_refused(tmp_path, monkeypatch):
    """Where links cannot be made, the copy an earlier run wrote of a photo replaced since in the dataset was taken for
    a file of the user's ("... is not the photo ... (nor a copy of it)"): every rerun was refused. A copy the run
    recorded writing is its own to replace; another file put under that name is still refused."""
    import os

    from drywallqa.data.refine import RefineOutError

    config = _box_dataset(tmp_path / "ds", ["a.jpg", "b.jpg"], [
        {"id": i, "image_id": i, "bbox": [4, 4, 20, 20], "segmentation": []} for i in (1, 2)])
    monkeypatch.setattr(os, "symlink", lambda *a, **k: (_ for _ in ()).throw(OSError("no links on this disk")))
    _refine(config, tmp_path)
    photo, copy = tmp_path / "ds" / "boxes" / "train" / "a.jpg", tmp_path / "out" / "train" / "a.jpg"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(photo)  # replaced in place
    report = _refine(config, tmp_path)
    assert report["splits"]["train"]["images"] == 2 and copy.read_bytes() == photo.read_bytes()
    copy.write_bytes((tmp_path / "ds" / "boxes" / "train" / "b.jpg").read_bytes())  # another photo under its name
    with pytest.raises(RefineOutError, match="is not the photo"):
        _refine(config, tmp_path)


def test_the_output_of_a_stopped_run_is_named_unfinished_when_read_as_a_dataset(synthetic_datasets, tmp_path):
    """A refine run stopped midway left a mask-folder dataset of part of the photos, which training and evaluation read
    as a whole dataset without a word; its report.json now lists the splits it has not finished until a run finishes
    them, and the reader names such a split."""
    from drywallqa.data.refine import refine_box_masks

    out = tmp_path / "refined"
    refined = DatasetConfig("refined", str(out), ("segment taping area",),
                            {s: SplitSource("mask_folder", s) for s in ("train", "valid")})

    def unfinished(split):
        samples, problems = load_split(refined, split)
        return len(samples), [str(p) for p in problems if "did not finish" in str(p)]

    def refine(split, refiner):
        return refine_box_masks("syn_tape", out, splits=[split], datasets_dir=synthetic_datasets, progress=False,
                                refiner=refiner)

    with pytest.raises(KeyboardInterrupt):
        refine("valid", _StoppingRefiner(stop_after=2))
    n, said = unfinished("valid")
    assert n == 2 and len(said) == 1 and str(out / "valid") in said[0]  # 2 of its 4 photos, named unfinished
    refine("train", _StoppingRefiner())  # another split, finished: the stopped one is still unfinished
    assert unfinished("train") == (12, []) and unfinished("valid")[1]
    refine("valid", _StoppingRefiner())
    assert unfinished("valid") == (4, []) and "unfinished" not in json.loads((out / "report.json").read_text())


def test_a_split_name_too_long_for_a_folder_is_refused_in_its_yaml(tmp_path):
    """refine-masks writes <out>/<split>/: a split named by 300 characters crashed it with an OSError traceback ("File
    name too long") after --out was made; refused where the YAML is read (exit 2), as other names no folder can have."""
    import yaml
    from conftest import says

    _box_dataset(tmp_path / "ds", ["a.jpg"], [{"id": 1, "image_id": 1, "bbox": [4, 4, 20, 20], "segmentation": []}])
    decl = tmp_path / "long.yaml"
    decl.write_text(yaml.safe_dump({"name": "long_split", "folder": "ds/boxes", "prompts": ["segment joint"],
                                    "label_shape": "box", "splits": {"t" * 300: {"kind": "coco", "folder": "train"}}}))
    res = CliRunner().invoke(app, ["data", "refine-masks", "--with", "edges", "-d", str(decl), "--out",
                                   str(tmp_path / "out")])
    assert res.exit_code == 2 and says(res.output, "a split name must be a folder name", "at most 255 bytes"), res.output
    assert not (tmp_path / "out").exists()


def test_a_photo_whose_output_name_is_too_long_is_skipped_and_named(tmp_path):
    """A photo in subfolders of long names (200 + 200 characters) gets an output name of more than 255 bytes once its
    folders are joined by '__': it crashed the run (and every rerun) with an OSError traceback; it is skipped, named."""
    deep = "a" * 200 + "/" + "b" * 200 + ".jpg"
    config = _box_dataset(tmp_path / "ds", [deep, "ok.jpg"], [
        {"id": i, "image_id": i, "bbox": [4, 4, 20, 20], "segmentation": []} for i in (1, 2)])
    for _ in range(2):  # a rerun into the same folder too
        report = _refine(config, tmp_path)
        counts = report["splits"]["train"]
        assert counts["images"] == 1 and set(report["files"]) == {"train/ok.jpg"}
        assert len(counts["problems"]) == 1 and "longer than a file name may be" in counts["problems"][0]


def test_a_split_named_twice_is_refined_once(tmp_path):
    """--split train,train refined every photo of train twice over (hours with SAM on a real dataset)."""
    from drywallqa.data import registry
    from drywallqa.data.refine import check_refine_request, refine_box_masks

    config = _box_dataset(tmp_path / "ds", ["a.jpg", "b.jpg"], [
        {"id": i, "image_id": i, "bbox": [4, 4, 20, 20], "segmentation": []} for i in (1, 2)])
    calls = []

    class Counting(_BoxRefiner):
        def __call__(self, image, boxes):
            calls.append(len(boxes))
            return super().__call__(image, boxes)

    registry.register_dataset(config)
    try:
        assert check_refine_request("boxes", ["train", "train"]) == ["train"]
        report = refine_box_masks("boxes", tmp_path / "out", splits=["train", "train"], datasets_dir=tmp_path / "ds",
                                  progress=False, refiner=Counting())
    finally:
        registry.DATASETS.remove("boxes")
    assert len(calls) == 2 and report["splits"]["train"]["images"] == 2


def test_a_photo_removed_while_the_run_goes_on_is_named_and_the_others_are_refined(tmp_path):
    """A photo deleted after the dataset was read (a folder being written as it is refined) stopped the whole run with
    a FileNotFoundError traceback; it is named in the split's problems and the other photos are refined."""
    from drywallqa.data import registry
    from drywallqa.data.refine import refine_box_masks

    config = _box_dataset(tmp_path / "ds", ["a.jpg", "b.jpg", "c.jpg"], [
        {"id": i, "image_id": i, "bbox": [4, 4, 20, 20], "segmentation": []} for i in (1, 2, 3)])

    class Removing(_BoxRefiner):
        def __call__(self, image, boxes):  # while a.jpg is refined, b.jpg goes
            (tmp_path / "ds" / "boxes" / "train" / "b.jpg").unlink(missing_ok=True)
            return super().__call__(image, boxes)

    registry.register_dataset(config)
    try:
        report = refine_box_masks("boxes", tmp_path / "out", datasets_dir=tmp_path / "ds", progress=False,
                                  refiner=Removing())
    finally:
        registry.DATASETS.remove("boxes")
    counts = report["splits"]["train"]
    assert counts["images"] == 2 and set(report["files"]) == {"train/a.jpg", "train/c.jpg"}
    assert any("b.jpg: gone since the dataset was read" in p for p in counts["problems"]), counts["problems"]


def test_a_refine_run_again_after_sams_weights_were_replaced_refines_again(synthetic_datasets, tmp_path, monkeypatch):
    """`data refine-masks --with sam --model-path DIR` run again into its --out after the weights in DIR were replaced
    kept every mask of the weights before (its record held DIR's name alone)."""
    from drywallqa.data import refine
    from drywallqa.data.refine import SamRefiner, refine_box_masks

    calls = []

    def sam_box_masks(sam, image, boxes):
        calls.append(len(boxes))
        return [np.ones(image.shape[:2], bool) for _ in boxes], [1.0] * len(boxes)

    monkeypatch.setattr(refine, "sam_box_masks", sam_box_masks)
    sam = tmp_path / "sam"
    sam.mkdir()
    (sam / "model.safetensors").write_bytes(b"weights of one SAM")

    def run():
        calls.clear()
        refine_box_masks("syn_tape", tmp_path / "out", splits=["valid"], datasets_dir=synthetic_datasets, progress=False,
                         refiner=SamRefiner(str(sam), sam=object()))
        return len(calls)

    assert run() == 4 and run() == 0  # the same weights: nothing refined again
    (sam / "model.safetensors").write_bytes(b"weights of another")
    assert run() == 4


def test_a_second_refine_run_into_an_out_a_run_is_writing_into_is_refused(synthetic_datasets, tmp_path):
    """Two runs into one --out at once (`--split valid` and `--split train`, or two --min-iou) each wrote its masks over
    the other's and its own report.json, which left the other's split out; now the second is refused, naming the lock
    (exit 2 before SAM loads)."""
    import threading

    import pytest

    from conftest import says
    from drywallqa.data.refine import refine_box_masks

    started, release = threading.Event(), threading.Event()

    class Held(_StoppingRefiner):
        def __call__(self, image, boxes):
            started.set()
            assert release.wait(30)
            return super().__call__(image, boxes)

    out = tmp_path / "refined"
    first = threading.Thread(target=refine_box_masks, args=("syn_tape", out), daemon=True,
                             kwargs=dict(splits=["valid"], datasets_dir=synthetic_datasets, progress=False, refiner=Held()))
    first.start()
    try:
        assert started.wait(30)
        with pytest.raises(ValueError, match=r"in use by another refine-masks run \(it holds .*\.refine\.lock\)"):
            refine_box_masks("syn_tape", out, splits=["train"], datasets_dir=synthetic_datasets, progress=False,
                             refiner=_StoppingRefiner())
        res = CliRunner().invoke(app, ["data", "refine-masks", "-d", "syn_tape", "--out", str(out), "--with", "edges",
                                       "--datasets-dir", str(synthetic_datasets)], terminal_width=300)
        assert res.exit_code == 2 and says(res.output, "in use by another refine-masks run"), res.output
    finally:
        release.set()
        first.join(30)
    report = refine_box_masks("syn_tape", out, splits=["train"], datasets_dir=synthetic_datasets, progress=False,
                              refiner=_StoppingRefiner())  # once the first has ended
    assert set(report["splits"]) == {"valid", "train"}
