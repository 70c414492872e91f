"""Which datasets label a photo: what the three places that ask it answer (training's negative pairs, the trainer's
validation, the evaluator's cross-prompt check), pinned on tiny datasets sharing photos: one COCO export of cracks and
stains declared as two datasets by their categories, and two folders holding the same photo (a split folder that is a
link to another dataset's). A photo is named by its resolved path: the same file reached by two folders is one photo, a
copy of it (the same name and bytes) in a folder apart is another."""

import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from drywallqa.data import registry
from drywallqa.data.grouping import make_group_split
from drywallqa.data.prompted import PromptedSegmentationDataset
from drywallqa.data.registry import DatasetConfig, SplitSource

NAMES = ("h227_crack", "h227_stain", "h227_tape", "h227_joint", "h227_copy")


def _coco(folder, stems, categories, rng):
    """A COCO split in ``folder``: one photo per stem, one polygon per category on each."""
    folder.mkdir(parents=True)
    images, anns = [], []
    for i, stem in enumerate(stems):
        name = f"{stem}_jpg.rf.{i:032x}.jpg"
        Image.fromarray(rng.integers(90, 160, (48, 48, 3)).astype(np.uint8)).save(folder / name)
        images.append({"id": i, "file_name": name, "height": 48, "width": 48})
        for c, _ in enumerate(categories):
            x0 = 4 + 12 * c
            poly = [x0, 4, x0 + 8, 4, x0 + 8, 30, x0, 30]
            anns.append({"id": len(anns), "image_id": i, "category_id": c + 1, "bbox": [x0, 4, 8, 26],
                         "segmentation": [poly], "area": 208})
    cats = [{"id": c + 1, "name": n} for c, n in enumerate(categories)]
    (folder / "_annotations.coco.json").write_text(json.dumps({"images": images, "annotations": anns,
                                                               "categories": cats}))


@pytest.fixture
def shared_photos(tmp_path):
    """Five datasets under ``tmp_path/datasets``: h227_crack and h227_stain, one export's two categories; h227_tape, and
    h227_joint whose splits are links to h227_tape's folders; h227_copy, a copy of h227_tape's folders. Each of its own
    concept. Returns ``(datasets_dir, splits_dir)``."""
    rng = np.random.default_rng(0)
    root = tmp_path / "datasets"
    for split, n in (("train", 8), ("valid", 2)):
        _coco(root / "export" / split, [f"e{split[0]}{i}" for i in range(n)], ["crack", "stain"], rng)
        _coco(root / "tape" / split, [f"t{split[0]}{i}" for i in range(n)], ["tape"], rng)
    (root / "joints").mkdir()
    for split in ("train", "valid"):
        os.symlink(root / "tape" / split, root / "joints" / split)
    shutil.copytree(root / "tape", root / "copies")
    splits = {"train": SplitSource("coco", "train"), "valid": SplitSource("coco", "valid")}
    for c in (DatasetConfig("h227_crack", "export", ("segment crack",), splits, categories=("crack",)),
              DatasetConfig("h227_stain", "export", ("segment stain",), splits, categories=("stain",),
                            manifest="h227_crack"),
              DatasetConfig("h227_tape", "tape", ("segment tape",), splits),
              DatasetConfig("h227_joint", "joints", ("segment joint",), splits, manifest="h227_tape"),
              DatasetConfig("h227_copy", "copies", ("segment copy",), splits)):
        registry.register_dataset(c)
    splits_dir = tmp_path / "splits"
    for d in ("h227_crack", "h227_tape", "h227_copy"):
        make_group_split(d, root, {"train": 0.5, "val": 0.25, "test": 0.25}, seed=0).to_json(splits_dir / f"{d}.json")
    yield root, splits_dir
    for name in NAMES:
        registry.DATASETS.remove(name)


def _under(paths, folder) -> bool:
    return bool(paths) and all(p.startswith(os.path.realpath(folder) + os.sep) for p in paths)


