"""Robustness, class 7: faults in a COCO export are problems named per file, the rest is read and scored;
a split with nothing to score is an error; file names stay inside the dataset folder."""

import json

import numpy as np
import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from drywallqa.cli import app
from drywallqa.data import registry
from drywallqa.data.coco import rasterize_annotations
from drywallqa.data.sample import load_split


def _export(tmp_path, images, annotations, raw=None):
    """A one-split (valid) COCO dataset declared by a YAML file; returns the YAML's path."""
    valid = tmp_path / "ds" / "valid"
    valid.mkdir(parents=True, exist_ok=True)
    for name, (w, h) in {"good.jpg": (32, 24), "other.jpg": (32, 24), "small.jpg": (20, 24)}.items():
        Image.fromarray(np.full((h, w, 3), 120, np.uint8)).save(valid / name)
    (valid / "_annotations.coco.json").write_text(raw if raw is not None else json.dumps({"images": images, "annotations": annotations}))
    path = tmp_path / "faulty.yaml"
    path.write_text(yaml.safe_dump({"name": "faulty", "folder": str(tmp_path / "ds"), "prompts": ["segment crack"],
                                    "splits": {"valid": {"kind": "coco", "folder": "valid"}}}))
    return path


@pytest.fixture
def cleanup():
    yield
    if "faulty" in registry.DATASETS:
        registry.DATASETS.remove("faulty")


BOX = [2, 2, 8, 6]
GOOD = {"id": 0, "file_name": "good.jpg", "height": 24, "width": 32}


def test_every_fault_is_named_and_the_rest_is_scored(tiny_model_dir, tmp_path, cleanup):
    images = [GOOD,
              {"id": 1, "file_name": "small.jpg", "height": 24, "width": 32},        # declared size is not the file's
              {"id": 2, "file_name": "other.jpg", "height": -24, "width": 32},        # a negative height (none is read
              # from the file: many tools omit it)
              {"id": 3, "file_name": "../../../../etc/passwd", "height": 24, "width": 32},  # outside the folder
              {"id": 4, "file_name": "other.jpg", "height": "x", "width": 32}]
    anns = [{"id": 10, "image_id": 0, "bbox": BOX, "segmentation": []},
            {"id": 11, "image_id": 0, "bbox": BOX, "segmentation": {"size": [5, 5], "counts": "abc"}},  # RLE of another size
            {"id": 12, "image_id": 0, "bbox": ["2", "2", "8", "6"], "segmentation": [["1", "2", "3", "4", "5", "6"]]},
            {"id": 13, "image_id": 0, "bbox": BOX, "segmentation": "polygon?"},
            "not an annotation"]
    path = _export(tmp_path, images, anns)
    samples, problems = load_split(registry.get_dataset_config(str(path)), "valid")
    assert [s.image_path.name for s in samples] == ["good.jpg"]
    text = "\n".join(map(str, problems))
    for needle in ("small.jpg: declared 32x24 in the COCO file, but the file is 20x24", "height, width positive",
                   "outside the split folder", "annotation 11", "annotation 12", "annotation 13", "'not an annotation' unusable"):
        assert needle in text, (needle, text)
    assert "passwd" not in " ".join(str(s.image_path) for s in samples)
    assert samples[0].load_mask().sum() == 48  # the good box; the broken annotations add nothing
    out = tmp_path / "eval"
    res = CliRunner().invoke(app, ["evaluate", "--model-path", str(tiny_model_dir), "-d", str(path), "--splits", "published",
                                   "--speed-images", "0", "--out", str(out)])
    assert res.exit_code == 1 and "5 failures under" in res.output, res.output  # the reports name them
    report = json.loads((out / "report.json").read_text())
    assert report["metrics"][0]["images"] == 1 and len(report["failures"]) == 5


def test_a_split_with_nothing_to_score_is_an_error(tiny_model_dir, tmp_path, cleanup):
    path = _export(tmp_path, [], [], raw="{broken json")
    res = CliRunner().invoke(app, ["evaluate", "--model-path", str(tiny_model_dir), "-d", str(path), "--splits", "published",
                                   "--speed-images", "0", "--out", str(tmp_path / "eval")])
    assert res.exit_code == 1 and "no image could be read" in res.output and "_annotations.coco.json" in res.output
    assert not (tmp_path / "eval" / "report.json").exists()


