"""Enlarging small tiles on the server and where tile settings are shown: ``describe()`` and ``GET /v1/models`` say
``tile_enlarge``; ``drywallqa serve --enlarge-tiles`` (``ServeConfig.enlarge_tiles``) applies to the server's --tile
and to every request's ``tile``."""

import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from drywallqa import Segmenter
from drywallqa.cli import app
from drywallqa.engine.tiling import TiledSegmenter
from drywallqa.serve import ServeConfig, create_app
from drywallqa.serve.config import SettingError


def _png(h=100, w=150) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def test_describe_and_v1_models_say_whether_small_tiles_are_enlarged(tiny_model_dir):
    # describe() of a tiled segmenter gave tile and tile_overlap, not enlarge: a report or /v1/models could not tell
    # a 256 px tile seen at 256 px from one enlarged to 512
    plain = Segmenter.load(tiny_model_dir)
    assert TiledSegmenter(plain, 32).describe()["tile_enlarge"] is False
    assert TiledSegmenter(plain, 32, enlarge=True).describe()["tile_enlarge"] is True
    assert "tile_enlarge" not in plain.describe()
    for seg, tile, enlarge in ((plain, None, False), (TiledSegmenter(plain, 32), 32, False),
                               (TiledSegmenter(plain, 32, enlarge=True), 32, True)):
        model = TestClient(create_app(ServeConfig(), seg)).get("/v1/models").json()["models"][0]
        assert (model["tile"], model["tile_enlarge"]) == (tile, enlarge), model
