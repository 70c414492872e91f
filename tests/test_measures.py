import numpy as np
import pytest

from drywallqa.measures import joint_measures, mask_measures


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


def test_joints_crossing_diagonal_and_with_a_gap_in_the_tape():
    import cv2

    m = np.zeros((400, 600), bool)
    m[190:210, 50:550] = True     # a horizontal joint, 500 px long, 20 px wide ...
    m[190:210, 250:300] = False   # ... with 50 px of it not taped
    m[20:380, 400:416] = True     # and a vertical joint crossing it
    horizontal, vertical = joint_measures(m, mm_per_px=0.5)
    assert horizontal["angle_deg"] == 0.0 and 470 <= horizontal["length_px"] <= 500  # the gap does not split it
    assert 0.8 <= horizontal["coverage"] <= 0.9 and 17 <= horizontal["mean_width_px"] <= 21
    assert vertical["angle_deg"] == 90.0 and vertical["coverage"] == 1.0 and 330 <= vertical["length_px"] <= 360
    assert horizontal["length_mm"] == pytest.approx(horizontal["length_px"] * 0.5)
    diagonal = np.zeros((400, 600), np.uint8)
    cv2.line(diagonal, (50, 350), (550, 50), 1, 18)
    (joint,) = joint_measures(diagonal.astype(bool))
    assert abs(joint["angle_deg"] - 149.0) <= 2 and joint["coverage"] == 1.0 and 560 <= joint["length_px"] <= 590
    assert joint_measures(np.zeros((50, 50), bool)) == [] and joint_measures(np.ones((3, 3), bool)) == []
    with pytest.raises(ValueError, match="mm_per_px"):
        joint_measures(m, mm_per_px=-1)


def test_a_noisy_mask_measures_a_bounded_number_of_candidate_lines():
    from drywallqa.measures import MAX_CANDIDATES, _candidate_joints

    rng = np.random.default_rng(0)
    segments = [[x, y, x + int(rng.integers(3, 30)), y + int(rng.integers(-30, 30))]
                for x, y in rng.integers(0, 900, (3000, 2)).tolist()]  # a noisy mask: thousands of short segments
    dist = np.full((1000, 1000), 1.0)
    lines = _candidate_joints(segments, dist, 12.0)
    assert len(lines) == MAX_CANDIDATES
    longest = max(segments, key=lambda s: np.hypot(s[2] - s[0], s[3] - s[1]))
    assert np.allclose(lines[0][2], [(longest[0] + longest[2]) / 2, (longest[1] + longest[3]) / 2])  # longest first
