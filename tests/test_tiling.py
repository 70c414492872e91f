"""Tiled prediction of large photos: tiles cover the photo, stitching is seamless, thresholds and
post-processing act on the whole map."""

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from drywallqa import Segmenter
from drywallqa.cli import app
from drywallqa.engine.segmenter import SegmentationResult
from drywallqa.engine.tiling import TiledSegmenter, edge_weights, tile_starts
from drywallqa.postprocess import for_label_shape


class PixelwiseSegmenter(Segmenter):
    """A stand-in model whose probability is a function of each pixel alone (red channel / 255), so a
    seamless stitch must give exactly the untiled map. Records the tile sizes it was asked for."""

    threshold = 0.5

    def __init__(self, postprocess=None):
        self.postprocess = postprocess or {}
        self.seen = []

    def threshold_for(self, prompt, threshold=None):
        return threshold if threshold is not None else {"segment crack": 0.3}.get(prompt, self.threshold)

    def postprocess_for(self, prompt, label_shape=None):
        return for_label_shape(self.postprocess.get(prompt), label_shape)

    def predict(self, image, prompts, threshold=None, label_shape=None):
        self.seen.append(image.shape[:2])
        prob = image[..., 0].astype(np.float32) / 255
        return SegmentationResult(masks={p: prob > 0.5 for p in prompts}, probabilities={p: prob for p in prompts})


@pytest.mark.parametrize("length,tile,overlap", [(100, 100, 10), (1000, 256, 64), (513, 512, 128), (4000, 640, 160)])
def test_tiles_cover_the_photo_with_the_overlap(length, tile, overlap):
    starts = tile_starts(length, tile, overlap)
    assert starts[0] == 0 and starts[-1] + min(tile, length) == length
    assert all(b - a <= tile - overlap for a, b in zip(starts, starts[1:]))  # neighbours share >= overlap px
    assert all(b > a for a, b in zip(starts, starts[1:]))
    w = edge_weights(tile, overlap, True, True)
    assert w.min() > 0 and w.max() == 1 and w[0] < w[overlap] and w[-1] < w[-overlap - 1]
    assert (edge_weights(tile, overlap, False, False) == 1).all()


def test_stitching_is_seamless_and_thresholds_act_on_the_whole_map():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (300, 410, 3), dtype=np.uint8)
    inner = PixelwiseSegmenter()
    tiled = TiledSegmenter(inner, tile=128, overlap=0.25)
    res = tiled.predict(image, ["segment crack", "segment other"])
    want = image[..., 0].astype(np.float32) / 255
    np.testing.assert_allclose(res.probabilities["segment crack"], want, atol=1e-6)
    np.testing.assert_array_equal(res.masks["segment crack"], want > 0.3)   # the inner model's per-prompt threshold
    np.testing.assert_array_equal(res.masks["segment other"], want > 0.5)
    assert res.tiles == len(inner.seen) == 3 * 4 and max(max(s) for s in inner.seen) <= 128
    assert tiled.threshold == 0.5                                            # attributes come from the wrapped model
    small = tiled.predict(image[:100, :120], ["segment crack"])              # no larger than a tile: passed through
    assert inner.seen[-1] == (100, 120) and small.tiles is None


def test_post_processing_spans_tiles():
    image = np.zeros((200, 300, 3), np.uint8)
    image[40:160, 30:270, 0] = 255                     # one bright region across every tile
    image[90:110, 100:200, 0] = 0                      # with a hole that boxes fill
    tiled = TiledSegmenter(PixelwiseSegmenter({"segment crack": {"name": "boxes"}}), tile=96, overlap=0.25)
    mask = tiled.predict(image, ["segment crack"], label_shape="box").masks["segment crack"]
    assert mask[40:160, 30:270].all() and mask.sum() == 120 * 240
    raw = tiled.predict(image, ["segment crack"]).masks["segment crack"]  # the adapter only where asked for
    assert raw.sum() == 120 * 240 - 20 * 100


def test_load_with_tile_wraps_the_model_and_the_cli_checks_the_size(tiny_model_dir, tmp_path):
    seg = Segmenter.load(tiny_model_dir, tile=64)
    assert isinstance(seg, TiledSegmenter) and seg.num_parameters() > 0
    res = seg.predict(np.random.default_rng(0).integers(0, 255, (150, 200, 3), dtype=np.uint8), ["segment crack"])
    assert res.masks["segment crack"].shape == (150, 200) and res.tiles == 3 * 4
    with pytest.raises(ValueError, match="tile"):
        TiledSegmenter(seg.inner, tile=8)
    for options in ({"max_tiles": 4}, {"tile_overlap": 0.5}):  # options of tile, without one: were ignored silently
        with pytest.raises(ValueError, match="options of tile"):
            Segmenter.load(tiny_model_dir, **options)
    out = CliRunner().invoke(app, ["predict", str(tmp_path), "--prompt", "segment crack", "--out", str(tmp_path / "o"),
                                   "--model-path", str(tiny_model_dir), "--tile", "16"])
    assert out.exit_code == 2 and "--tile" in out.output