def test_a_label_of_another_size_than_its_image_is_a_named_failure(tiny_model_dir, tmp_path, cleanup):
    from drywallqa import Segmenter
    from drywallqa.engine.evaluator import EvalSet, evaluate_set

    # a uniformly shrunk copy is read (packed training copies are), and scored with its label shrunk as training reads
    # it (tests/test_own_data_leftovers.py); a label of any other size than its photo's (the file replaced since it
    # was read) cannot be scored: a named failure
    import dataclasses

    path = _export(tmp_path, [GOOD, {"id": 1, "file_name": "small.jpg", "height": 48, "width": 40}],
                   [{"id": 10, "image_id": 1, "bbox": BOX, "segmentation": []}])
    samples, _ = load_split(registry.get_dataset_config(str(path)), "valid")
    assert [s.image_path.name for s in samples] == ["good.jpg", "small.jpg"]
    samples[1] = dataclasses.replace(samples[1], height=30)  # 40x30: of another shape than the 20x24 file
    result = evaluate_set(Segmenter.load(tiny_model_dir), EvalSet("published valid", "faulty", samples), ["faulty"],
                          progress=False)
    assert len(result.per_image) == 1 and len(result.failures) == 1
    assert "small.jpg" in result.failures[0] and "20x24" in result.failures[0] and "40x30" in result.failures[0]


def test_rasterize_never_raises_on_a_malformed_annotation():
    anns = [{"id": 1, "segmentation": [[0, 0, "a", 1, 2, 2]]}, {"id": 2, "segmentation": {"size": [3, 3]}},
            {"id": 3, "bbox": [0, 0, float("nan"), 2]}, {"id": 4, "segmentation": [[0, 0, 5, 0, 5, 5]], "bbox": BOX}]
    mask, problems = rasterize_annotations(anns, 8, 8, "f.jpg")
    assert [p.message.split(":")[0] for p in problems] == ["annotation 1", "annotation 2", "annotation 3"]
    assert mask.any()  # the good triangle


A = {"id": 10, "image_id": 0, "bbox": BOX, "segmentation": []}


@pytest.mark.parametrize("images, annotations, needle", [
    ([GOOD], [dict(A, segmentation=[[0, 0, 1e300, 0, 1e300, 1e300]])], "far outside the image"),  # crashed pycocotools
    ([dict(GOOD, height=float("inf")), dict(GOOD, id=1, file_name="other.jpg")], [A], "OverflowError"),
    ([dict(GOOD, height=240_000, width=320_000), dict(GOOD, id=1, file_name="other.jpg")], [A], "more than 64,000,000 pixels"),
    ([dict(GOOD, id=[0]), dict(GOOD, id=1, file_name="other.jpg")], [A], "unhashable"),
    ([GOOD], [dict(A, image_id=[0]), dict(A, id=11)], "unusable (TypeError)"),
    ([dict(GOOD, id=1, file_name="go\x00od.jpg"), GOOD], [A], "embedded null byte"),
    ([dict(GOOD, id=1, file_name="a" * 300 + ".jpg"), GOOD], [A], "File name too long"),
    ([GOOD], [dict(A, segmentation={"size": [24, 32], "counts": [-5, 10]}), dict(A, id=11)], "RLE runs"),
])
def test_malformed_entries_are_problems_not_crashes(tmp_path, cleanup, images, annotations, needle):
    path = _export(tmp_path, images, annotations)
    samples, problems = load_split(registry.get_dataset_config(str(path)), "valid")
    assert needle in "\n".join(map(str, problems))
    assert [s.image_path.name for s in samples] in (["good.jpg"], ["other.jpg"])
    assert samples[0].load_mask().sum() in (0, 48)


