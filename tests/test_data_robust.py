"""Data readers, the training-array cache, negative pairs and the data commands on labels and folders that would
have been read wrong without a word (tiny fixtures made on the fly)."""

from __future__ import annotations

import json
import logging
import re

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from conftest import says

from drywallqa.cli import app
from drywallqa.data.prompted import PromptedSegmentationDataset


# ----------------------------------------------------------------- negative pairs


def _negatives(prompts, concepts, n=3):
    """(the photo's dataset, the prompt text) of every negative item of a dataset of one photo per dataset."""
    images = np.stack([np.full((8, 8, 3), 40 * (k + 1), np.uint8) for k in range(n)])
    ds = PromptedSegmentationDataset(images, np.ones((n, 8, 8), bool), list(range(n)), prompts, negative_ratio=20.0,
                                     concepts=concepts)
    flat = [p for ps in prompts for p in ps]
    pairs = []
    for index in range(n, len(ds)):
        item = ds[index]
        assert not item["mask"].any()
        pairs.append((round(float(item["pixel_values"][0, 0, 0]) * 255 / 40) - 1, flat[item["prompt_index"]]))
    return pairs


def test_a_prompt_two_datasets_of_different_concepts_share_is_never_a_negative_on_their_photos(caplog):
    """docs' own example (my_walls.yaml, its concept left out) trained with cracks and taping: "segment crack" asked of
    a crack photo against an empty mask taught the model that its own prompt means "empty"."""
    prompts = [["segment crack", "segment wall crack"], ["Segment  crack", "segment wall crack"], ["segment taping area"]]
    with caplog.at_level(logging.WARNING, "drywallqa.data.prompted"):
        pairs = _negatives(prompts, ["my_walls", "cracks", "taping"])
    assert pairs and all(text not in {"segment crack", "Segment  crack", "segment wall crack"} for own, text in pairs
                         if own in (0, 1))
    assert {text for own, text in pairs if own == 2} == {"segment crack", "Segment  crack", "segment wall crack"}
    assert "'my_walls', 'cracks'" in caplog.text and "'segment crack', 'segment wall crack'" in caplog.text


def test_a_prompt_of_a_dataset_of_the_photos_concept_is_never_a_negative(caplog):
    # strips (concept taping) list "segment tape"; so does a dataset of another concept: never asked of the boxes' photos
    prompts = [["segment taping area"], ["segment tape", "segment taping area"], ["segment crack", "segment tape"]]
    with caplog.at_level(logging.WARNING, "drywallqa.data.prompted"):
        pairs = _negatives(prompts, ["taping", "taping", "cracks"])
    assert {text for own, text in pairs if own in (0, 1)} == {"segment crack"}
    assert {text for own, text in pairs if own == 2} == {"segment taping area"}
    assert "'segment tape'" in caplog.text


def test_datasets_of_distinct_prompts_keep_every_negative_and_no_warning(caplog):
    with caplog.at_level(logging.WARNING, "drywallqa.data.prompted"):
        pairs = _negatives([["segment crack"], ["segment taping area"]], None, n=2)
    assert set(pairs) == {(0, "segment taping area"), (1, "segment crack")} and not caplog.text


def test_datasets_that_share_all_prompts_have_no_negatives():
    images = np.zeros((2, 8, 8, 3), np.uint8)
    ds = PromptedSegmentationDataset(images, np.ones((2, 8, 8), bool), [0, 1], [["segment crack"], ["segment crack"]],
                                     negative_ratio=1.0)
    assert len(ds) == 2


# ----------------------------------------------------------------- labels that draw nothing


def _photo(path, seed=0, size=64):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)).save(path)


def _coco_yaml(root, annotations, n=2, name="robust_boxes", label_shape="box"):
    """A dataset YAML ``root/<name>.yaml`` of one COCO split ``train`` of ``n`` 64x64 photos ``p<i>.jpg`` (ids 1..n)."""
    split = root / name / "train"
    for i in range(n):
        _photo(split / f"p{i}.jpg", i)
    images = [{"id": i + 1, "file_name": f"p{i}.jpg", "width": 64, "height": 64} for i in range(n)]
    (split / "_annotations.coco.json").write_text(json.dumps({"images": images, "annotations": annotations}))
    decl = root / f"{name}.yaml"
    decl.write_text(f"name: {name}\nfolder: {name}\nprompts: [segment taping area]\nlabel_shape: {label_shape}\n")
    return decl


