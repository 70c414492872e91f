"""h266's review of the day's change: Segmenter.__call__, the page's several photos, zeroshot, measures, moves."""

import numpy as np
import pytest
from conftest import write_photos


@pytest.fixture
def tiny_seg(tiny_model_dir):
    from drywallqa import Segmenter

    return Segmenter.load(tiny_model_dir)


def test_calling_a_segmenter_with_one_photo_as_nested_lists_is_that_photo_not_one_photo_a_row(tiny_seg):
    """predict takes an (H, W, 3) array given as nested lists (rows of pixels); seg(that, prompts) is documented as
    seg.predict(that, prompts), but it took each row for a photo: 40 results of 52 x 3 px 'photos', without a word."""
    rgb = np.random.default_rng(0).integers(0, 255, (40, 52, 3), dtype=np.uint8)
    one = tiny_seg.predict(rgb, "segment crack")
    got = tiny_seg(rgb.tolist(), "segment crack")
    assert not isinstance(got, list)
    np.testing.assert_array_equal(got.probabilities["segment crack"], one.probabilities["segment crack"])
    gray = tiny_seg(rgb[..., 0].tolist(), "segment crack")  # an (H, W) one too
    assert not isinstance(gray, list) and gray.masks["segment crack"].shape == (40, 52)
    assert len(tiny_seg([rgb, rgb.tolist()], "segment crack")) == 2  # a list of photos stays a list of photos