# ------------------------------------------------------------------ data/prompted: image -> the concepts labelling it
def test_prompted_names_the_concepts_of_the_photos_datasets_of_several_concepts_label():
    images = np.zeros((9, 4, 4, 3), np.uint8)
    masks = np.zeros((9, 4, 4), bool)
    # datasets 0 (crack) and 1 (stain): one export (photos a, b); dataset 2 (stain too) labels c, which dataset 1
    # labels as well (one concept: not shared); dataset 3 (tape) labels d twice (a repeat: one dataset) and a
    ids = [0, 0, 1, 1, 1, 2, 3, 3, 3]
    photos = ["a", "b", "a", "b", "c", "c", "d", "d", "a"]
    ds = PromptedSegmentationDataset(images, masks, ids, [["segment crack"], ["segment stain"], ["segment blot"],
                                                          ["segment tape"]],
                                     concepts=["crack", "stain", "stain", "tape"], photos=photos)
    both, three = {"crack", "stain"}, {"crack", "stain", "tape"}
    assert ds._photo_concepts == {0: three, 1: both, 2: three, 3: both, 8: three}
    # the keys are compared as given (the trainer gives resolved paths): another spelling is another photo
    ds = PromptedSegmentationDataset(images[:2], masks[:2], [0, 1], [["segment crack"], ["segment stain"]],
                                     photos=["x/a.jpg", "x/./a.jpg"])
    assert ds._photo_concepts == {}
    # without photos, or each its own dataset's (default concepts: one per dataset), nothing is shared
    assert PromptedSegmentationDataset(images, masks, ids, [["c"], ["s"], ["b"], ["t"]])._photo_concepts == {}
    ds = PromptedSegmentationDataset(images[:3], masks[:3], [0, 1, 1], [["segment crack"], ["segment stain"]],
                                     photos=[1, 1, 2])
    assert ds._photo_concepts == {0: {0, 1}, 1: {0, 1}}
    with pytest.raises(ValueError, match="photos must name one photo per image"):
        PromptedSegmentationDataset(images, masks, ids, [["c"], ["s"], ["b"], ["t"]], photos=["a"])


# ------------------------------------------------------------------ engine/evaluator: dataset -> its photos, all splits
def test_evaluator_holds_every_photo_of_the_datasets_sharing_folders_with_one_of_another_concept(shared_photos):
    from drywallqa.engine.evaluator import photos_held

    root, _ = shared_photos
    held = photos_held(list(NAMES), root)
    assert sorted(held) == ["h227_crack", "h227_joint", "h227_stain", "h227_tape"]  # the copy's folder is apart
    assert all(isinstance(v, frozenset) for v in held.values())
    assert held["h227_crack"] == held["h227_stain"] and len(held["h227_crack"]) == 10
    assert _under(held["h227_crack"], root / "export")
    assert held["h227_joint"] == held["h227_tape"] and len(held["h227_tape"]) == 10
    assert _under(held["h227_joint"], root / "tape")  # resolved: read through joints/, named as in tape/
    assert not held["h227_tape"] & held["h227_crack"]
    assert photos_held(["h227_tape", "h227_copy", "h227_crack"], root) == {}
    assert photos_held(["h227_crack", "h227_crack"], root) == {}  # one dataset twice: one concept
    assert sorted(photos_held(["h227_tape", "h227_joint"], root)) == ["h227_joint", "h227_tape"]


# ------------------------------------------------------------------ engine/trainer: dataset -> its train and val photos
def test_the_trainer_holds_each_datasets_train_and_val_photos_and_names_the_shared_ones(shared_photos, tmp_path,
                                                                                         tiny_kwargs, monkeypatch):
    import torch

    from drywallqa.engine.config import TrainConfig
    from drywallqa.engine.trainer import Trainer
    from drywallqa.models.base import PromptedSegmentationModel

    monkeypatch.setattr(PromptedSegmentationModel, "prompt_embeddings",
                        lambda self, prompts, encoder: torch.zeros(len(prompts), self.config.text_dim))
    root, splits_dir = shared_photos
    cfg = TrainConfig.from_dict({
        "model_config": {**tiny_kwargs, "text_dim": 384},
        "data": {"datasets": list(NAMES), "datasets_dir": str(root), "splits_dir": str(splits_dir), "cache_size": 72,
                 "cache_dir": None},
        "output_dir": str(tmp_path / "run"), "bf16": False, "device": "cpu"})
    trainer = Trainer(cfg, progress=False)
    trainer.build_data()
    held = trainer.validator.held
    assert list(held) == list(NAMES)
    train_ids, val_ids = trainer.train_set.dataset_ids, trainer.val_ids
    for k, name in enumerate(NAMES):
        train = {p for p, i in zip(trainer.train_photos, train_ids) if i == k}
        val = {p for p, i in zip(trainer.val_photos, val_ids) if i == k}
        assert train and val and held[name] == train | val, name
    assert held["h227_crack"] == held["h227_stain"] and _under(held["h227_crack"], root / "export")
    assert held["h227_joint"] == held["h227_tape"] and _under(held["h227_joint"], root / "tape")
    assert _under(held["h227_copy"], root / "copies") and not held["h227_copy"] & held["h227_tape"]
    assert ({os.path.basename(p) for p in held["h227_copy"]}
            == {os.path.basename(p) for p in held["h227_tape"]})  # the same names, another photo
    # the training set: the photos of the export and of the linked folders, with the concepts labelling them
    expected = {i: set(NAMES[:2]) if k < 2 else set(NAMES[2:4]) for i, k in enumerate(train_ids) if k < 4}
    assert trainer.train_set._photo_concepts == expected and 4 in train_ids  # the copy's photos: none shared
