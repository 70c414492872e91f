"""What names a photo where drywallqa asks "the same photo?" (which datasets label it): the trainer's train and val
photos, the evaluator's photos_held and its cross-prompt check. Each names a photo by its file's resolved path
(``os.path.realpath``, a str): links followed, a folder that is a link (one dataset's split folders links to another's),
a photo that is a link to a file elsewhere (a DVC cache's), and a ``..`` after a link taken where the link leads (not
by name: ``lexical_path``), so that one file is one photo however it is reached; and the evaluator's two names meet."""

import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from drywallqa.data import registry
from drywallqa.data.grouping import load_all_splits, make_group_split
from drywallqa.data.registry import DatasetConfig, SplitSource
from drywallqa.utils.paths import lexical_path
from test_photos_labelled_by_datasets import _coco

NAMES = ("h232_tape", "h232_joint", "h232_pointer")


@pytest.fixture
def linked(tmp_path):
    """Three datasets, each of its own concept, of one set of photos in ``real/``: h232_tape's own; h232_joint's split
    folders links to h232_tape's; h232_pointer's photos links to h232_tape's files (its annotations a copy). The
    datasets folder is given as ``via/lnk/..`` with ``via/lnk`` a link to ``real/tape``: ``real`` where the link leads,
    ``via`` by name. Returns ``(datasets_dir, real)``."""
    rng = np.random.default_rng(0)
    real = tmp_path / "real"
    for split, n in (("train", 8), ("valid", 2)):
        _coco(real / "tape" / split, [f"t{split[0]}{i}" for i in range(n)], ["tape"], rng)
    (real / "joints").mkdir()
    for split in ("train", "valid"):
        os.symlink(real / "tape" / split, real / "joints" / split)
        (real / "pointers" / split).mkdir(parents=True)
        for f in (real / "tape" / split).iterdir():
            if f.suffix == ".jpg":
                os.symlink(f, real / "pointers" / split / f.name)
            else:
                shutil.copy(f, real / "pointers" / split / f.name)
    (tmp_path / "via").mkdir()
    os.symlink(real / "tape", tmp_path / "via" / "lnk")
    datasets_dir = str(tmp_path / "via" / "lnk" / "..")
    assert os.path.realpath(datasets_dir) == str(real) and lexical_path(datasets_dir) == tmp_path / "via"
    splits = {"train": SplitSource("coco", "train"), "valid": SplitSource("coco", "valid")}
    for c in (DatasetConfig("h232_tape", "tape", ("segment tape",), splits),
              DatasetConfig("h232_joint", "joints", ("segment joint",), splits, manifest="h232_tape"),
              DatasetConfig("h232_pointer", "pointers", ("segment pointer",), splits, manifest="h232_tape")):
        registry.register_dataset(c)
    make_group_split("h232_tape", real, {"train": 0.5, "val": 0.25, "test": 0.25},
                     seed=0).to_json(tmp_path / "splits" / "h232_tape.json")
    yield datasets_dir, real
    for name in NAMES:
        registry.DATASETS.remove(name)


def _named_by_the_file(photos, real) -> bool:
    """Every photo a str naming one of h232_tape's files, as ``os.path.realpath`` names it."""
    tape = str(real / "tape") + os.sep
    return bool(photos) and all(type(p) is str and p.startswith(tape) and p == os.path.realpath(p) for p in photos)


def test_the_trainer_names_each_photo_by_its_files_resolved_path(linked, tmp_path, tiny_kwargs, monkeypatch):
    import torch

    from drywallqa.engine.config import TrainConfig
    from drywallqa.engine.trainer import Trainer
    from drywallqa.models.base import PromptedSegmentationModel

    monkeypatch.setattr(PromptedSegmentationModel, "prompt_embeddings",
                        lambda self, prompts, encoder: torch.zeros(len(prompts), self.config.text_dim))
    datasets_dir, real = linked
    cfg = TrainConfig.from_dict({
        "model_config": {**tiny_kwargs, "text_dim": 384},
        "data": {"datasets": list(NAMES), "datasets_dir": datasets_dir, "splits_dir": str(tmp_path / "splits"),
                 "cache_size": 72, "cache_dir": None},
        "output_dir": str(tmp_path / "run"), "bf16": False, "device": "cpu"})
    trainer = Trainer(cfg, progress=False)
    trainer.build_data()
    assert _named_by_the_file(trainer.train_photos, real) and _named_by_the_file(trainer.val_photos, real)
    held = trainer.validator.held
    assert held["h232_tape"] == held["h232_joint"] == held["h232_pointer"]  # one file: one photo, however reached
    assert len(held["h232_tape"]) == len(set(trainer.train_photos) | set(trainer.val_photos))
    # each training photo: labelled by the three concepts
    assert trainer.train_set._photo_concepts == {i: set(NAMES) for i in range(len(trainer.train_photos))}


