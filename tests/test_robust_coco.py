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
              {"id": 2, "file_name": "other.jpg", "width": 32},                       # no height
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
    for needle in ("small.jpg: declared 32x24 in the COCO file, but the file is 20x24", "KeyError: 'height'",
                   "outside the split folder", "annotation 11", "annotation 12", "annotation 13", "'not an annotation' unusable"):
        assert needle in text, (needle, text)
    assert "passwd" not in " ".join(str(s.image_path) for s in samples)
    assert samples[0].load_mask().sum() == 48  # the good box; the broken annotations add nothing
    out = tmp_path / "eval"
    res = CliRunner().invoke(app, ["evaluate", "--model-path", str(tiny_model_dir), "-d", str(path), "--splits", "published",
                                   "--speed-images", "0", "--out", str(out)])
    assert res.exit_code == 0, res.output
    report = json.loads((out / "report.json").read_text())
    assert report["metrics"][0]["images"] == 1


def test_a_split_with_nothing_to_score_is_an_error(tiny_model_dir, tmp_path, cleanup):
    path = _export(tmp_path, [], [], raw="{broken json")
    res = CliRunner().invoke(app, ["evaluate", "--model-path", str(tiny_model_dir), "-d", str(path), "--splits", "published",
                                   "--speed-images", "0", "--out", str(tmp_path / "eval")])
    assert res.exit_code == 1 and "no image could be read" in res.output and "_annotations.coco.json" in res.output
    assert not (tmp_path / "eval" / "report.json").exists()


def test_a_label_of_another_size_than_its_image_is_a_named_failure(tiny_model_dir, tmp_path, cleanup):
    from drywallqa import Segmenter
    from drywallqa.engine.evaluator import EvalSet, evaluate_set

    # a uniformly shrunk copy is read (packed training copies are), but scoring it needs the sizes to agree
    path = _export(tmp_path, [GOOD, {"id": 1, "file_name": "small.jpg", "height": 48, "width": 40}],
                   [{"id": 10, "image_id": 1, "bbox": BOX, "segmentation": []}])
    samples, _ = load_split(registry.get_dataset_config(str(path)), "valid")
    assert [s.image_path.name for s in samples] == ["good.jpg", "small.jpg"]
    result = evaluate_set(Segmenter.load(tiny_model_dir), EvalSet("published valid", "faulty", samples), ["faulty"],
                          progress=False)
    assert len(result.per_image) == 1 and len(result.failures) == 1
    assert "small.jpg" in result.failures[0] and "20x24" in result.failures[0] and "40x48" in result.failures[0]


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
    ([dict(GOOD, file_name="go\x00od.jpg"), GOOD], [A], "embedded null byte"),
    ([dict(GOOD, file_name="a" * 300 + ".jpg"), GOOD], [A], "File name too long"),
    ([GOOD], [dict(A, segmentation={"size": [24, 32], "counts": [-5, 10]}), dict(A, id=11)], "RLE runs"),
    ([GOOD, dict(GOOD, file_name="other.jpg")], [A], "used by an earlier entry"),
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