@pytest.fixture
def registered():
    """Dataset names registered by the test (from YAML files), removed afterwards."""
    from drywallqa.data import registry

    before = set(registry.DATASETS.names())
    yield
    for name in set(registry.DATASETS.names()) - before:
        registry.DATASETS.remove(name)


@pytest.mark.parametrize("annotation, words", [
    ({"segmentation": [[10, 10, 10, 10, 10, 10]]}, "its polygon covers no pixel"),  # one point thrice
    ({"segmentation": [[1, 1, 5, 5, 9, 9]]}, "its polygon covers no pixel"),  # three points on one line
    ({"segmentation": [[70, 70, 90, 70, 90, 90]]}, "its polygon covers no pixel"),  # all of it beside the image
    ({"bbox": [100, 100, 20, 20], "segmentation": []}, "lies outside the 64x64 image"),
    ({"bbox": [1e308, 1, 5, 5], "segmentation": []}, "far outside the image"),
    ({"bbox": [-5e9, 1, 5, 5], "segmentation": []}, "far outside the image"),
    ({"segmentation": {"size": [64, 64], "counts": [4096]}}, "its RLE marks no pixel"),
])
def test_an_annotation_that_draws_nothing_inside_the_image_is_a_named_problem(tmp_path, registered, annotation, words):
    from drywallqa.data.sample import load_split

    decl = _coco_yaml(tmp_path, [{"id": 7, "image_id": 1, **annotation}, {"id": 8, "image_id": 2, "bbox": [4, 4, 9, 9]}],
                      label_shape="region")
    samples, problems = load_split(str(decl), "train")
    assert len(samples) == 2 and not samples[0].load_mask().any() and samples[1].load_mask().sum() == 81
    assert [str(p) for p in problems if "annotation 7" in str(p) and words in str(p)], problems
    assert not [p for p in problems if "annotation 8" in str(p)]


@pytest.mark.parametrize("x", [3e9, -5e9])
def test_refine_masks_drops_a_box_far_outside_the_photo(tmp_path, registered, x):
    """A box at x=3e9 beside a usable one crashed the preview (cv2.error in rectangle); it is a named problem."""
    from drywallqa.data.coco import box_mask
    from drywallqa.data.refine import refine_box_masks

    class Refined:  # every box "refined" (as its box): the preview draws them all
        def describe(self):
            return {"with": "boxes"}

        def __call__(self, image, boxes):
            return [box_mask([b], *image.shape[:2]) for b in boxes], ["refined"] * len(boxes)

    decl = _coco_yaml(tmp_path, [{"id": 1, "image_id": 1, "bbox": [x, 1, 5, 5], "segmentation": []},
                                 {"id": 2, "image_id": 1, "bbox": [5, 5, 40, 40], "segmentation": []}], n=1)
    report = refine_box_masks(str(decl), tmp_path / "out", progress=False, refiner=Refined())
    counts = report["splits"]["train"]
    assert counts["boxes"] == 1 and any("annotation 1" in p and "far outside" in p for p in counts["problems"])
    assert (tmp_path / "out" / "preview.png").is_file()


def test_box_outlines_of_any_size_are_drawn():
    from drywallqa.data.refine import _outlines

    drawn = _outlines(np.zeros((64, 64, 3), np.uint8), [[3e9, 1, 5, 5], [-5e9, 1, 5, 5], [5, 5, 10, 10]])
    assert drawn[5, 5:15].any()


# ----------------------------------------------------------------- refine-masks --out


def _refine_cli(decl, out, *more):
    return CliRunner().invoke(app, ["data", "refine-masks", "-d", str(decl), "--with", "edges", "--out", str(out), *more])


_says = says  # (conftest)


@pytest.fixture
def no_edges(monkeypatch):
    """``--with edges`` without HED weights: every box stays a box."""
    from drywallqa.data import refine
    from drywallqa.data.coco import box_mask

    class Boxes:
        def describe(self):
            return {"with": "edges"}

        def __call__(self, image, boxes):
            return [box_mask([b], *image.shape[:2]) for b in boxes], ["fell_back"] * len(boxes)

    monkeypatch.setitem(refine.BOX_REFINERS._items, "edges", Boxes)


