"""h234: a photo file of one dataset that is a link to another dataset's photo file is a photo both hold at evaluation
as at training; ship / calibrate without -d resolve the run's datasets against the run's own datasets folder; a run's
best/ reached by ``.`` or by a link is that run's."""

import math
import os

import numpy as np

from drywallqa.data.grouping import load_all_splits
from test_h232_photo_key import linked  # noqa: F401  (the fixture)


# ------------------------------------------------------------------ 1. engine/evaluator.photos_held: links to files
def test_photos_held_finds_a_dataset_whose_photo_files_link_to_another_datasets(linked):  # noqa: F811
    """h232_pointer's split folders are folders of its own, each photo a link to a file of h232_tape's (a DVC cache's
    way): the trainer names each one photo of both (test_h232_photo_key), so evaluation asks neither's prompt on it as
    a negative; photos_held looked at split folders alone and returned {}."""
    from drywallqa.engine.evaluator import EvalSet, evaluate_set, photos_held
    from drywallqa.engine.segmenter import EncodedImage, SegmentationResult
    from drywallqa.engine.segmenter import Segmenter as Base

    datasets_dir, real = linked
    held = photos_held(["h232_tape", "h232_pointer"], datasets_dir)
    assert sorted(held) == ["h232_pointer", "h232_tape"]
    assert held["h232_pointer"] == held["h232_tape"] and len(held["h232_tape"]) == 10
    assert all(p.startswith(str(real / "tape") + os.sep) for p in held["h232_pointer"])
    assert sorted(photos_held(["h232_pointer", "h232_tape"], datasets_dir)) == ["h232_pointer", "h232_tape"]

    class Blank(Base):
        def decode(self, encoded: EncodedImage, prompts, threshold=None, label_shape=None):
            z = np.zeros(encoded.rgb.shape[:2], np.float32)
            return SegmentationResult(masks={p: z > 0 for p in prompts}, probabilities={p: z for p in prompts})

    samples = load_all_splits("h232_pointer", datasets_dir)[0]
    result = evaluate_set(Blank(), EvalSet("all photos", "h232_pointer", samples), ["h232_pointer", "h232_tape"],
                          progress=False, held=held)
    assert math.isnan({r["prompt"]: r["mean_foreground_fraction"] for r in result.cross_rows}["segment tape"])


def test_photos_held_still_reads_no_dataset_whose_files_link_nowhere_shared(linked, tmp_path, monkeypatch):  # noqa: F811
    """A copy of h232_tape's photos (files of its own, no link) shares no photo: neither is read."""
    import shutil

    from drywallqa.data import registry
    from drywallqa.data.registry import DatasetConfig, SplitSource
    from drywallqa.engine import evaluator

    datasets_dir, real = linked
    shutil.copytree(real / "tape", real / "copies")
    splits = {"train": SplitSource("coco", "train"), "valid": SplitSource("coco", "valid")}
    registry.register_dataset(DatasetConfig("h234_copy", "copies", ("segment copy",), splits))
    read = []
    monkeypatch.setattr(evaluator, "load_all_splits", lambda d, datasets_dir=None: (read.append(d), ([], []))[1])
    try:
        assert evaluator.photos_held(["h232_tape", "h234_copy"], datasets_dir) == {}
        assert read == []
        evaluator.photos_held(["h234_copy", "h232_pointer", "h232_tape"], datasets_dir)
        assert sorted(read) == ["h232_pointer", "h232_tape"]
    finally:
        registry.DATASETS.remove("h234_copy")
