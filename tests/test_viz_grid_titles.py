"""A grid picture (evaluate's worst.png, examples.png) shows each column's title whole."""

from __future__ import annotations

import numpy as np
from PIL import Image

from drywallqa.engine.evaluator import ERROR_LEGEND, IGNORED_LEGEND
from drywallqa.viz import grid


def test_a_title_of_several_lines_above_one_row_is_not_cut_at_the_top(tmp_path):
    """worst.png of one photo lost the first line of the error legend (four lines above one row) off the top edge:
    the picture now holds what is drawn, so its top row of pixels is background."""
    img = np.full((200, 300, 3), 128, np.uint8)
    path = tmp_path / "worst.png"
    grid([[img] * 4], ["input", "ground truth", "prediction", ERROR_LEGEND + IGNORED_LEGEND], path, row_labels=["a.jpg"])
    pixels = np.asarray(Image.open(path).convert("L"))
    assert pixels[0].min() > 240 and pixels[:, 0].min() > 240  # nothing drawn touches the top or left edge
    ink_rows = np.flatnonzero((pixels < 128).any(axis=1))
    assert ink_rows[0] < np.flatnonzero((pixels == 128).any(axis=1))[0]  # the title's ink above the photos
