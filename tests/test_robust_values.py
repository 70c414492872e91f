"""Robustness, class 6: bad values are refused with a clear message where they enter (CLI, Python API,
HTTP), never passed through to give negative lengths, NaN masks or a raw OpenCV error."""

import re

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from drywallqa import Segmenter
from drywallqa.cli import app
from drywallqa.engine.tiling import TiledSegmenter
from drywallqa.measures import mask_measures


@pytest.fixture
def photo(tmp_path):
    Image.new("RGB", (40, 30), (120, 120, 120)).save(tmp_path / "w.jpg")
    return tmp_path / "w.jpg"


@pytest.mark.parametrize("args, hint", [
    (["--mm-per-px", "-1"], "--mm-per-px"), (["--mm-per-px", "0"], "--mm-per-px"), (["--mm-per-px", "nan"], "--mm-per-px"),
    (["--mm-per-px", "1e-320"], "--mm-per-px"),  # every area would read 0.0 mm²
    (["--mm-per-px", "inf"], "--mm-per-px"), (["--threshold", "nan"], "--threshold"), (["--threshold", "1.5"], "--threshold"),
    (["--threshold", "-0.1"], "--threshold"), (["--workers", "0"], "--workers"), (["--tile", "8"], "--tile"),
])
def test_cli_refuses_bad_values_before_any_work(tiny_model_dir, photo, tmp_path, args, hint):
    res = CliRunner().invoke(app, ["predict", str(photo), "-p", "segment crack", "--out", str(tmp_path / "o"),
                                   "--model-path", str(tiny_model_dir), *args])
    assert res.exit_code == 2 and hint in res.output, res.output
    assert not (tmp_path / "o" / "results.json").exists()


@pytest.mark.parametrize("wrap", [False, True])
def test_python_api_refuses_bad_values(tiny_model_dir, wrap):
    seg = Segmenter.load(tiny_model_dir)
    if wrap:
        seg = TiledSegmenter(seg, 32)
    good = np.full((40, 50, 3), 100, np.uint8)
    for image, match in ((np.full((10, 10, 3), np.nan), "NaN"), (np.full((10, 10, 3), np.inf, np.float32), "NaN or infinite"),
                         (np.zeros((0, 0, 3), np.uint8), "no pixels"), (np.zeros((5, 0), np.uint8), "no pixels"),
                         (np.zeros((4, 4, 2), np.uint8), "shape"), (np.array([["a"]]), "shape|numeric")):
        with pytest.raises(ValueError, match=match):
            seg.predict(image, ["segment crack"])
    for threshold in (float("nan"), 1.5, -0.1, "high"):
        with pytest.raises(ValueError, match="threshold"):
            seg.predict(good, ["segment crack"], threshold=threshold)
    for prompts in ([], [""], ["ok", None], 3):
        with pytest.raises(ValueError, match="prompt"):
            seg.predict(good, prompts)
    assert seg.predict(good, ["segment crack"], threshold=1.0).masks["segment crack"].shape == (40, 50)


def test_measures_refuse_a_bad_scale():
    m = np.zeros((5, 5), bool)
    m[2, 1:4] = True
    for scale in (-1, 0, float("nan"), float("inf"), 1e308):
        with pytest.raises(ValueError, match="mm_per_px"):
            mask_measures(m, scale)
    assert mask_measures(m, 0.5)["length_mm"] > 0


def test_load_time_values_are_checked(tiny_model_dir):
    for kwargs, match in (({"threshold": float("nan")}, "threshold"), ({"threshold": 5.0}, "threshold"),
                          ({"min_confidence": float("nan")}, "min_confidence"), ({"min_confidence": 5}, "min_confidence"),
                          ({"scales": [-32]}, "scale"), ({"scales": [0]}, "scale"), ({"scales": [50]}, "scale")):
        with pytest.raises(ValueError, match=match):
            Segmenter.load(tiny_model_dir, **kwargs)


def test_a_float_image_with_infinity_is_a_read_error(tmp_path):
    from drywallqa.utils.image_io import ImageReadError, read_image

    arr = np.ones((8, 8), np.float32)
    arr[2, 2] = np.inf
    Image.fromarray(arr, mode="F").save(tmp_path / "f.tif")
    with pytest.raises(ImageReadError, match="infinite"):
        read_image(tmp_path / "f.tif")
    with pytest.raises(ImageReadError, match="a folder"):
        read_image(tmp_path)


