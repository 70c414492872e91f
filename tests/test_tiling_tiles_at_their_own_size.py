"""Tiles smaller than the model's input size: the tile-size benchmark on the group-clean val part, tiles seen at their
own size (not enlarged), the warning per input size, and said once by ``predict``."""

import json
import sys

import numpy as np
import pytest
from PIL import Image

from drywallqa import Segmenter


PHOTO = np.random.default_rng(0).integers(0, 255, (100, 150, 3), dtype=np.uint8)


class _Sample:
    """A photo and its label, as load_split / samples_of_part give them."""

    def __init__(self, path, mask):
        self.image_path, self.mask = path, mask

    def load_mask(self):
        return self.mask


def test_tile_sizes_scores_the_group_clean_val_part_when_asked(load_script, tiny_model_dir, tmp_path, monkeypatch):
    # the benchmark read the published valid photos only, where no option may be chosen (copies of them sit in train):
    # --split val reads the group-clean val part (published valid/test photos left out), named in its outputs
    script = load_script("tile_sizes", "benchmarks")
    asked = []
    monkeypatch.setattr(script, "samples_of_part", lambda d, part, splits_dir, exclude_published=():
                        asked.append((d, part, splits_dir, tuple(exclude_published))) or [f"{d}-val"])
    monkeypatch.setattr(script, "load_split", lambda d, split: ([f"{d}-{split}"], []))
    assert script.split_samples("taping", "val") == ["taping-val"]
    assert asked == [("taping", "val", None, ("valid", "test"))]
    assert script.split_samples("taping", "published") == ["taping-valid"]
    Image.fromarray(PHOTO).save(tmp_path / "a.png")
    label = np.zeros(PHOTO.shape[:2], bool)
    label[40:60] = True
    monkeypatch.setattr(script, "split_samples", lambda d, split, splits_dir=None:
                        [_Sample(tmp_path / "a.png", label)] if split == "val" else pytest.fail(split))
    monkeypatch.setattr(script, "check_split_manifest", lambda d, splits_dir: None)
    monkeypatch.setattr(script.torch, "set_num_threads", lambda n: None)
    out = tmp_path / "out"
    monkeypatch.setattr(sys, "argv", ["tile_sizes.py", "--split", "val", "--datasets", "cracks", "--tiles", "64", "32",
                                      "--model-path", str(tiny_model_dir), "--out", str(out)])
    script.main()
    written = json.loads((out / "tile_sizes.json").read_text())
    assert written["split"] == "group-clean val" and {r["dataset"] for r in written["rows"]} == {"cracks"}
    assert "group-clean val" in (out / "tile_sizes.md").read_text()
    modes = [r["mode"] for r in written["rows"]]
    assert modes == ["whole photo", "tile=64", "tile=32", "tile=32 enlarged"], modes


def test_a_tile_smaller_than_the_input_size_is_seen_at_its_own_size(tiny_model_dir):
    # each tile was resized to the model's input size (64 px for the test model, 512 for the shipped one): a 32 px tile
    # enlarged twice, cracks seen twice as wide (group-clean val: crack mIoU 0.409 enlarged against 0.671 at its own size
    # on 3 photos). Now seen at its own size, as a segmenter of scales=[32] sees it; enlarge=True is the old way
    from drywallqa.engine.tiling import TiledSegmenter

    own = TiledSegmenter(Segmenter.load(tiny_model_dir, scales=[32]), 32).predict(PHOTO, ["segment crack"])
    enlarged = TiledSegmenter(Segmenter.load(tiny_model_dir), 32, enlarge=True).predict(PHOTO, ["segment crack"])
    for tiled in (TiledSegmenter(Segmenter.load(tiny_model_dir), 32), Segmenter.load(tiny_model_dir, tile=32)):
        assert tiled.tile_scales() == (32,) and not tiled.enlarge
        got = tiled.predict(PHOTO, ["segment crack"]).probabilities["segment crack"]
        assert np.allclose(got, own.probabilities["segment crack"], atol=1e-6)
        assert not np.allclose(got, enlarged.probabilities["segment crack"], atol=1e-3)
    old = Segmenter.load(tiny_model_dir, tile=32, tile_enlarge=True)
    assert old.enlarge and old.tile_scales() == (64,)
    assert np.allclose(old.predict(PHOTO, ["segment crack"]).probabilities["segment crack"],
                       enlarged.probabilities["segment crack"], atol=1e-6)
    # a tile not a multiple of 32 is seen at its side down to one (never enlarged); a scale below the tile is kept
    assert TiledSegmenter(Segmenter.load(tiny_model_dir), 50).tile_scales() == (32,)
    assert TiledSegmenter(Segmenter.load(tiny_model_dir, scales=[32, 64, 96]), 64).tile_scales() == (32, 64)
    assert TiledSegmenter.retiled(old, 40).enlarge  # a new tile size keeps the choice
    assert Segmenter.load(tiny_model_dir, tile=40).settings()["enlarge"] is False  # a batch job's resume key
    with pytest.raises(ValueError, match="tile_enlarge are options of tile"):
        Segmenter.load(tiny_model_dir, tile_enlarge=True)  # was it ignored without a word
    with pytest.raises(ValueError, match="enlarge must be True or False"):
        TiledSegmenter(Segmenter.load(tiny_model_dir), 32, enlarge="no")