@pytest.mark.parametrize("raw", [b'{"images": [], "x": "\xff\xfe"}', b'{"images": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                                 b'{"images": {"a": 1}}', b'{}', b'[]'])
def test_an_unreadable_annotation_file_is_a_problem(tmp_path, cleanup, raw):
    path = _export(tmp_path, [], [], raw="")
    (tmp_path / "ds" / "valid" / "_annotations.coco.json").write_bytes(raw)
    samples, problems = load_split(registry.get_dataset_config(str(path)), "valid")
    assert samples == [] and "cannot read COCO annotations" in str(problems[0])
    if raw in (b'{}', b'[]'):  # said as what it is ("KeyError: 'images'" before)
        assert "no 'images' list: not a COCO annotation file" in str(problems[0])


# ------------------------------------------------------------------ what an adversarial sweep of 0.6.16's datasets found
def _problems(path) -> str:
    return "\n".join(map(str, load_split(registry.get_dataset_config(str(path)), "valid")[1]))


def test_a_compressed_rle_shorter_than_its_size_is_refused_not_decoded_from_unset_memory(tmp_path, cleanup):
    """pycocotools decodes a counts string that covers fewer pixels than ``size`` from memory it never set: the mask
    differed from run to run (0 or 2048 pixels), and the problem list with it."""
    from pycocotools import mask as mask_utils

    from drywallqa.data.coco import _compressed_runs

    short = dict(A, segmentation={"size": [24, 32], "counts": "PP2"}, iscrowd=1)  # 2048 px coded for 768
    whole = np.zeros((24, 32), np.uint8)
    whole[3:9, 4:20] = 1
    coded = mask_utils.encode(np.asfortranarray(whole))["counts"].decode()
    path = _export(tmp_path, [GOOD, dict(GOOD, id=1, file_name="other.jpg")],
                   [short, dict(A, id=11, image_id=1, segmentation={"size": [24, 32], "counts": coded})])
    samples, problems = load_split(registry.get_dataset_config(str(path)), "valid")
    assert "annotation 10" in "\n".join(map(str, problems)) and "RLE counts string must code" in "\n".join(map(str, problems))
    masks = {s.image_path.name: s.load_mask() for s in samples}
    assert not masks["good.jpg"].any() and np.array_equal(masks["other.jpg"], whole.astype(bool))  # decoded exactly
    assert _compressed_runs("PP2") == [2048] and _compressed_runs("P") is None and _compressed_runs("~") is None


def test_categories_of_a_coco_file_are_named_and_chosen(tmp_path, cleanup):
    """A stain class and a category id the file does not list were painted into the crack masks without a word."""
    stain = dict(A, id=11, bbox=[20, 10, 6, 6], category_id=2)
    crack = dict(A, category_id=1)
    raw = {"images": [GOOD], "categories": [{"id": 1, "name": "crack"}, {"id": 2, "name": "stain"}],
           "annotations": [crack, stain, dict(A, id=12, bbox=[10, 16, 4, 4], category_id=99)]}
    path = _export(tmp_path, [], [], raw=json.dumps(raw))
    said = _problems(path)
    assert "1 annotations name category ids no category entry has (99)" in said
    assert "annotations of 3 categories (crack: 1, stain: 1, 99: 1) are all read as one label" in said
    assert load_split(registry.get_dataset_config(str(path)), "valid")[0][0].load_mask().sum() == 48 + 36 + 16
    spec = yaml.safe_load(path.read_text())

    def declared(name, categories):  # the same photos under a name of their own (a name is registered once)
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump({**spec, "name": name, **(
            {"categories": categories} if categories is not None else {})}))
        try:
            config = registry.get_dataset_config(str(tmp_path / f"{name}.yaml"))
            return config, load_split(config, "valid")
        finally:
            if name in registry.DATASETS:
                registry.DATASETS.remove(name)

    config, (samples, problems) = declared("faulty_cracks", ["crack"])
    assert config.categories == ("crack",) and samples[0].load_mask().sum() == 48  # the crack alone
    assert not [p for p in problems if "read as one label" in p.message]
    # the annotation of a category id the file does not list is left out too, and said so (it was left without a word)
    assert [str(p) for p in problems if "category ids" in p.message] == [
        f"{tmp_path / 'ds' / 'valid' / '_annotations.coco.json'}: 1 annotations name category ids no category entry "
        "has (99); not read (the dataset's YAML reads only the categories ['crack'])"]
    numbered = {**raw, "categories": [{"id": 1, "name": 7}, {"id": 2, "name": "stain"}]}
    (tmp_path / "ds" / "valid" / "_annotations.coco.json").write_text(json.dumps(numbered))
    _, (samples, problems) = declared("faulty_sevens", [7])  # a number in the YAML and in the file: one name
    assert samples[0].load_mask().sum() == 48 and not [p for p in problems if "not categories" in p.message]
    for broken in (None, {"1": "crack"}):  # no list: a problem about them, the annotations read as one label
        (tmp_path / "ds" / "valid" / "_annotations.coco.json").write_text(json.dumps({**raw, "categories": broken}))
        _, (samples, problems) = declared(f"faulty_{type(broken).__name__}", None)
        assert len(samples) == 1 and samples[0].load_mask().sum() == 48 + 36 + 16
        assert (broken is None) == (not [p for p in problems if "'categories' is no list" in p.message])
    (tmp_path / "ds" / "valid" / "_annotations.coco.json").write_text(json.dumps(raw))
    _, (_, problems) = declared("faulty_holes", ["crack", "hole"])
    assert "categories ['hole'] of the dataset's YAML file are not categories of this file" in "\n".join(map(str, problems))
    with pytest.raises(ValueError, match="categories must list COCO category names"):
        declared("faulty_none", [])


def test_an_image_id_of_two_entries_labels_neither_and_a_file_without_annotations_is_named(tmp_path, cleanup):
    """The second entry of a repeated id was skipped, and its annotations painted on the first photo; a COCO file
    with no "annotations" key read every photo as unlabelled."""
    path = _export(tmp_path, [GOOD, dict(GOOD, file_name="other.jpg"), dict(GOOD, id=1, file_name="small.jpg",
                                                                           width=20)],
                   [A, dict(A, id=11, bbox=[20, 10, 6, 6])])
    samples, problems = load_split(registry.get_dataset_config(str(path)), "valid")
    assert [s.image_path.name for s in samples] == ["small.jpg"]
    assert "image id 0 is used by 2 image entries: which photo its annotations label cannot be told; all of them " \
           "skipped" in "\n".join(map(str, problems))
    path = _export(tmp_path, [], [], raw=json.dumps({"images": [GOOD]}))
    assert "no 'annotations' list: its 1 photos are read as showing nothing" in _problems(path)


def test_photos_a_coco_file_does_not_list_and_folders_of_a_mask_split_are_named(tmp_path, cleanup):
    path = _export(tmp_path, [GOOD], [A])
    assert "2 photos of " in _problems(path) and "are not listed in it and are not read (other.jpg, small.jpg)" in \
        _problems(path)
    ds = tmp_path / "masks" / "train"
    (ds / "_masks" / "more").mkdir(parents=True)
    (ds / "more").mkdir()
    Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(ds / "a.jpg")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(ds / "_masks" / "a.png")
    Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(ds / "more" / "b.jpg")
    spec = tmp_path / "m.yaml"
    spec.write_text(yaml.safe_dump({"name": "hunt_masks", "folder": str(tmp_path / "masks"), "prompts": ["segment crack"]}))
    samples, problems = load_split(registry.get_dataset_config(str(spec)), "train")
    said = "\n".join(map(str, problems))
    assert len(samples) == 1 and "more: a folder: a mask-folder split reads the photos of its own folder" in said
    assert "_masks/more: a folder: masks are read from _masks/ itself" in said


def test_two_splits_of_one_folder_are_refused(tmp_path, cleanup):
    _export(tmp_path, [GOOD], [A])
    spec = tmp_path / "twice.yaml"
    spec.write_text(yaml.safe_dump({"name": "twice", "folder": str(tmp_path / "ds"), "prompts": ["segment crack"],
                                    "splits": {"train": {"kind": "coco", "folder": "valid"},
                                               "valid": {"kind": "coco", "folder": "./valid"}}}))
    with pytest.raises(ValueError, match="splits 'train' and 'valid' are both the folder './valid'"):
        registry.get_dataset_config(str(spec))


def test_stats_of_a_split_listing_no_photo_says_so_not_see_why_below(tmp_path, cleanup):
    """"(its split folders hold none: see why below)", and nothing below: an export of no image has no problem."""
    path = _export(tmp_path, [], [])
    for name in ("good.jpg", "other.jpg", "small.jpg"):
        (tmp_path / "ds" / "valid" / name).unlink()
    res = CliRunner().invoke(app, ["data", "stats", "-d", str(path)], terminal_width=300)
    assert res.exit_code == 1 and "(its split folders, valid, list or hold no photo)" in res.output, res.output
    assert "see why below" not in res.output


def test_annotations_of_no_listed_category_are_named_where_the_yaml_chooses_categories(tmp_path, cleanup):
    """With categories: [crack] in the YAML, annotations of a category id the file does not list, or of none, were
    left out without a word: a photo labelled with a crack read as one showing nothing."""
    raw = {"images": [GOOD], "categories": [{"id": 1, "name": "crack"}],
           "annotations": [dict(A, id=21, category_id=7), dict(A, id=22)]}
    path = _export(tmp_path, [], [], raw=json.dumps(raw))
    spec = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**spec, "categories": ["crack"]}))
    samples, problems = load_split(registry.get_dataset_config(str(path)), "valid")
    assert len(samples) == 1 and not samples[0].load_mask().any()
    assert any("2 annotations name category ids no category entry has (7, None); not read" in str(p) for p in problems)


