"""h274: small leftovers (held-back warnings of a logger made inside the block, ...)."""

from __future__ import annotations

import logging
import uuid


def test_a_logger_made_inside_warnings_held_back_is_held_back_too(caplog):
    """utils/logs.warnings_held_back put its filter only on the package's loggers there on entering: a logger made
    inside (a module imported lazily there) gave its warnings. Now it is held back as well; a logger of another
    package made there, and the same logger outside the block, still say theirs."""
    from drywallqa.utils.logs import warnings_held_back

    lazy = f"drywallqa.h274_lazy_{uuid.uuid4().hex}"
    other = f"h274_other_{uuid.uuid4().hex}"
    caplog.set_level(logging.INFO)
    with warnings_held_back():
        logging.getLogger(lazy).warning("held back inside")
        logging.getLogger(lazy + ".child").info("held back too")
        logging.getLogger(other).warning("another package's")
        logging.getLogger(lazy).error("an error passes")
    logging.getLogger(lazy).warning("said outside")
    said = [r.getMessage() for r in caplog.records]
    assert "held back inside" not in said and "held back too" not in said
    assert "another package's" in said and "an error passes" in said and "said outside" in said


def test_a_ray_actor_does_not_say_the_tile_warning_its_driver_said(tiny_model_dir, caplog):
    """engine/batch_ray: each actor loads the model (Segmenter.load), which logged the tile warning the driver had
    said as it loaded it first: once an actor again. The actor's loading says nothing now; its results still carry
    the warning, and Segmenter.load elsewhere still says it."""
    import numpy as np

    from drywallqa import Segmenter
    from drywallqa.engine.batch_ray import _RayPredictor

    with caplog.at_level(logging.WARNING, logger="drywallqa"):
        actor = _RayPredictor(tiny_model_dir, {"tile": 32}, opts=None)
    assert actor.unloaded is None and actor.segmenter.tile == 32
    assert not [r for r in caplog.records if "tile=32 is smaller" in r.getMessage()], caplog.records
    photo = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    assert any(w.startswith("tile=32 is smaller") for w in actor.segmenter.predict(photo, ["segment crack"]).warnings)
    with caplog.at_level(logging.WARNING, logger="drywallqa"):
        Segmenter.load(tiny_model_dir, tile=32)
    assert [r for r in caplog.records if "tile=32 is smaller" in r.getMessage()], caplog.records


def test_the_coco_file_of_a_tiled_job_names_its_tiling(tiny_model_dir, tmp_path):
    """`predict --tile --coco` wrote results.json's `tiling` nowhere in predictions.coco.json: now its info.tiling
    (null for a job of whole photos; left out where an older results.json does not say). results.csv keeps no
    column of the job's settings (one row per photo and prompt: docs/batch.md)."""
    import json

    import numpy as np
    from PIL import Image
    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.data.coco_export import write_coco_predictions

    photo = tmp_path / "a.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (40, 70, 3), dtype=np.uint8)).save(photo)
    base = ["predict", str(photo), "-p", "segment crack", "--model-path", str(tiny_model_dir), "--coco", "rle"]
    res = CliRunner().invoke(app, base + ["--out", str(tmp_path / "t"), "--tile", "32", "--no-report"])
    assert res.exit_code == 0, res.output
    tiling = json.loads((tmp_path / "t" / "results.json").read_text())["tiling"]
    assert tiling and tiling["tile"] == 32
    assert json.loads((tmp_path / "t" / "predictions.coco.json").read_text())["info"]["tiling"] == tiling
    res = CliRunner().invoke(app, base + ["--out", str(tmp_path / "w"), "--no-report"])
    assert res.exit_code == 0, res.output
    info = json.loads((tmp_path / "w" / "predictions.coco.json").read_text())["info"]
    assert "tiling" in info and info["tiling"] is None
    results = json.loads((tmp_path / "w" / "results.json").read_text())
    del results["tiling"]  # an older version's results.json: it does not say
    (tmp_path / "w" / "results.json").write_text(json.dumps(results))
    assert "tiling" not in json.loads(write_coco_predictions(tmp_path / "w").read_text())["info"]


def test_tile_enlarge_is_a_bool_with_a_tile_or_without(tiny_model_dir):
    """Segmenter.load(tile_enlarge="no") without a tile was refused as "an option of tile" (the user meant it off), with
    one as TiledSegmenter's "enlarge must be True or False" (not the name given), and "" was taken for off both ways.
    Now one rule: tile_enlarge is True or False (1/0, None) whether a tile is given or not, named as given; True
    without a tile is an option of tile, off without one is fine. (--enlarge-tiles without --tile: a usage error, h254)"""
    import pytest

    from drywallqa import Segmenter

    for value in ("no", "", "yes", 2, [True]):
        for tile in (None, 32):
            with pytest.raises(ValueError, match=r"^tile_enlarge must be True or False, got "):
                Segmenter.load(tiny_model_dir, tile=tile, tile_enlarge=value)
    for off in (False, 0, None):
        assert not hasattr(Segmenter.load(tiny_model_dir, tile_enlarge=off), "enlarge")
        assert Segmenter.load(tiny_model_dir, tile=32, tile_enlarge=off).enlarge is False
    assert Segmenter.load(tiny_model_dir, tile=32, tile_enlarge=1).enlarge is True
    with pytest.raises(ValueError, match="tile_enlarge are options of tile"):
        Segmenter.load(tiny_model_dir, tile_enlarge=True)
