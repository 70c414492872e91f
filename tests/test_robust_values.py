"""Robustness, class 6: bad values are refused with a clear message where they enter (CLI, Python API,
HTTP), never passed through to give negative lengths, NaN masks or a raw OpenCV error."""

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