def test_an_annotation_file_with_a_byte_order_mark_is_read(tmp_path, cleanup):
    """A file saved by an editor that writes a UTF-8 byte-order mark was a whole split unread ("Unexpected UTF-8 BOM")."""
    raw = "\ufeff" + json.dumps({"images": [GOOD], "annotations": [{"id": 1, "image_id": 0, "bbox": BOX}]})
    path = _export(tmp_path, [], [], raw=raw)
    samples, problems = load_split(registry.get_dataset_config(str(path)), "valid")
    assert [s.image_path.name for s in samples] == ["good.jpg"], problems
    assert not [p for p in problems if "cannot read" in str(p)] and samples[0].load_mask().sum() == 48


def test_a_category_id_listed_under_two_names_is_named_and_either_name_chooses_it(tmp_path, cleanup):
    """categories [{id 1: crack}, {id 1: stain}]: the last name was taken without a word, so a YAML's categories:
    [crack] said "not categories of this file (it has: ['stain'])" and read every photo as empty."""
    raw = {"images": [GOOD], "categories": [{"id": 1, "name": "crack"}, {"id": 1, "name": "stain"}],
           "annotations": [dict(A, category_id=1)]}
    path = _export(tmp_path, [], [], raw=json.dumps(raw))
    spec = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**spec, "categories": ["crack"]}))
    samples, problems = load_split(registry.get_dataset_config(str(path)), "valid")
    said = "\n".join(map(str, problems))
    assert samples[0].load_mask().sum() == 48 and "not categories" not in said, said
    assert "category id 1 is listed under 2 names (crack, stain): its annotations are read as each of them" in said