def test_too_many_tiles_fail_before_any_work_in_python_cli_and_server(tiny_model_dir, tmp_path):
    """A small tile on a large photo makes thousands of tiles: refused with the count and the limit, per photo."""
    import json

    from fastapi.testclient import TestClient
    from PIL import Image

    from drywallqa.serve import ServeConfig, create_app

    photo = np.random.default_rng(0).integers(0, 255, (100, 100, 3), dtype=np.uint8)  # tile 32: 4 x 4 = 16 tiles
    seg = Segmenter.load(tiny_model_dir, tile=32, max_tiles=15)
    seg.inner.predict = lambda *a, **k: pytest.fail("a tile was predicted")
    with pytest.raises(ValueError, match="into 16 tiles; at most 15: .*tile=.*max_tiles="):  # Python's names too
        seg.predict(photo, ["segment crack"])
    assert Segmenter.load(tiny_model_dir, tile=32, max_tiles=16).predict(photo, ["segment crack"]).tiles == 16
    assert Segmenter.load(tiny_model_dir, tile=32).check_tiles(4000, 3000) > 10_000  # no limit unless asked (evaluate)
    (tmp_path / "in").mkdir()
    Image.fromarray(photo).save(tmp_path / "in" / "big.png")
    Image.fromarray(photo[:30, :30]).save(tmp_path / "in" / "small.png")
    res = CliRunner().invoke(app, ["predict", str(tmp_path / "in"), "-p", "segment crack", "--out", str(tmp_path / "o"),
                                   "--model-path", str(tiny_model_dir), "--tile", "32", "--max-tiles", "15"])
    assert res.exit_code == 1 and "Traceback" not in res.output
    failed = json.loads((tmp_path / "o" / "results.json").read_text())["failed"]
    assert [(Path(p).name, "16 tiles" in why and "--max-tiles" in why) for p, why in failed] == [("big.png", True)]
    bad = CliRunner().invoke(app, ["predict", str(tmp_path / "in"), "-p", "segment crack", "--out", str(tmp_path / "o2"),
                                   "--model-path", str(tiny_model_dir), "--tile", "32", "--max-tiles", "0"])
    assert bad.exit_code == 2 and "--max-tiles" in bad.output
    # the server's limit holds for a model it was started with tiles on, whatever that model's own limit
    client = TestClient(create_app(ServeConfig(max_tiles=15), Segmenter.load(tiny_model_dir, tile=32, max_tiles=1000)))
    r = client.post("/v1/segment", files={"image": ("big.png", (tmp_path / "in" / "big.png").read_bytes(), "image/png")},
                    data={"prompts": ["segment crack"]})
    assert r.status_code == 422 and "16 tiles" in r.text and "--max-tiles" not in r.text


class ScoredSegmenter(PixelwiseSegmenter):
    """Scores each tile by its mean red value (a stand-in for SAM's predicted IoU) and drops masks below
    ``min_confidence`` like the real backends do."""

    min_confidence = 0.5

    def predict(self, image, prompts, threshold=None, label_shape=None):
        res = super().predict(image, prompts, threshold)
        res.confidence = {p: float(image[..., 0].mean() / 255) for p in prompts}
        res.confidence_kind = "model"
        return res


def test_min_confidence_holds_per_tile():
    image = np.zeros((128, 256, 3), np.uint8)
    image[:, :128, 0] = 255       # left half: a confident tile
    image[10:20, 200:210, 0] = 255  # right half: a small bright patch in a tile scored 0.006
    res = TiledSegmenter(ScoredSegmenter(), tile=128, overlap=0.0).predict(image, ["segment crack"])
    mask = res.masks["segment crack"]
    assert mask[:, :128].all() and not mask[:, 128:].any()  # the untrusted tile's patch is dropped
    assert res.confidence["segment crack"] == pytest.approx((1.0 + 100 / 128 ** 2) / 2)
    trusting = ScoredSegmenter()
    trusting.min_confidence = None
    assert TiledSegmenter(trusting, tile=128, overlap=0.0).predict(image, ["segment crack"]).masks["segment crack"][10:20, 200:210].all()
