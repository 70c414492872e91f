"""Tiles smaller than the model's input size (each is enlarged to it), the tile count of a tiled result, and
TorchSegmenter.from_path's documented options."""

import logging

import numpy as np

from drywallqa import Segmenter
from drywallqa.engine.tiling import TiledSegmenter


PHOTO = np.random.default_rng(0).integers(0, 255, (100, 150, 3), dtype=np.uint8)


def test_a_tile_smaller_than_the_input_size_is_named_with_what_it_does(tiny_model_dir, caplog):
    """The tiny model's input size is 64 px: a 32 px tile is enlarged twice (cracks twice as wide); said when loaded
    and in each tiled result's warnings, naming the model's size and what the tile is."""
    with caplog.at_level(logging.WARNING, logger="drywallqa"):
        seg = Segmenter.load(tiny_model_dir, tile=32, tile_enlarge=True)  # (by default seen at 32 px: h254)
    said = [r.getMessage() for r in caplog.records if "tile=32" in r.getMessage()]
    assert len(said) == 1 and "input size (64 px)" in said[0] and "enlarged 2 times" in said[0]
    assert "tile=64 or more" in said[0]
    warned = [w for w in seg.predict(PHOTO, ["segment crack"]).warnings if "tile=32" in w]
    assert len(warned) == 1 and "input size (64 px)" in warned[0] and "square the model sees at 64 px" in warned[0]


def test_a_tile_of_the_input_size_or_larger_says_nothing(tiny_model_dir, caplog):
    with caplog.at_level(logging.WARNING, logger="drywallqa"):
        seg = Segmenter.load(tiny_model_dir, tile=64)
    assert not [r for r in caplog.records if "input size" in r.getMessage()]
    assert seg.upscale_warning() is None
    assert not [w for w in seg.predict(PHOTO, ["segment crack"]).warnings if "input size" in w]
    # the inner segmenter's scales count, not the network's own size: a tile seen at its own size is not enlarged
    assert TiledSegmenter(Segmenter.load(tiny_model_dir, scales=[32]), 32).upscale_warning() is None


def test_the_tile_count_is_a_field_of_its_own_not_a_timing(tiny_model_dir):
    """``timings_ms`` held ``"tiles": 6``, a count among milliseconds (a client summing them added 6 ms)."""
    import io

    from fastapi.testclient import TestClient
    from PIL import Image

    from drywallqa.serve.app import ServeConfig, create_app

    seg = Segmenter.load(tiny_model_dir, tile=64)
    res = seg.predict(PHOTO, ["segment crack"])
    assert res.tiles == 2 * 3 and "tiles" not in res.timings_ms
    assert all(k.endswith("_ms") for k in res.timings_ms)
    assert res.to_dict()["tiles"] == 6 and "tiles" not in res.to_dict()["timings_ms"]
    whole = Segmenter.load(tiny_model_dir).predict(PHOTO, ["segment crack"])
    assert whole.tiles is None and "tiles" not in whole.to_dict()
    buf = io.BytesIO()
    Image.fromarray(PHOTO).save(buf, format="PNG")
    client = TestClient(create_app(ServeConfig(), Segmenter.load(tiny_model_dir)))
    body = client.post("/v1/segment", files={"image": ("w.png", buf.getvalue(), "image/png")},
                       data={"prompts": ["segment crack"], "tile": "64"}).json()
    assert body["tiles"] == 6 and all(k.endswith("_ms") for k in body["timings_ms"])


def test_from_path_documents_every_option():
    """Its docstring left out ``device``, ``model`` and ``min_confidence`` (Segmenter.load's listed them)."""
    import inspect

    from drywallqa.engine.torch_runtime import TorchSegmenter

    doc = inspect.getdoc(TorchSegmenter.from_path)
    missing = [name for name in inspect.signature(TorchSegmenter.from_path).parameters if f"``{name}" not in doc]
    assert not missing, missing