def test_a_file_name_that_is_a_loop_of_links_is_named_not_a_traceback(tmp_path, cleanup):
    """An entry whose photo is a symbolic link to itself (or two linking each other) stopped every reader of the split
    with "RuntimeError: Symlink loop" while looking for the photos its file does not list; it is named and skipped."""
    import os

    path = _export(tmp_path, [GOOD, {"id": 1, "file_name": "loop.jpg", "height": 24, "width": 32},
                              {"id": 2, "file_name": "l1.jpg", "height": 24, "width": 32}], [dict(A, image_id=0)])
    valid = tmp_path / "ds" / "valid"
    os.symlink("loop.jpg", valid / "loop.jpg")
    os.symlink("l2.jpg", valid / "l1.jpg")
    os.symlink("l1.jpg", valid / "l2.jpg")
    samples, problems = load_split(registry.get_dataset_config(str(path)), "valid")
    assert [s.image_path.name for s in samples] == ["good.jpg"]
    said = "\n".join(map(str, problems))
    assert "loop.jpg: listed in the COCO file but is a link to loop.jpg" in said and "l1.jpg: listed in the COCO" in said


def test_a_category_name_with_spaces_around_it_can_be_chosen(tmp_path, cleanup):
    """A file's category "crack " (a space typed after it in the annotation tool) could be chosen by no YAML name: the
    YAML's names are stripped ("crack " read as "crack"), the file's were not; both are compared stripped."""
    raw = {"images": [GOOD], "categories": [{"id": 1, "name": "crack "}, {"id": 2, "name": "stain"}],
           "annotations": [dict(A, category_id=1), dict(A, id=11, bbox=[20, 10, 6, 6], category_id=2)]}
    path = _export(tmp_path, [], [], raw=json.dumps(raw))
    path.write_text(yaml.safe_dump({**yaml.safe_load(path.read_text()), "categories": ["crack"]}))
    samples, problems = load_split(registry.get_dataset_config(str(path)), "valid")
    assert samples[0].load_mask().sum() == 48 and not [p for p in problems if "not categories" in p.message]
