"""The Python API as a Hugging Face user meets it (helper h257): a segmenter called on one photo or a list of them,
``predict_logits`` on a segmenter without raw logits, and the docs page's Python examples run as written."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from drywallqa import Segmenter
from drywallqa.utils.image_io import ImageReadError


def _photo(seed: int, shape=(40, 50, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _untimed(result):
    """A result (or a list of them) without its timings, which differ run to run."""
    if isinstance(result, list):
        return [_untimed(r) for r in result]
    result.timings_ms = {}
    return result


def test_a_segmenter_called_on_a_list_gives_each_photos_result_in_order(tiny_model_dir, tmp_path):
    seg = Segmenter.load(tiny_model_dir)
    a, b = _photo(0), _photo(1, (30, 70, 3))
    Image.fromarray(b).save(tmp_path / "b.png")
    prompts = ["segment crack", "segment taping area"]
    results = _untimed(seg([a, tmp_path / "b.png", Image.fromarray(a)], prompts))
    assert isinstance(results, list) and len(results) == 3
    assert results[0] == _untimed(seg.predict(a, prompts)) == results[2]
    assert results[1] == _untimed(seg.predict(tmp_path / "b.png", prompts))
    assert results[1].masks["segment crack"].shape == (30, 70)  # each at its own size
    assert _untimed(seg((x for x in (a, b)), prompts=prompts)) == _untimed([seg.predict(a, prompts),
                                                                            seg.predict(b, prompts)])  # an iterator
    assert seg((), prompts) == []


def test_a_segmenter_called_on_one_photo_is_its_predict(tiny_model_dir):
    seg = Segmenter.load(tiny_model_dir)
    a = _photo(2)
    one = _untimed(seg(a, "segment crack", threshold=0.3))
    assert one == _untimed(seg.predict(a, "segment crack", threshold=0.3))
    tiled = Segmenter.load(tiny_model_dir, tile=32, scales=[32])  # a wrapper is called the same way
    assert _untimed(tiled([a], "segment crack")) == _untimed([tiled.predict(a, "segment crack")])


def test_a_bad_photo_in_the_list_is_named_by_its_place_and_path(tiny_model_dir, tmp_path):
    seg = Segmenter.load(tiny_model_dir)
    missing = tmp_path / "missing.png"
    with pytest.raises(ImageReadError, match=r"^image 1: .*missing\.png: no such file"):
        seg([_photo(0), missing], "segment crack")
    with pytest.raises(ValueError, match=r"^image 2 \(ndarray of shape \(1, 40, 50, 3\)\): expected an \(H, W\)"):
        seg([_photo(0), _photo(1), _photo(2, (1, 40, 50, 3))], "segment crack")
    with pytest.raises(TypeError, match=r"^image 0 \(int\): an image is a path"):
        seg([3], "segment crack")


def test_bad_prompts_are_refused_before_any_photo_is_read(tiny_model_dir, tmp_path):
    seg = Segmenter.load(tiny_model_dir)
    with pytest.raises(ValueError, match="^give at least one prompt"):  # not "image 0: ..."
        seg([tmp_path / "missing.png"], [])
    with pytest.raises(ValueError, match="^threshold"):
        seg([_photo(0)], "segment crack", threshold=2)


def test_a_list_given_to_predict_points_to_the_call():
    with pytest.raises(TypeError, match=r"call predict for each, or the segmenter itself with the list \(seg\(images"):
        Segmenter.predict(Segmenter(), [_photo(0), _photo(1)], "segment crack")


def test_predict_logits_of_a_segmenter_without_them_names_it_and_those_that_have_them(tiny_model_dir):
    from drywallqa.engine.segmenter import EncodedImage, SegmentationResult
    from drywallqa.zeroshot.pipeline import ZeroShotSegmenter

    torch_seg = Segmenter.load(tiny_model_dir)
    _, logits, _ = torch_seg.predict_logits(_photo(0), ["segment crack"])  # the torch runtime's own
    assert tuple(logits.shape) == (1, 40, 50)
    tiled = Segmenter.load(tiny_model_dir, tile=32, scales=[32])
    with pytest.raises(NotImplementedError, match=r"^the wrapper 'tiled' \(around runtime 'torch'; load it without "
                                                  r"tile= for its logits\) gives no raw logits \(predict_logits\); "
                                                  r"runtime 'onnx', runtime 'torch' do\. predict\(image, prompts\)"
                                                  r"\.probabilities"):
        tiled.predict_logits(_photo(0), ["segment crack"])  # was an AttributeError naming no way out

    class Plain(Segmenter):  # a plugin's runtime with no logits of its own
        def decode(self, encoded: EncodedImage, prompts, threshold=None, label_shape=None) -> SegmentationResult:
            raise AssertionError("not reached")

    with pytest.raises(NotImplementedError, match="^the segmenter Plain gives no raw logits"):
        Plain().predict_logits(_photo(0), "segment crack")
    zeroshot = ZeroShotSegmenter.__new__(ZeroShotSegmenter)  # (its models are not needed to be refused)
    with pytest.raises(NotImplementedError, match="^the pipeline 'zeroshot' gives no raw logits"):
        zeroshot.predict_logits(_photo(0), "segment crack")
