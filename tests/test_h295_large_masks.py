"""The QA measures' cheaper ways on large photos give what the straightforward ones give, to the last bit: each is
checked against that straightforward way (the code as it was), on random masks and on masks placed in a large empty
frame."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from drywallqa import centre_line as cl


def _random_masks(seed: int, n: int = 6, shape=(180, 240)):
    """Random masks: lines of random widths (some crossing), blobs and specks, some with pinholes."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        m = np.zeros(shape, np.uint8)
        for _ in range(int(rng.integers(1, 6))):
            p0 = tuple(int(v) for v in rng.integers(0, shape[1], 2) % np.array([shape[1], shape[0]]))
            p1 = tuple(int(v) for v in rng.integers(0, shape[1], 2) % np.array([shape[1], shape[0]]))
            cv2.line(m, p0, p1, 1, int(rng.integers(1, 30)))
        if rng.random() < 0.5:
            cv2.circle(m, tuple(int(v) for v in rng.integers(20, 160, 2)), int(rng.integers(3, 40)), 1, -1)
        m = m.astype(bool)
        if rng.random() < 0.5:
            m ^= rng.random(shape) < 0.01  # specks, and pinholes in the lines
        yield m


def _framed(m: np.ndarray, frame=(700, 900), at=(311, 457)) -> np.ndarray:
    """``m`` placed in a larger empty frame at ``at`` (row, column)."""
    out = np.zeros(frame, bool)
    out[at[0]:at[0] + m.shape[0], at[1]:at[1] + m.shape[1]] = m
    return out


def _reference_exact_distances(m: np.ndarray) -> np.ndarray:
    """exact_distances as it was: rounded over the whole array."""
    d = cv2.distanceTransform(m.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.sqrt(np.rint(np.square(d, dtype=np.float64))).astype(np.float32)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_distances_equal_the_whole_array_rounding(seed):
    for m in _random_masks(seed):
        for a in (m, np.pad(m, 1), _framed(m)):
            got, want = cl.exact_distances(a), _reference_exact_distances(a)
            assert got.dtype == want.dtype == np.float32 and got.shape == want.shape
            assert np.array_equal(got, want)
    big = np.zeros((1500, 1200), bool)
    big[100:1400, 300:900] = True  # distances past a thousand pixels... of a pixel, all whole-number squares
    big[700, 600] = False
    assert np.array_equal(cl.exact_distances(big), _reference_exact_distances(big))