@pytest.mark.parametrize("args, hint", [(["--lr", "nan"], "--lr"), (["--epochs", "-3"], "--epochs"), (["--epochs", "0"], "--epochs"),
                                        (["--max-minutes", "-1"], "--max-minutes"), (["--device", "bogus"], "--device")])
def test_train_refuses_bad_values_before_reading_data(write_train_config, tiny_kwargs, args, hint):
    res = CliRunner().invoke(app, ["train", str(write_train_config("film_unet", tiny_kwargs)), *args])
    assert res.exit_code == 2 and hint in res.output, res.output


def test_output_folder_problems_are_clean_errors(tiny_model_dir, photo, tmp_path):
    (tmp_path / "file").write_text("x")
    (tmp_path / "odd" / "results.json").mkdir(parents=True)
    for out, why in ((tmp_path / "file", "is a file"), (tmp_path / "file" / "sub", "lies below a file"),
                     (tmp_path / "odd", "is not a file")):
        res = CliRunner().invoke(app, ["predict", str(photo), "-p", "segment crack", "--out", str(out),
                                       "--model-path", str(tiny_model_dir)], terminal_width=300)
        assert res.exit_code == 2 and why in re.sub(r"[\s│]+", " ", res.output), res.output


def test_python_batch_inputs_are_paths_and_options_of_their_type(tiny_model_dir, photo, tmp_path):
    from drywallqa.engine.batch import predict_paths

    seg = Segmenter.load(tiny_model_dir)
    folder = str(photo.parent)
    for i, paths in enumerate((folder, photo.parent, (p for p in [str(photo)]))):  # one path, a Path, a generator
        summary = predict_paths(seg, paths, ["segment crack"], tmp_path / f"o{i}", progress=False)
        assert summary.done == [str(photo)] and not summary.failed, paths  # not one path per character
    for bad in (b"/x", 5, [3]):
        with pytest.raises(TypeError, match="path"):
            predict_paths(seg, bad, ["segment crack"], tmp_path / "bad", progress=False)
    summary = predict_paths(seg, [photo], ["segment crack"], tmp_path / "r", progress=False,
                            rules="segment crack: area_px > 1")  # one rule, not one per character
    assert summary.done == [str(photo)]
    flagged = predict_paths(seg, [photo], ["segment crack"], tmp_path / "g", progress=False,
                            rules=(r for r in ["segment crack: area_px >= 0"]))  # a generator of rules, read once
    assert flagged.results[0]["flags"], flagged.results
    assert predict_paths(seg, [photo], ["segment crack"], tmp_path / "n", progress=False, rules=None).done == [str(photo)]
    too_long = tmp_path / ("x" * 300) / "a.jpg"  # cannot even be looked at: that input fails, named; the job goes on
    summary = predict_paths(seg, [too_long, photo], ["segment crack"], tmp_path / "l", progress=False, workers=2.0)
    assert summary.done == [str(photo)] and summary.failed == [(str(too_long), "cannot be looked at (File name too long)")]
    for kwargs, match in ((dict(rules=[5]), "a rule"), (dict(rules=b"segment crack: area_px > 1"), "bytes"),
                          (dict(workers="2"), "workers"), (dict(workers=0), "workers"),
                          (dict(max_pixels=float("nan")), "max_pixels"), (dict(max_pixels="10"), "max_pixels")):
        with pytest.raises(ValueError, match=match):
            predict_paths(seg, [photo], ["segment crack"], tmp_path / "v", progress=False, **kwargs)


def test_photo_values_are_read_on_their_scale_or_refused():
    from drywallqa.utils.image_io import to_rgb_array

    unit = np.random.default_rng(0).random((20, 30, 3))
    overshoot = unit.copy()
    overshoot[0, 0, 0] = 1.004  # a colour transform's overshoot: still a 0..1 photo, not a black 0..255 one
    assert abs(float(to_rgb_array(overshoot).mean()) - float(to_rgb_array(unit).mean())) < 0.1
    import cv2

    step = np.zeros((20, 30, 3))
    step[:, 15:] = 1.0
    ringing = cv2.resize(step, (120, 80), interpolation=cv2.INTER_CUBIC)  # dips below 0 (and above 1) at the edge
    assert ringing.min() < 0 and to_rgb_array(ringing).min() == 0
    assert to_rgb_array((ringing * 255).astype(np.float32))[:, :50].max() == 0  # 0..255 alike: clipped, not refused
    normalised = (unit - 0.45) / 0.225  # an ImageNet-normalised tensor, about -2..2.4
    mean_subtracted = unit * 255 - 124  # Caffe-style, -124..131
    for bad, match in ((unit * 2 - 1, "below 0"), (normalised, "below 0"), (mean_subtracted, "below 0"),
                       (normalised * 1.8, "below 0"), (unit.astype(complex), "real numbers"),
                       (np.full((4, 4, 3), -200, np.int16), "below 0"), (np.arange(-100, 155, dtype=np.int16)[None, :, None], "below 0")):
        with pytest.raises(ValueError, match=match):
            to_rgb_array(bad)
    for bad in (b"\xff\xd8", None, 5, object()):
        with pytest.raises(TypeError, match="a path"):
            to_rgb_array(bad)


