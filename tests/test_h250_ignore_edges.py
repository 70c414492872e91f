"""Follow-ups of the 'ignore' value (255 in class-index masks): the Validator's labels and targets, and evaluate's
pictures of a label's 'ignore' band."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from drywallqa.utils.image_io import IGNORE_VALUE

from test_h237_ignore import _RedMaps, _photo_of, _scored_arrays


@pytest.fixture
def h250_dataset():
    from drywallqa.data import registry
    from drywallqa.data.registry import DatasetConfig, SplitSource

    config = DatasetConfig("h250_cracks", "h250", ("segment h250 crack",), {"train": SplitSource("coco", "t")})
    registry.register_dataset(config)
    yield config.name
    registry.DATASETS.remove(config.name)


# --------------------------------------------------------------------------------------------- the validator
def test_a_0_255_mask_given_to_the_validator_scores_as_its_label(h250_dataset):
    """A Python caller's 0/255 uint8 mask (cv2.imread of a mask file) was read as a target: an empty label, every 255
    pixel 'ignore' (a photo of nothing to score, or a band scored nowhere). It scores as its label, as the bool mask
    does and as the metrics read it."""
    from drywallqa.engine.validator import Validator

    gt, _, prob, _ = _scored_arrays(2)
    image = _photo_of(prob)
    as_bool = Validator({h250_dataset: [(image, gt)]}, options=False)(_RedMaps())
    for label in (gt.astype(np.uint8) * 255, gt.astype(np.uint8)):
        read = Validator({h250_dataset: [(image, label)]}, options=False)(_RedMaps())
        assert np.array_equal(read.ious[h250_dataset], as_bool.ious[h250_dataset]), label.max()
        assert read.images[h250_dataset] == 1
    full = np.full(gt.shape, 255, np.uint8)  # a mask of crack everywhere: a photo scored, not one all 'ignore'
    assert Validator({h250_dataset: [(image, full)]}, options=False)(_RedMaps()).images[h250_dataset] == 1


def test_a_target_given_to_the_validator_as_a_label_is_refused_naming_it(h250_dataset):
    """A 0/1/255 target given without targets=True would have its band scored as the label: refused, naming it; with
    targets=True its band counts nowhere."""
    from drywallqa.engine.validator import Validator, threshold_sweep
    from drywallqa.metrics import label_and_valid

    gt, target, prob, _ = _scored_arrays(2)
    image = _photo_of(prob)
    with pytest.raises(ValueError, match=r"photo 1 of dataset 'h250_cracks' holds 0, 1 and 255.*targets=True"):
        Validator({h250_dataset: [(image, gt), lambda: (image, target)]}, options=False)(_RedMaps())
    scored = Validator({h250_dataset: [(image, target)]}, options=False, targets=True)(_RedMaps())
    label, valid = label_and_valid(target)
    assert valid is not None and not valid.all()
    assert np.array_equal(scored.ious[h250_dataset][0],
                          threshold_sweep(image[..., 0].astype(np.float32) / 255, label, None, valid))


def test_the_trainers_validator_leaves_the_band_of_its_targets_out(tmp_path, tiny_kwargs, monkeypatch):
    """The trainer's val masks are targets (0/1/255, the array cache's): its validator counts their band nowhere."""
    import torch

    from drywallqa.data import registry
    from drywallqa.data.grouping import make_group_split
    from drywallqa.data.registry import DatasetConfig, SplitSource
    from drywallqa.engine.config import TrainConfig
    from drywallqa.engine.trainer import Trainer
    from drywallqa.engine.validator import threshold_sweep
    from drywallqa.metrics import label_and_valid
    from drywallqa.models.base import PromptedSegmentationModel

    root = tmp_path / "datasets"
    for split, n in (("train", 6), ("valid", 2)):
        folder = root / "ign" / split
        (folder / "_masks").mkdir(parents=True)
        rng = np.random.default_rng(n)
        for i in range(n):
            photo = rng.integers(90, 160, (64, 64, 3)).astype(np.uint8)
            mask = np.zeros((64, 64), np.uint8)
            mask[:, 20 + i:40 + i] = IGNORE_VALUE
            mask[:, 28 + i:32 + i] = 1
            photo[:, 28 + i:32 + i] = 30
            Image.fromarray(photo).save(folder / f"{split}{i}_jpg.rf.{i:032x}.jpg")
            Image.fromarray(mask).save(folder / "_masks" / f"{split}{i}_jpg.rf.{i:032x}.png")
    config = DatasetConfig("h250_ign", "ign", ("segment crack",), {"train": SplitSource("mask_folder", "train"),
                                                                   "valid": SplitSource("mask_folder", "valid")})
    registry.register_dataset(config)
    try:
        make_group_split("h250_ign", root, {"train": 0.75, "val": 0.25}, seed=0).to_json(tmp_path / "splits" / "h250_ign.json")
        monkeypatch.setattr(PromptedSegmentationModel, "prompt_embeddings",
                            lambda self, prompts, encoder: torch.zeros(len(prompts), self.config.text_dim))
        cfg = TrainConfig.from_dict({
            "model_config": {**tiny_kwargs, "text_dim": 384},
            "data": {"datasets": ["h250_ign"], "datasets_dir": str(root), "splits_dir": str(tmp_path / "splits"),
                     "cache_size": 72, "cache_dir": str(tmp_path / "cache"), "negative_ratio": 0.0,
                     "exclude_published": []},
            "optim": {"lr": 3e-3, "batch_size": 4, "epochs": 1, "warmup_steps": 0},
            "output_dir": str(tmp_path / "run"), "bf16": False, "device": "cpu"})
        trainer = Trainer(cfg, progress=False)
        trainer.build_data()
        assert (trainer.val_masks == IGNORE_VALUE).any() and (trainer.val_masks == 1).any()
        result = trainer.validator(_RedMaps())
    finally:
        registry.DATASETS.remove(config.name)
    expected = []
    for image, target in zip(trainer.val_images, trainer.val_masks):
        label, valid = label_and_valid(target)
        expected.append(threshold_sweep(image[..., 0].astype(np.float32) / 255, label, None, valid))
    assert np.allclose(result.ious["h250_ign"][0], np.mean(expected, axis=0))
