"""The Python API as a notebook user meets it (helper h248): short reprs, a JSON form of a result, models by name."""

import numpy as np

from drywallqa.engine.segmenter import EncodedImage, SegmentationResult


def _result() -> SegmentationResult:
    mask = np.zeros((480, 640), bool)
    mask[100:120, 50:400] = True
    return SegmentationResult(masks={"segment crack": mask, "segment taping area": np.zeros_like(mask)},
                              probabilities={"segment crack": mask.astype(np.float32) * 0.9,
                                             "segment taping area": np.zeros(mask.shape, np.float32)},
                              confidence={"segment crack": 0.81234, "segment taping area": 1.0},
                              warnings=["a note"], timings_ms={"decode_ms": 3.0})


def test_result_repr_is_short_and_says_what_is_in_it():
    text = repr(_result())
    assert len(text) < 400, text  # the dataclass's printed every mask and map: thousands of characters
    assert "array" not in text
    for said in ("'segment crack'", "(480, 640)", "7000", "0.812", "warnings=1"):
        assert said in text, (said, text)


def test_encoded_image_repr_is_short():
    encoded = EncodedImage(np.zeros((480, 640, 3), np.uint8), [np.zeros((1, 32, 120, 160), np.float32)])
    text = repr(encoded)
    assert len(text) < 200 and "array" not in text and "(480, 640, 3)" in text, text