def test_load_options_are_refused_unless_of_their_type(tiny_model_dir):
    for kwargs, match in ((dict(tta="no"), "tta"), (dict(prompt_gate="no"), "prompt_gate"), (dict(confidence=2), "confidence"),
                          (dict(scales="64"), "scales"), (dict(scales=[64.5]), "scales"),
                          (dict(tile=float("inf")), "tile"), (dict(tile=float("nan")), "tile"), (dict(tile=64.5), "tile"),
                          (dict(tile=64, tile_overlap="0.2"), "overlap"), (dict(tile=64, max_tiles=float("nan")), "max_tiles"),
                          (dict(scales=[65536]), "8192")):
        with pytest.raises(ValueError, match=match):
            Segmenter.load(tiny_model_dir, **kwargs)
    assert Segmenter.load(tiny_model_dir, scales=64).scales == (64,)
    assert Segmenter.load(tiny_model_dir, scales=map(int, "64,96".split(","))).scales == (64, 96)  # read once
    assert Segmenter.load(tiny_model_dir, scales=[64.0], tta=1, prompt_gate=None).scales == (64,)  # whole floats, 0/1
    assert Segmenter.load(tiny_model_dir, tile=64.0, max_tiles=100.0).tile == 64
    with pytest.raises(ValueError, match="no published weights"):  # it would run an untrained network
        Segmenter.load(model="film_unet")


def test_an_entry_that_cannot_be_looked_at_is_listed_and_the_rest_is_read(photo, monkeypatch):
    from pathlib import Path

    from drywallqa.utils.image_io import find_images

    (photo.parent / "locked").symlink_to(photo.parent / "nowhere")
    real = Path.exists

    def exists(self, *args, **kwargs):
        if self.name == "locked":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "exists", exists)
    listing = find_images([photo.parent])
    assert listing.images == [photo]
    assert [(Path(p).name, r) for p, r in listing.skipped] == [("locked", "cannot be read (Permission denied)")]


def test_decode_takes_only_what_this_segmenter_encoded(tiny_model_dir):
    from drywallqa.engine.segmenter import EncodedImage

    seg = Segmenter.load(tiny_model_dir)
    image = np.full((40, 60, 3), 120, np.uint8)
    assert seg.decode(seg.encode(image), "segment crack").masks["segment crack"].shape == (40, 60)
    for other in (EncodedImage(image), TiledSegmenter(seg, 32).encode(image), Segmenter.load(tiny_model_dir, tta=True).encode(image)):
        with pytest.raises(ValueError, match="encoded by another segmenter"):
            seg.decode(other, "segment crack")
    twin = Segmenter.load(tiny_model_dir, prompt_gate=False)  # the same weights and settings: its encoding is good
    assert twin.decode(seg.encode(image), "segment crack").masks["segment crack"].shape == (40, 60)
    import torch

    other = Segmenter.load(tiny_model_dir)
    with torch.no_grad():
        next(other.model.parameters()).add_(0.5)  # the same architecture, other weights: other features
    with pytest.raises(ValueError, match="encoded by another segmenter"):
        seg.decode(other.encode(image), "segment crack")
    with pytest.raises(TypeError, match="encode returned"):
        seg.decode(image, "segment crack")


@pytest.mark.parametrize("kwargs, said", [({"threshold": "0.5"}, "threshold must be a number, got the text"),
                                          ({"min_confidence": "0.3"}, "min_confidence must be a number, got the text"),
                                          ({"scales": []}, "at least one input size")])
def test_the_python_api_refuses_numbers_as_text_and_no_scales(tiny_model_dir, kwargs, said):
    """threshold="0.5" and min_confidence="0.3" were taken (tta="no" was refused), scales=[] was the model's own size
    without a word."""
    with pytest.raises(ValueError, match=said):
        Segmenter.load(tiny_model_dir, **kwargs)
