"""Enlarging small tiles on the server and where tile settings are shown: ``describe()`` and ``GET /v1/models`` say
``tile_enlarge``; ``drywallqa serve --enlarge-tiles`` (``ServeConfig.enlarge_tiles``) applies to the server's --tile
and to every request's ``tile``."""

import io
import json

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


def _tile_said(client, **fields) -> str:
    r = client.post("/v1/segment", files={"image": ("w.png", _png(), "image/png")},
                    data={"prompts": ["segment crack"], **fields})
    assert r.status_code == 200, r.text
    (said,) = [w for w in r.json()["warnings"] if "smaller than the model's input size" in w]
    return said


def _served(monkeypatch, args) -> TestClient:
    import uvicorn

    from drywallqa.cli import serving

    served = {}
    monkeypatch.setattr(serving, "_check_address", lambda host, port: None)
    monkeypatch.setattr(uvicorn, "run", lambda app_, **kwargs: served.setdefault("app", app_))
    res = CliRunner().invoke(app, ["serve", "--port", "0", *args])
    assert res.exit_code == 0, res.output
    return TestClient(served["app"])


def test_serve_enlarge_tiles_applies_to_its_tile_and_every_requests_tile(tiny_model_dir, monkeypatch):
    # serve had --tile but no --enlarge-tiles, and a request's tile on a server that does not tile was never enlarged:
    # the old way (predict/evaluate --enlarge-tiles) could not be had from the server at all
    client = _served(monkeypatch, ["--model-path", str(tiny_model_dir), "--enlarge-tiles"])
    model = client.get("/v1/models").json()["models"][0]
    assert (model["tile"], model["tile_enlarge"]) == (None, True), model
    assert "enlarged 2 times to 64 px" in _tile_said(client, tile="32")
    client = _served(monkeypatch, ["--model-path", str(tiny_model_dir), "--tile", "32", "--enlarge-tiles"])
    model = client.get("/v1/models").json()["models"][0]
    assert (model["tile"], model["tile_enlarge"]) == (32, True), model
    assert "enlarged 2 times to 64 px" in _tile_said(client)  # the server's --tile
    assert "enlarged 1.6 times to 64 px" in _tile_said(client, tile="40")  # a request's tile on a tiling server
    client = _served(monkeypatch, ["--model-path", str(tiny_model_dir)])  # the default: each tile at its own size
    assert client.get("/v1/models").json()["models"][0]["tile_enlarge"] is False
    assert "(not enlarged)" in _tile_said(client, tile="32")


def test_serve_config_enlarge_tiles_in_the_style_of_the_other_settings(tiny_model_dir):
    import inspect

    from drywallqa.cli.serving import OPTION_OF, serve

    assert ServeConfig().enlarge_tiles is False
    assert inspect.signature(serve).parameters["enlarge_tiles"].default.default is ServeConfig.enlarge_tiles
    assert OPTION_OF["enlarge_tiles"] == "--enlarge-tiles"
    with pytest.raises(SettingError, match="enlarge_tiles must be True or False, got 'no'"):
        ServeConfig(enlarge_tiles="no")  # (an environment variable's text read as on)
    plain = Segmenter.load(tiny_model_dir)
    # from Python: the config's choice reaches a segmenter tiled without it, and requests on an untiled one
    client = TestClient(create_app(ServeConfig(enlarge_tiles=True), TiledSegmenter(plain, 32)))
    assert client.get("/v1/models").json()["models"][0]["tile_enlarge"] is True
    assert "enlarged 2 times" in _tile_said(client) and "enlarged 2 times" in _tile_said(client, tile="32")
    client = TestClient(create_app(ServeConfig(enlarge_tiles=True), plain))
    assert "enlarged 2 times" in _tile_said(client, tile="32")
    # a segmenter tiled with enlarge keeps it for requests' tiles, and says so
    client = TestClient(create_app(ServeConfig(), TiledSegmenter(plain, 64, enlarge=True)))
    assert client.get("/v1/models").json()["models"][0]["tile_enlarge"] is True
    assert "enlarged 2 times" in _tile_said(client, tile="32")


def test_batch_report_says_what_results_json_says_of_the_job_tiles_enlarged_or_not(tiny_model_dir, tmp_path):
    # results.json keeps the tile setting as a key (its settings hashed) and, for a tile smaller than the model's input
    # size, a warning saying whether each tile is enlarged; report.html, written from it, showed neither
    from drywallqa.engine.batch import predict_paths
    from drywallqa.engine.batch_report import write_batch_report

    Image.open(io.BytesIO(_png())).save(tmp_path / "a.png")
    for enlarge, said in ((True, "enlarged 2 times to 64 px"), (False, "(not enlarged)")):
        out = tmp_path / f"out{enlarge}"
        seg = Segmenter.load(tiny_model_dir, tile=32, tile_enlarge=enlarge)
        predict_paths(seg, [tmp_path / "a.png"], ["segment crack"], out, progress=False)
        (written,) = json.loads((out / "results.json").read_text())["warnings"]
        assert said in written
        assert said in write_batch_report(out).read_text()
