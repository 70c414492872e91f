"""Edge cases of the least-touched modules: each test fails before its fix."""

import math

import cv2
import numpy as np
import pytest

from drywallqa.measures import joint_measures


@pytest.mark.parametrize("angle", [44.5, 135.5])
def test_a_straight_joint_at_any_angle_is_found_when_its_shortest_length_is_long(angle):
    """A digital line stays in one (1 px, 1 degree) cell of the Hough transform for about 60 px where it runs half a
    degree off one: half the shortest joint asked as the segment's votes and length (here 80 px; 75 px at the default
    fraction on a 3000 px photo, 150 px on a 48 MP one) found no segment on a straight 9 px tape 760 px long: no joint."""
    m = np.zeros((800, 800), np.uint8)
    r, c, half = math.radians(angle), 400, 380
    cv2.line(m, (round(c - half * math.cos(r)), round(c - half * math.sin(r))),
             (round(c + half * math.cos(r)), round(c + half * math.sin(r))), 1, 9)
    joints = joint_measures(m.astype(bool), min_length_fraction=0.2)  # the shortest joint 160 px
    assert len(joints) == 1
    assert joints[0]["angle_deg"] == pytest.approx(angle, abs=0.2)
    assert joints[0]["length_px"] == pytest.approx(760, abs=15)
