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
    for out, why in ((tmp_path / "file", "is a file"), (tmp_path / "file" / "sub", "cannot make"),
                     (tmp_path / "odd", "is not a file")):
        res = CliRunner().invoke(app, ["predict", str(photo), "-p", "segment crack", "--out", str(out),
                                       "--model-path", str(tiny_model_dir)], terminal_width=300)
        assert res.exit_code == 2 and why in re.sub(r"[\s│]+", " ", res.output), res.output