def test_refine_masks_refuses_an_out_folder_of_other_files(tmp_path, registered, no_edges):
    """--out holding train/p0.jpg (another photo) and its mask: the photo was unlinked, replaced by a link and the mask
    written over, without a word."""
    decl = _coco_yaml(tmp_path, [{"id": 1, "image_id": 1, "bbox": [4, 4, 20, 20], "segmentation": []}])
    out = tmp_path / "out"
    _photo(out / "train" / "p0.jpg", seed=9)
    (out / "train" / "_masks").mkdir()
    Image.fromarray(np.full((64, 64), 7, np.uint8)).save(out / "train" / "_masks" / "p0.png")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    res = _refine_cli(decl, out)
    assert res.exit_code == 2 and _says(res.output, "holds other files", "give a new or empty folder"), res.output
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before and not (out / "progress.jsonl").exists()


def test_refine_masks_refuses_a_photo_it_did_not_write_in_its_own_earlier_output(tmp_path, registered, no_edges):
    decl = _coco_yaml(tmp_path, [{"id": 1, "image_id": 1, "bbox": [4, 4, 20, 20], "segmentation": []}])
    out = tmp_path / "out"
    assert _refine_cli(decl, out).exit_code == 0
    assert _refine_cli(decl, out).exit_code == 0  # into its own earlier output: fine
    photo = out / "train" / "p0.jpg"
    photo.unlink()
    photo.write_bytes((tmp_path / "robust_boxes" / "train" / "p0.jpg").read_bytes())  # a copy (no links possible)
    assert _refine_cli(decl, out).exit_code == 0 and not photo.is_symlink()
    photo.write_bytes((tmp_path / "robust_boxes" / "train" / "p1.jpg").read_bytes())  # another photo under its name
    res = _refine_cli(decl, out)
    assert res.exit_code == 2 and _says(res.output, f"{photo} is not the photo"), res.output
    assert photo.read_bytes() == (tmp_path / "robust_boxes" / "train" / "p1.jpg").read_bytes()


@pytest.mark.parametrize("below", ["", "x"])
def test_refine_masks_to_a_file_is_a_clean_error(tmp_path, registered, no_edges, below):
    decl = _coco_yaml(tmp_path, [])
    (tmp_path / "file").write_text("mine")
    res = _refine_cli(decl, tmp_path / "file" / below if below else tmp_path / "file")
    assert res.exit_code == 2 and _says(res.output, "lies below a file" if below else "is a file"), res.output
    assert (tmp_path / "file").read_text() == "mine"


def test_refine_masks_with_no_split_named_refines_none(tmp_path, registered, no_edges):
    from drywallqa.data.refine import check_refine_request

    decl = _coco_yaml(tmp_path, [])
    res = _refine_cli(decl, tmp_path / "out", "--split", ",,,")
    assert res.exit_code == 2 and _says(res.output, "names no split") and not (tmp_path / "out").exists(), res.output
    with pytest.raises(ValueError, match="no split"):
        check_refine_request("robust_boxes", [])
    assert check_refine_request("robust_boxes", None) == ["train"]


# ----------------------------------------------------------------- data split


def _split_cli(decl, out, *more):
    return CliRunner().invoke(app, ["data", "split", "-d", str(decl), "--out", str(out), *more])


@pytest.mark.parametrize("below", ["", "x"])
def test_data_split_to_a_file_is_a_clean_error_before_the_work(tmp_path, registered, monkeypatch, below):
    from drywallqa.data import grouping

    decl = _coco_yaml(tmp_path, [], n=4)
    monkeypatch.setattr(grouping, "near_duplicate_pairs", lambda *a, **k: pytest.fail("thumbnails computed"))
    (tmp_path / "file").write_text("mine")
    res = _split_cli(decl, tmp_path / "file" / below if below else tmp_path / "file")
    assert res.exit_code == 2 and _says(res.output, "lies below a file" if below else "is a file"), res.output
    assert (tmp_path / "file").read_text() == "mine"


