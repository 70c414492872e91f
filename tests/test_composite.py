"""Crack transplants (data/composite.py) and their items in the prompted training dataset."""

import numpy as np
import pytest

from drywallqa.data.composite import transplant
from drywallqa.data.prompted import PromptedSegmentationDataset


def _crack_photo(size=64):
    """A light grey wall with one dark vertical line at column 30..33, and its label (columns 28..35)."""
    image = np.full((size, size, 3), 180, np.uint8)
    image[:, 30:34] = 40
    mask = np.zeros((size, size), bool)
    mask[:, 28:36] = True
    return image, mask


def test_transplant_darkens_the_target_along_the_crack_only():
    source, mask = _crack_photo()
    rng = np.random.default_rng(0)
    target = rng.integers(120, 230, (64, 64, 3), dtype=np.uint8)
    out = transplant(target, source, mask, sigma=6, feather=1)
    assert out.shape == target.shape and out.dtype == np.uint8
    line, far = out[:, 31].astype(float), out[:, 5].astype(float)
    assert (line < 0.6 * target[:, 31]).all()           # the dark line arrives, in the target's colours
    assert np.array_equal(far, target[:, 5])            # away from the label nothing changes
    assert (out.astype(int) <= target.astype(int) + 1).all()  # only darkening is moved


def test_transplant_of_an_empty_label_changes_nothing_and_shapes_are_checked():
    source, _ = _crack_photo()
    target = np.full((64, 64, 3), 200, np.uint8)
    assert np.array_equal(transplant(target, source, np.zeros((64, 64), bool)), target)
    with pytest.raises(ValueError, match="shapes differ"):
        transplant(target[:32], source, np.zeros((64, 64), bool))


def _dataset(composite_ratio, pairs=((0, 1),)):
    crack, crack_mask = _crack_photo()
    wall = np.full((64, 64, 3), 200, np.uint8)
    box = np.zeros((64, 64), bool)
    box[10:20] = True
    images = np.stack([crack, crack, wall, wall])
    masks = np.stack([crack_mask, np.zeros_like(crack_mask), box, box])
    return PromptedSegmentationDataset(images, masks, [0, 0, 1, 1], [["segment crack"], ["segment taping area"]],
                                       negative_ratio=0.5, composite_pairs=pairs, composite_ratio=composite_ratio)


def test_dataset_appends_transplant_items_with_the_asked_datasets_label():
    ds = _dataset(1.0)
    assert len(ds) == 4 + 2 + 4
    seen = set()
    for index in range(6, 10):
        for _ in range(6):
            item = ds[index]
            pixels, mask, prompt = item["pixel_values"].numpy(), item["mask"][0].numpy() > 0, item["prompt_index"]
            assert (pixels[:, 0, 31] < 0.5).all()       # every transplant item shows the crack on the wall
            if prompt == 0:                                # "segment crack": the crack's label
                assert mask[:, 28:36].all() and mask.sum() == 64 * 8
            else:                                          # "segment taping area": the wall photo's own box
                assert mask[10:20].all() and mask.sum() == 64 * 10
            seen.add(prompt)
    assert seen == {0, 1}


def test_dataset_without_transplants_is_unchanged_and_bad_pairs_are_refused():
    assert len(_dataset(0.0)) == 6
    with pytest.raises(ValueError, match="two different datasets"):
        _dataset(0.5, pairs=((1, 1),))
    with pytest.raises(ValueError, match="two different datasets"):
        _dataset(0.5, pairs=((0, 5),))