def test_photos_held_names_each_photo_by_its_files_resolved_path(linked):
    from drywallqa.engine.evaluator import photos_held

    datasets_dir, real = linked
    held = photos_held(["h232_tape", "h232_joint"], datasets_dir)
    samples = load_all_splits("h232_joint", datasets_dir)[0]
    assert all(str(s.image_path).startswith(datasets_dir) for s in samples)  # read through the links
    assert held["h232_joint"] == frozenset(os.path.realpath(s.image_path) for s in samples) == held["h232_tape"]
    assert _named_by_the_file(held["h232_joint"], real) and len(held["h232_joint"]) == 10
    assert held["h232_joint"].isdisjoint({str(lexical_path(s.image_path)) for s in samples})


def test_the_cross_prompt_check_names_a_photo_as_photos_held_does(linked):
    from drywallqa.engine.evaluator import EvalSet, evaluate_set, photos_held
    from drywallqa.engine.segmenter import EncodedImage, SegmentationResult
    from drywallqa.engine.segmenter import Segmenter as Base

    class Blank(Base):
        def decode(self, encoded: EncodedImage, prompts, threshold=None, label_shape=None):
            z = np.zeros(encoded.rgb.shape[:2], np.float32)
            return SegmentationResult(masks={p: z > 0 for p in prompts}, probabilities={p: z for p in prompts})

    datasets_dir, _ = linked

    def tape_fraction(dataset, held):
        """The cross-prompt check's mean foreground fraction of "segment tape" on ``dataset``'s photos (NaN: not
        asked on any, each held by h232_tape)."""
        samples = load_all_splits(dataset, datasets_dir)[0]
        result = evaluate_set(Blank(), EvalSet("all photos", dataset, samples), [dataset, "h232_tape"], progress=False,
                              held=held)
        return {r["prompt"]: r["mean_foreground_fraction"] for r in result.cross_rows}["segment tape"]

    joints = load_all_splits("h232_joint", datasets_dir)[0]
    held = photos_held(["h232_tape", "h232_joint"], datasets_dir)
    assert math.isnan(tape_fraction("h232_joint", held))  # photos_held's names are the check's
    assert math.isnan(tape_fraction("h232_pointer", {"h232_tape": held["h232_tape"]}))  # a link to a file: that file
    assert tape_fraction("h232_joint", None) == 0.0
    # not the photo: its path as read, its path by name, a Path (the names are str, compared as given)
    for names in ({str(s.image_path) for s in joints}, {str(lexical_path(s.image_path)) for s in joints},
                  {Path(os.path.realpath(s.image_path)) for s in joints}):
        assert tape_fraction("h232_joint", {"h232_tape": frozenset(names)}) == 0.0


def test_photo_key_is_the_resolved_path_and_agrees_with_resolved_on_every_readable_photo(linked):
    """The one name (data/negatives.photo_key) the three places above ask; the ``all photos`` set's once-each keeps
    utils.paths.resolved, which names every photo that can be read alike (they part only on a loop of links)."""
    from drywallqa.data.negatives import photo_key
    from drywallqa.utils.paths import resolved

    datasets_dir, real = linked
    for dataset in NAMES:
        for s in load_all_splits(dataset, datasets_dir)[0]:
            key = photo_key(s.image_path)
            assert type(key) is str and key == os.path.realpath(s.image_path) == photo_key(str(s.image_path))
            assert key == str(resolved(s.image_path)) and _named_by_the_file([key], real)
    loop = real / "loop.jpg"
    os.symlink(loop, loop)
    assert photo_key(loop) == os.path.realpath(loop)  # no error: realpath goes on where resolve() stops
