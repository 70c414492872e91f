import numpy as np
import pytest

from drywallqa.measures import mask_measures


def test_horizontal_bar_length_width_area():
    m = np.zeros((50, 100), bool)
    m[20:25, 10:90] = True  # 80 x 5
    r = mask_measures(m, mm_per_px=0.5)
    assert r["components"] == 1 and r["area_px"] == 400
    assert r["area_fraction"] == pytest.approx(400 / 5000)
    assert 70 <= r["length_px"] <= 80            # skeleton ends shrink by about half the width
    assert 4 <= r["mean_width_px"] <= 6 and r["max_width_px"] <= 6
    assert r["area_mm2"] == pytest.approx(100) and r["length_mm"] == pytest.approx(r["length_px"] / 2)


def test_components_and_empty_mask():
    m = np.zeros((20, 20), bool)
    m[1:3, 1:3] = True
    m[10:15, 10:15] = True
    assert mask_measures(m)["components"] == 2
    assert mask_measures(m, min_component_px=5)["components"] == 1
    e = mask_measures(np.zeros((5, 5), bool))
    assert e["components"] == 0 and e["area_px"] == 0 and e["length_px"] == 0


def test_diagonal_line_length():
    m = np.eye(60, dtype=bool)
    r = mask_measures(m)
    assert r["length_px"] == pytest.approx(59 * np.sqrt(2), rel=0.02)
    assert r["mean_width_px"] == pytest.approx(1.0, abs=0.01)
