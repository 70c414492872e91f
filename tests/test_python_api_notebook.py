"""The Python API as a notebook user meets it: short reprs, a JSON form of a result, models by name."""

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


def test_result_to_dict_is_json_keyed_as_results_json(tiny_model_dir, tmp_path):
    import json

    from PIL import Image

    from drywallqa import Segmenter
    from drywallqa.engine.batch import predict_paths, record_name

    photo = tmp_path / "photos" / "wall.png"
    photo.parent.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 52, 3), dtype=np.uint8)).save(photo)
    seg = Segmenter.load(tiny_model_dir)
    prompts = ["segment crack", "segment taping area"]
    out = tmp_path / "out"
    predict_paths(seg, [photo], prompts, out, progress=False, mm_per_px=0.5)
    record = json.loads((out / record_name(photo)).read_text())

    data = seg.predict(photo, prompts).to_dict(mm_per_px=0.5)
    json.dumps(data, allow_nan=False)  # plain values: no arrays, no numpy numbers
    assert (data["height"], data["width"]) == (record["height"], record["width"]) == (40, 52)
    assert list(data["prompts"]) == prompts
    for p in prompts:
        assert set(data["prompts"][p]) == set(record["prompts"][p]) - {"mask", "mask_crc32"}, p
        assert data["prompts"][p]["area_px"] == record["prompts"][p]["area_px"]
        assert data["prompts"][p]["confidence"] == record["prompts"][p]["confidence"]
    assert data["warnings"] == [] and data["confidence_kind"] == "map"


def test_from_pretrained_reads_a_shipped_model_by_name_and_a_home_path(tmp_path, monkeypatch):
    import pytest

    from drywallqa.models import FilmUNetModel
    from drywallqa.models.base import PromptedSegmentationModel

    monkeypatch.chdir(tmp_path)  # no folder "fast" here
    assert type(PromptedSegmentationModel.from_pretrained("fast")) is FilmUNetModel  # as Segmenter.load("fast")
    assert type(FilmUNetModel.from_pretrained()) is FilmUNetModel  # None: the default shipped model
    model = FilmUNetModel.from_pretrained("fast")
    monkeypatch.setenv("HOME", str(tmp_path))
    model.save_pretrained(tmp_path / "models" / "m")
    assert type(PromptedSegmentationModel.from_pretrained("~/models/m")) is FilmUNetModel  # read a folder named "~"
    with pytest.raises(FileNotFoundError, match="shipped models: fast"):
        PromptedSegmentationModel.from_pretrained("fats")


def test_a_model_class_refuses_a_folder_of_another_model_type():
    import pytest

    from drywallqa.models import ClipSegModel, FilmUNetModel

    assert type(FilmUNetModel.from_pretrained("fast")) is FilmUNetModel
    with pytest.raises(ValueError, match="holds a 'film_unet' model, not ClipSegModel's: load it with FilmUNetModel"):
        ClipSegModel.from_pretrained("fast")  # it gave a FilmUNetModel


def test_result_to_dict_writes_a_nan_confidence_as_null():
    import json

    result = _result()
    result.confidence["segment crack"] = float("nan")
    data = result.to_dict()
    assert data["prompts"]["segment crack"]["confidence"] is None
    json.dumps(data, allow_nan=False)


def test_batch_summary_repr_counts_instead_of_printing_every_entry():
    from pathlib import Path

    from drywallqa.engine.batch import BatchSummary

    entry = {"image": "/photos/p.jpg", "height": 640, "width": 640, "prompts": {"segment crack": {"area_px": 10}},
             "settings": {"metadata": {"x": "y" * 500}}}
    summary = BatchSummary(done=[f"p{i}.jpg" for i in range(300)], results=[entry] * 300,
                           failed=[(Path("bad.jpg"), "not an image")])
    text = repr(summary)
    assert len(text) < 300, text[:500]
    assert "done=300" in text and "failed=1" in text and "not an image" in text, text


def test_a_misspelt_prompt_names_the_prompts_of_the_result():
    import pytest

    result = _result()
    with pytest.raises(KeyError, match="no entry for the prompt 'segment cracks'.*'segment crack', 'segment taping"):
        result.masks["segment cracks"]  # it said KeyError: 'segment cracks' only
    assert result.masks[" segment crack\n"] is result.masks["segment crack"]
    assert result.confidence.get("segment cracks") is None and "segment cracks" not in result.masks


def test_a_segmenter_says_what_it_runs(tiny_model_dir):
    from drywallqa import Segmenter

    seg = Segmenter.load(tiny_model_dir)
    text = repr(seg)  # it was <drywallqa.engine.predictor.TorchSegmenter object at 0x...>
    assert text.startswith("TorchSegmenter(model_type='film_unet'") and "device='cpu'" in text, text
    assert "threshold=0.5" in text and "prompt_gate=False" in text and len(text) < 300, text
    tiled = repr(Segmenter.load(tiny_model_dir, tile=64))
    assert tiled.startswith("TiledSegmenter(tile=64, overlap=0.25") and "inner=TorchSegmenter(" in tiled, tiled
