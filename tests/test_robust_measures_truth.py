"""QA measures of synthetic masks whose true answers are known: lengths, widths, areas, counts and joints, at other
resolutions and turned (test_measures.py covers single strips, lines and joints at many angles; not repeated here)."""

import numpy as np
import pytest

from drywallqa.measures import joint_measures, mask_measures


def _strip(length, width, angle, shape=(600, 600), centre=None):
    """A length x width rectangle turned by ``angle`` degrees about ``centre``: the pixels whose centres lie inside."""
    h, w = shape
    cx, cy = centre or (w / 2 + 0.013, h / 2 + 0.017)
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    a = np.radians(angle)
    u = (xx - cx) * np.cos(a) + (yy - cy) * np.sin(a)
    v = -(xx - cx) * np.sin(a) + (yy - cy) * np.cos(a)
    return (abs(u) < length / 2) & (abs(v) < width / 2)


def test_the_mean_width_is_the_mean_along_the_line_and_a_turned_photo_reads_the_same():
    """The mean width was a mean over the centre line's pixels: a diagonal pixel stands for sqrt(2) px of line but
    counted as one, so a crack 200 px straight at 2 px wide and 200 px diagonal at 6 px read 3.79 px, and the same
    photo turned 45 degrees 4.39 px (truth: 4)."""
    widths = []
    for turn in (0, 45):
        m = _strip(200, 2, turn, centre=(300.013, 150.017)) | _strip(200, 6, 45 + turn, centre=(300.013, 420.017))
        r = mask_measures(m)
        assert r["length_px"] == pytest.approx(400, rel=0.01)
        assert r["mean_width_px"] == pytest.approx(4.0, rel=0.05), turn
        widths.append(r["mean_width_px"])
    assert widths[0] == pytest.approx(widths[1], rel=0.04)