def test_data_split_refuses_to_replace_a_manifest_without_overwrite(tmp_path, registered):
    decl = _coco_yaml(tmp_path, [], n=4)
    out = tmp_path / "splits"
    assert _split_cli(decl, out).exit_code == 0
    manifest = out / "robust_boxes.json"
    before = manifest.read_text()
    res = _split_cli(decl, out, "--seed", "3")
    assert res.exit_code == 2 and _says(res.output, "robust_boxes.json exists", "--overwrite"), res.output
    assert manifest.read_text() == before
    res = _split_cli(decl, out, "--seed", "3", "--overwrite")
    assert res.exit_code == 0 and "(replaced)" in res.output and json.loads(manifest.read_text())["seed"] == 3


def test_data_split_refuses_a_manifest_with_no_train_photo(tmp_path, registered):
    decl = _coco_yaml(tmp_path, [], n=4)
    res = _split_cli(decl, tmp_path / "splits", "--val", "0.99", "--test", "0")
    assert res.exit_code == 2 and _says(res.output, "none of its 4 photos in train"), res.output
    assert not (tmp_path / "splits" / "robust_boxes.json").exists()


@pytest.mark.parametrize("seed", ["-1", "99999999999999999999"])
def test_data_split_refuses_a_seed_numpy_cannot_take(tmp_path, registered, seed):
    """A review: --seed -1 and a seed past 2**32 - 1 were taken and written into the manifest (train refuses them)."""
    decl = _coco_yaml(tmp_path, [], n=4)
    res = _split_cli(decl, tmp_path / "splits", "--seed", seed)
    assert res.exit_code == 2 and _says(res.output, "--seed: must be a whole number in [0, 4294967295]"), res.output
    assert not (tmp_path / "splits" / "robust_boxes.json").exists()


# ----------------------------------------------------------------- mask folders, dataset lists


def _mask_folder_yaml(root, photos=("a", "b"), name="robust_masks"):
    """A dataset YAML of one mask-folder split ``train``: 64x64 photos ``<stem>.jpg`` with 0/255 masks."""
    split = root / name / "train"
    (split / "_masks").mkdir(parents=True)
    for i, stem in enumerate(photos):
        _photo(split / f"{stem}.jpg", i)
        mask = np.zeros((64, 64), np.uint8)
        mask[10:30, 10:30] = 255
        Image.fromarray(mask).save(split / "_masks" / f"{stem}.png")
    decl = root / f"{name}.yaml"
    decl.write_text(f"name: {name}\nfolder: {name}\nprompts: [segment crack]\n")
    return decl, split


def test_the_mask_folder_reader_names_masks_of_no_photo_and_links_to_nothing(tmp_path, registered):
    from drywallqa.data.sample import load_split

    decl, split = _mask_folder_yaml(tmp_path, ("a", "b", "c"))
    (split / "b.jpg").unlink()  # its mask stays: a mask of no photo
    (split / "_masks" / "d.jpg").write_bytes((split / "_masks" / "a.png").read_bytes())  # no mask by its name
    (split / "c.jpg").rename(tmp_path / "moved.jpg")
    (split / "c.jpg").symlink_to(tmp_path / "gone.jpg")  # a refined dataset's link, its photo moved away
    samples, problems = load_split(str(decl), "train")
    assert [s.image_path.name for s in samples] == ["a.jpg"]
    said = {str(p) for p in problems}
    assert any(p.startswith(str(split / "_masks" / "b.png")) and "no photo" in p for p in said), said
    assert any(p.startswith(str(split / "_masks" / "d.jpg")) and "not a mask by its name" in p for p in said), said
    assert any(p.startswith(str(split / "c.jpg")) and "does not exist" in p for p in said), said
    assert not any(p.startswith(str(split / "_masks" / "c.png")) for p in said)  # the link named, not its mask again
    assert len(problems) == 3