def test_the_warning_says_what_each_input_size_does_to_a_tile(tiny_model_dir):
    # the warning took the largest scale as the input size: scales [64, 96] with tile=64 on the 64 px model read "tile=64
    # is smaller than the model's input size (96 px): each 64 px tile is enlarged 1.5 times", though the 96 px view
    # enlarges a 64 px photo just the same (a test-time view). Now a tile is compared with the smallest scale, and the
    # enlarging is said per input size above the tile
    from drywallqa.engine.tiling import TiledSegmenter

    for enlarge in (False, True):
        assert TiledSegmenter(Segmenter.load(tiny_model_dir, scales=[64, 96]), 64, enlarge=enlarge).tile_warning() is None
    said = TiledSegmenter(Segmenter.load(tiny_model_dir), 32).tile_warning()  # seen at its own size: not "enlarged"
    assert said.startswith("tile=32 is smaller than the model's input size (64 px): each 32 px tile is seen at 32 px "
                           "(not enlarged)") and "enlarged 2 times" not in said and "tile=64 or more" in said, said
    said = TiledSegmenter(Segmenter.load(tiny_model_dir, scales=[64, 96]), 32, enlarge=True).tile_warning()
    assert "smallest input size (64 px, of 64, 96)" in said and "enlarged 2 times to 64 px" in said, said
    assert "enlarged 3 times to 96 px" in said and "--enlarge-tiles" in said, said
    said = TiledSegmenter(Segmenter.load(tiny_model_dir, scales=[32, 64]), 32, enlarge=True).tile_warning()
    assert said is None  # seen at 32 px as a 32 px photo is, and enlarged at 64 px as that photo is too
    assert TiledSegmenter(Segmenter.load(tiny_model_dir, scales=[32]), 32).tile_warning() is None  # photos seen at 32
    assert Segmenter.load(tiny_model_dir, tile=32).predict(PHOTO, ["segment crack"]).warnings == [said_own(tiny_model_dir)]


def said_own(model_dir):
    from drywallqa.engine.tiling import TiledSegmenter

    return TiledSegmenter(Segmenter.load(model_dir), 32).tile_warning()


def test_enlarge_tiles_is_an_option_of_tile(tiny_model_dir, tmp_path):
    from typer.testing import CliRunner

    from drywallqa.cli import app

    Image.fromarray(PHOTO).save(tmp_path / "a.png")
    res = CliRunner().invoke(app, ["predict", str(tmp_path / "a.png"), "-p", "segment crack", "--out", str(tmp_path / "o"),
                                   "--model-path", str(tiny_model_dir), "--enlarge-tiles"])
    said = " ".join(res.output.replace("│", " ").split())  # (the box wraps its lines)
    assert res.exit_code == 2 and "--enlarge-tiles" in said and "give --tile SIZE too" in said, res.output
    res = CliRunner().invoke(app, ["predict", str(tmp_path / "a.png"), "-p", "segment crack", "--out", str(tmp_path / "o"),
                                   "--model-path", str(tiny_model_dir), "--tile", "32", "--enlarge-tiles"])
    assert res.exit_code == 0, res.output
    written = json.loads((tmp_path / "o" / "results.json").read_text())
    assert any("enlarged 2 times to 64 px" in w for w in written["warnings"]), written["warnings"]


def test_predict_says_the_tile_warning_once(tiny_model_dir, tmp_path, caplog):
    # said as the model loaded (Segmenter.load logs it) and again among the job's warnings at its end: once is enough;
    # results.json keeps it
    import logging

    from typer.testing import CliRunner

    from drywallqa.cli import app

    Image.fromarray(PHOTO).save(tmp_path / "a.png")
    with caplog.at_level(logging.WARNING, logger="drywallqa"):
        res = CliRunner().invoke(app, ["predict", str(tmp_path / "a.png"), "-p", "segment crack", "--out",
                                       str(tmp_path / "o"), "--model-path", str(tiny_model_dir), "--tile", "32"])
    assert res.exit_code == 0, res.output
    shown = " ".join(res.output.split()) + " ".join(" ".join(r.getMessage().split()) for r in caplog.records)
    assert shown.count("tile=32 is smaller than the model's input size") == 1, shown
    written = json.loads((tmp_path / "o" / "results.json").read_text())["warnings"]
    assert [w for w in written if w.startswith("tile=32 is smaller")], written
