"""The ship script's choice of thresholds and post-processing on validation (scripts/ship_default_model.py)."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from drywallqa.data import registry
from drywallqa.data.registry import DatasetConfig, SplitSource


class _FakeSegmenter:
    """Probabilities per prompt: a faint wide band (cracks) or a box-like blob with soft edges (taping)."""

    scales, tta = (64,), False

    def predict_logits(self, image, prompts):
        prob = np.full((64, 64), 0.05)
        if prompts == ["segment crack"]:
            prob[30:34, 4:60] = 0.3      # the crack, weakly: found only below the default threshold
        else:
            prob[10:50, 10:40] = 0.95    # the taped joint
            prob[10:50, 40:44] = 0.6     # a soft edge beyond the labelled box
            prob[20:26, 20:26] = 0.1     # a hole inside it: only a box fills it
        return image, torch.logit(torch.from_numpy(prob)[None]), {}


def test_sweep_picks_a_threshold_per_dataset_and_box_post_processing(tmp_path, load_script):
    ship = load_script("ship_default_model")
    configs = [DatasetConfig("fake_crack", "c", ("segment crack", "segment wall crack"), {"train": SplitSource("coco", "t")}),
               DatasetConfig("fake_tape", "t", ("segment taping area",), {"train": SplitSource("coco", "t")},
                             label_shape="box")]
    for c in configs:
        registry.register_dataset(c)
    try:
        path = tmp_path / "photo.png"
        Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(path)
        crack_gt = np.zeros((64, 64), bool)
        crack_gt[30:34, 4:60] = True
        tape_gt = np.zeros((64, 64), bool)
        tape_gt[10:50, 10:40] = True
        sets = [SimpleNamespace(dataset=name, samples=[SimpleNamespace(image_path=path, load_mask=lambda gt=gt: gt)])
                for name, gt in (("fake_crack", crack_gt), ("fake_tape", tape_gt))]
        best = ship.sweep(_FakeSegmenter(), sets)["best"]
    finally:
        for c in configs:
            registry.DATASETS.remove(c.name)
    assert best["dataset_thresholds"]["fake_crack"] < 0.3            # low enough to keep the faint crack
    assert 0.6 <= best["dataset_thresholds"]["fake_tape"] < 0.95     # high enough to drop the soft edge
    assert best["postprocess"]["fake_crack"] is None                 # dilation would only add false pixels
    assert best["postprocess"]["fake_tape"]["name"] == "boxes"
    assert best["val_mIoU_per_dataset"] == {"fake_crack": 1.0, "fake_tape": 1.0}


def test_candidate_scales_parse_and_refuse_bad_sizes(load_script):
    import argparse

    ship = load_script("ship_default_model")
    assert ship.parse_scales("448") == (448,) and ship.parse_scales("384,512") == (384, 512)
    for bad in ("450", "abc", "384,", "-64"):
        with pytest.raises(argparse.ArgumentTypeError):
            ship.parse_scales(bad)
