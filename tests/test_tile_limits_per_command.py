"""Which commands limit the tiles of a photo: predict (--max-tiles, default 400) and the server; evaluate none
(docs/batch.md)."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from drywallqa.cli import app
from drywallqa.engine.tiling import TiledSegmenter
from drywallqa.utils.image_io import DEFAULT_MAX_TILES


def test_evaluate_tile_has_no_tile_limit_and_predict_keeps_its_default(tiny_model_dir, tmp_path, monkeypatch):
    import drywallqa.engine.evaluator as evaluator

    seen = []

    def run(seg, *args, **kwargs):
        seen.append(seg)
        raise ValueError("stopped here by the test")

    monkeypatch.setattr(evaluator, "evaluate", run)
    res = CliRunner().invoke(app, ["evaluate", "--model-path", str(tiny_model_dir), "--tile", "40",
                                   "--out", str(tmp_path / "e")])
    assert "stopped here by the test" in res.output, res.output
    # was 400: evaluate --tile 40 stopped the whole evaluation at the first photo of more than 400 tiles, advising
    # a --max-tiles that evaluate does not have
    assert isinstance(seen[0], TiledSegmenter) and seen[0].max_tiles is None
    (tmp_path / "in").mkdir()
    Image.fromarray(np.zeros((1400, 1400, 3), np.uint8)).save(tmp_path / "in" / "big.png")  # tile 32: 4,356 tiles
    res = CliRunner().invoke(app, ["predict", str(tmp_path / "in"), "-p", "segment crack", "--out", str(tmp_path / "o"),
                                   "--model-path", str(tiny_model_dir), "--tile", "32"])
    assert res.exit_code == 1 and "Traceback" not in res.output
    [(photo, why)] = json.loads((tmp_path / "o" / "results.json").read_text())["failed"]
    assert Path(photo).name == "big.png" and f"at most {DEFAULT_MAX_TILES}" in why


def test_the_0_6_20_name_of_the_tile_limit_still_reads_with_a_warning():
    from drywallqa.engine import tiling

    with pytest.warns(DeprecationWarning, match="utils.image_io.DEFAULT_MAX_TILES"):
        assert tiling.DEFAULT_MAX_TILES == DEFAULT_MAX_TILES