def test_a_mask_of_many_grey_levels_is_named_and_read_as_before(tmp_path, registered, caplog):
    from drywallqa.data import sample as sample_module
    from drywallqa.data.sample import load_split
    from drywallqa.data.stats import dataset_stats

    decl, split = _mask_folder_yaml(tmp_path, ("binary", "ones", "gradient", "jpeg"))
    Image.fromarray(np.asarray(Image.open(split / "_masks" / "ones.png")) // 255).save(split / "_masks" / "ones.png")
    Image.fromarray(np.tile(np.arange(256, dtype=np.uint8)[::4], (64, 1))).save(split / "_masks" / "gradient.png")
    Image.open(split / "_masks" / "jpeg.png").save(split / "_masks" / "jpeg.png", format="JPEG", quality=50)
    samples, problems = load_split(str(decl), "train")
    masks = {s.image_path.stem: s for s in samples}
    with caplog.at_level(logging.WARNING, "drywallqa.data.sample"):
        read = {k: s.load_mask() for k, s in masks.items()}
        again = masks["gradient"].load_mask()  # warned once per file
    assert read["binary"].sum() == read["ones"].sum() == 400 and read["jpeg"].sum() >= 400
    assert read["gradient"].sum() == 64 * 63 and np.array_equal(again, read["gradient"])  # any value > 0, as before
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 2 and all("grey levels" in w for w in warned)
    assert {w.split(":")[0] for w in warned} == {str(split / "_masks" / "gradient.png"), str(split / "_masks" / "jpeg.png")}
    sample_module._MASK_CHECKS.clear()
    said = [str(p) for p in dataset_stats(str(decl), progress=False)["problems"]]
    assert len(said) == 2 and all("grey levels" in p and "save it as 0/255" in p for p in said), said


def test_a_dataset_listed_twice_is_refused_naming_it(tmp_path, registered, monkeypatch):
    """The training config refused one dataset listed twice, every other command read it once with a warning (a
    mistyped second dataset scored nothing of it, said in a line easily missed): one rule, a clean error naming it."""
    from drywallqa.cli import evaluation
    from drywallqa.data.registry import DatasetListedTwice, datasets_by_concept, unique_datasets
    from drywallqa.engine.config import TrainConfig
    from drywallqa.engine.trainer import Trainer

    decl, _ = _mask_folder_yaml(tmp_path)
    assert unique_datasets([str(decl), "cracks"]) == ["robust_masks", "cracks"]
    again = f"{tmp_path}/./{decl.name}"  # the same file under another path
    with pytest.raises(DatasetListedTwice, match=re.escape(f"dataset 'robust_masks' is listed twice ('{decl}' and "
                                                           f"'{again}')")):
        unique_datasets([str(decl), "cracks", again])
    with pytest.raises(DatasetListedTwice, match=r"^dataset 'cracks' is listed twice: name each dataset once$"):
        datasets_by_concept(["cracks", "cracks"])
    runner = CliRunner()
    res = runner.invoke(app, ["data", "stats", "-d", str(decl), "-d", "robust_masks", "--json", str(tmp_path / "s.json")])
    assert res.exit_code == 2 and "'robust_masks' is listed twice" in " ".join(res.output.replace("│", " ").split())
    assert not (tmp_path / "s.json").exists()
    monkeypatch.setattr(evaluation, "load_segmenter", lambda *a, **k: pytest.fail("a model loaded first"))
    res = runner.invoke(app, ["evaluate", "-d", "cracks", "-d", "taping", "-d", "cracks", "--out", str(tmp_path / "e")])
    assert res.exit_code == 2 and "'cracks' is listed twice" in res.output and "Traceback" not in res.output
    with pytest.raises(ValueError, match=r"data.datasets: dataset 'cracks' is listed twice.*data.dataset_repeats"):
        TrainConfig().with_overrides(["data.datasets=[cracks,taping,cracks]"]).validate()
    config = TrainConfig().with_overrides([f"data.datasets=[{decl},robust_masks]"]).validate()  # two entries as written
    with pytest.raises(ValueError, match=r"data.datasets: dataset 'robust_masks' is listed twice .*and 'robust_masks'"):
        Trainer(config, progress=False)  # read once with a warning, as the same entry twice was refused


def test_a_clean_mask_is_checked_for_grey_levels_once(tmp_path, registered, monkeypatch):
    """The check re-opened and scanned every clean mask on every read (evaluate, validation passes)."""
    from drywallqa.data import sample as sample_module
    from drywallqa.data.sample import load_split

    decl, _ = _mask_folder_yaml(tmp_path)
    checked = []
    monkeypatch.setattr(sample_module, "soft_mask_problem", lambda path: checked.append(path))
    samples, _ = load_split(str(decl), "train")
    for _ in range(3):
        for s in samples:
            s.load_mask()
    assert len(checked) == len(samples) == 2
