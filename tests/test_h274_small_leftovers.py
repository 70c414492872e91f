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
