"""Taped joints in a taping mask: the straight lines of its centre line, each measured on the mask's own pixels
(:func:`measure_joints`; the public entry is :func:`drywallqa.measures.joint_measures`)."""

from __future__ import annotations

import math

import cv2
import numpy as np

from .centre_line import CentreLine

MAX_JOINTS = 16  # per mask, longest first
MAX_CANDIDATES = 4 * MAX_JOINTS  # lines measured to find them (_candidate_joints)
GAP_PX = 3.0     # an untaped stretch of a joint's line longer than this is a gap in the tape
REFIT_DEG = 3.0  # a joint's line is refitted to its centre line unless that turns it further (degrees)
SHARED = 0.75    # a line whose own centre line or tape lies this much in joints already taken is none of its own
HOUGH_MAX_PX = 50  # the Hough votes and segment length asked of a line at most: a digital line's pixels stay in one (1 px,
                   # 1 degree) cell of the transform for about 60 px where it runs half a degree off one (44.5
                   # degrees), so half the shortest joint (75 px on a 3000 px photo) found no segment there: no joint


def _angle_gap(a, b):
    """Difference of two line directions in degrees (lines: 0 and 180 are the same), of numbers or arrays."""
    d = np.abs(np.subtract(a, b)) % 180.0
    return np.minimum(d, 180.0 - d)


def _candidate_joints(segments: list, dist: np.ndarray, angle_tolerance_deg: float) -> list[list]:
    """The lines the Hough ``segments`` lie on, longest segment first, at most :data:`MAX_CANDIDATES`: a segment
    joins the first line of about its angle that passes within the larger of their half widths, else starts one.
    Each line is ``[angle_deg, unit direction, point on it, half width]``. The cap keeps a noisy mask (thousands of
    short segments, each its own line) from costing a scan along each: the longest joints start with the longest
    segments."""
    joints = []
    for x0, y0, x1, y1 in sorted(segments, key=lambda s: -math.hypot(s[2] - s[0], s[3] - s[1])):
        angle = math.degrees(math.atan2(y1 - y0, x1 - x0)) % 180.0
        mid = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
        half = float(max(dist[int(round(mid[1])), int(round(mid[0]))], 2.0))
        for j in joints:
            normal = np.array([-j[1][1], j[1][0]])
            if _angle_gap(angle, j[0]) <= angle_tolerance_deg and abs(float((mid - j[2]) @ normal)) <= max(j[3], half):
                break
        else:
            if len(joints) == MAX_CANDIDATES:
                break
            rad = math.radians(angle)
            joints.append([angle, np.array([math.cos(rad), math.sin(rad)]), mid, half])
    return joints


def _fit_line(xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The least-squares line through pixels: a point on it and its unit direction."""
    vx, vy, x0, y0 = cv2.fitLine(np.stack([xs, ys], axis=1).astype(np.float32), cv2.DIST_L2, 0, 0.01, 0.01).ravel()
    return np.array([x0, y0], np.float64), np.array([vx, vy], np.float64)


def _band_pixels(m: np.ndarray, point: np.ndarray, direction: np.ndarray, band: float) -> tuple[np.ndarray, np.ndarray]:
    """``(xs, ys)`` of the mask's pixels within ``band`` px of the line through ``point`` along unit ``direction``:
    the band is scanned one column (one row, for a line steeper than 45 degrees) at a time, so the cost grows with
    the line's length and width, not with the mask's area."""
    steep = abs(direction[1]) > abs(direction[0])
    grid = m.T if steep else m  # scanned along its second axis
    (pa, pb), (da, db) = (point[::-1], direction[::-1]) if steep else (point, direction)
    a = np.arange(grid.shape[1])
    centre = pb + (a - pa) * db / da  # where the line crosses each column
    reach = band / abs(da)            # offset from the line = |b - centre| * |da|
    b = np.floor(centre - reach)[:, None] + np.arange(int(np.ceil(2 * reach)) + 2)[None, :]
    a = np.broadcast_to(a[:, None], b.shape)
    inside = (b >= 0) & (b < grid.shape[0]) & (np.abs(b - centre[:, None]) <= reach)
    a, b = a[inside], b[inside].astype(np.intp)
    taped = grid[b, a]
    a, b = a[taped], b[taped]
    return (b, a) if steep else (a, b)


def _trim_ends(t: np.ndarray, on_line: np.ndarray, band: float) -> np.ndarray:
    """The stretch of sorted positions ``t`` (taped pixels along a joint) without the runs at its ends, past a gap,
    that are no piece of this joint: a speck (fewer pixels than a square of half the tape's width), or tape with none
    of the joint's own centre line in it (``on_line``: positions of centre-line pixels that run the joint's way):
    tape that runs across the joint's line there."""
    cuts = np.nonzero(np.diff(t) > GAP_PX + 1)[0] + 1
    runs = list(zip(np.r_[0, cuts], np.r_[cuts, t.size]))

    def foreign(run: tuple) -> bool:
        lo, hi = t[run[0]], t[run[1] - 1]
        return run[1] - run[0] < max(band * band, 4 * band) or not np.any((on_line >= lo) & (on_line <= hi))

    while len(runs) > 1 and foreign(runs[0]):
        runs.pop(0)
    while len(runs) > 1 and foreign(runs[-1]):
        runs.pop()
    return t[runs[0][0]:runs[-1][1]]


def _within_photo(shape: tuple, point: np.ndarray, direction: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
    """``(lo, hi)`` narrowed to where the line ``point + t * direction`` lies on the photo."""
    for axis, size in ((0, shape[1]), (1, shape[0])):
        if abs(direction[axis]) > 1e-12:
            a, b = sorted(((-0.5 - point[axis]) / direction[axis], (size - 0.5 - point[axis]) / direction[axis]))
            lo, hi = max(lo, a), min(hi, b)
    return lo, hi


def _line_values(line: CentreLine, shape: tuple) -> tuple:
    """``(width_at, angle_at)``: functions of ``(xs, ys)``, pixels of ``line``'s centre line in a photo of ``shape``,
    that give the mask's width across each and the line's direction there (degrees in [0, 180)), both float32. Each
    pixel is found by its place among the line's pixels in row-major order (not in two photo-sized arrays of them:
    384 MB at 48 MP)."""
    at = np.ravel_multi_index((line.ys, line.xs), shape)
    order = np.argsort(at, kind="stable")  # row-major already (np.nonzero's order): as it is
    at = at[order]
    widths = line.widths[order].astype(np.float32)
    angles = (np.degrees(line.directions[order]) % 180.0).astype(np.float32)

    def place(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        return np.searchsorted(at, np.ravel_multi_index((ys, xs), shape))

    return (lambda xs, ys: widths[place(xs, ys)]), (lambda xs, ys: angles[place(xs, ys)])


def measure_joints(m: np.ndarray, line: CentreLine, mm_per_px: float | None = None, min_length_fraction: float = 0.05,
                   angle_tolerance_deg: float = 5.0) -> list[dict]:
    """The joints of :func:`drywallqa.measures.joint_measures`, of a non-empty ``(H, W)`` bool mask ``m`` and its
    :func:`~drywallqa.centre_line.centre_line` (``mm_per_px`` checked already).

    A candidate line is kept when the centre line runs along it for ``min_length``; it is then refitted to those
    centre-line pixels that run its way (within ``angle_tolerance_deg``; not those of a joint crossing it or meeting
    it at a corner: a short Hough segment's angle can be a degree off, 17 px at the end of a 1000-px joint), unless
    the fit turns it by more than :data:`REFIT_DEG`, and measured on the *mask's* pixels in a band along it: the
    length from the first to the last taped pixel, the gaps between them, the width as the band's area over its
    taped length. (The centre line itself stops half a tape width short of every end and of every gap, which made
    joints short and gaps long.) Lines are then taken best supported first (most centre-line pixels running their
    way), and a line whose own centre line, or whose tape, lies mostly in the bands of joints already taken is none of
    its own: two pieces of one tape start two candidates, a stub on a tape's side grows a short line, and where thick
    tapes cross at a shallow angle the centre line runs a short line across the crossing, in both tapes' bands."""
    short = min(m.shape)
    min_length = max(8.0, min_length_fraction * short)
    seed = min(min_length / 2, HOUGH_MAX_PX)  # a segment to start a line from; the line is kept for min_length below
    segments = cv2.HoughLinesP(line.skeleton.astype(np.uint8) * 255, 1, np.pi / 180, threshold=max(5, int(seed)),
                               minLineLength=seed, maxLineGap=max(3, int(0.01 * short)))
    if segments is None:
        return []
    width_at, angle_at = _line_values(line, m.shape)

    def its_way(xs: np.ndarray, ys: np.ndarray, angle: float) -> np.ndarray:  # centre-line pixels along the line
        return _angle_gap(angle_at(xs, ys), angle) <= angle_tolerance_deg

    found = []  # (support, its band's mask pixels, its own centre-line pixels, joint) of each candidate line
    for angle, direction, point, half in _candidate_joints(segments.reshape(-1, 4).tolist(), line.dist, angle_tolerance_deg):
        sx, sy = _band_pixels(line.skeleton, point, direction, half)  # centre-line pixels on this line
        t = (sx - point[0]) * direction[0] + (sy - point[1]) * direction[1]
        if t.size < 2 or t.max() - t.min() < min_length:
            continue
        for _ in range(2):  # fit the line to its centre-line pixels that run its way, then to those on the fitted line
            along = its_way(sx, sy, angle)
            if np.count_nonzero(along) < 2:
                break
            fit_point, fitted = _fit_line(sx[along], sy[along])
            fitted_angle = math.degrees(math.atan2(fitted[1], fitted[0])) % 180.0
            if _angle_gap(fitted_angle, angle) > REFIT_DEG:
                break
            fx, fy = _band_pixels(line.skeleton, fit_point, fitted, half)
            if fx.size < 2:
                break
            point, direction, angle, sx, sy = fit_point, fitted, fitted_angle, fx, fy
        along = its_way(sx, sy, angle)
        if along.any():  # this tape's own centre line, not a crossing one's
            sx, sy = sx[along], sy[along]
        band = float(np.median(width_at(sx, sy))) / 2 + 1.0  # half the tape's width, and a pixel
        angle = round(float(angle), 1) % 180.0  # as reported: a line at 179.98 degrees is horizontal (0.0)
        if (direction[0] if angle == 0.0 else direction[1]) < 0:
            direction = -direction  # from start to end: down the photo, or right along a horizontal joint
        normal = np.array([-direction[1], direction[0]])
        bx, by = _band_pixels(m, point, direction, band)
        if bx.size < 2:
            continue
        point = point + float(np.mean((bx - point[0]) * normal[0] + (by - point[1]) * normal[1])) * normal  # mid-tape
        t = _trim_ends(np.sort((bx - point[0]) * direction[0] + (by - point[1]) * direction[1]),
                       (sx - point[0]) * direction[0] + (sy - point[1]) * direction[1], band)
        lo, hi = _within_photo(m.shape, point, direction, t[0] - 0.5, t[-1] + 0.5)  # a tilted tape's band reaches
        if hi <= lo:                                                              # past the photo's edge
            continue  # its taped pixels lie where the line is off the photo: no joint on it
        length = float(hi - lo)
        steps = np.diff(t)
        gaps = float((steps[steps > GAP_PX + 1] - 1.0).sum())  # untaped stretches of more than GAP_PX
        start, end = (point + float(np.clip(v, lo, hi)) * direction for v in (t[0], t[-1]))  # first, last taped pixel
        joint = {"length_px": length, "mean_width_px": float(t.size / max(length - gaps, 1.0)),
                 "coverage": float(max(1.0 - gaps / length, 0.0)), "angle_deg": float(angle),
                 "start_xy": [round(float(start[0]), 1) + 0.0, round(float(start[1]), 1) + 0.0],  # + 0.0: -0.0 is 0.0
                 "end_xy": [round(float(end[0]), 1) + 0.0, round(float(end[1]), 1) + 0.0]}
        if mm_per_px:
            joint.update(length_mm=length * mm_per_px, mean_width_mm=joint["mean_width_px"] * mm_per_px)
        index = np.uint32 if m.size < 2**32 else np.int64  # a band's pixels kept as flat indices: 4 bytes, not 16
        found.append((int(np.count_nonzero(along)), np.ravel_multi_index((by, bx), m.shape).astype(index),
                      np.ravel_multi_index((sy, sx), m.shape), joint))
    measured = np.zeros(m.size, bool)  # the bands of the joints taken so far, flat
    out = []
    for _, band_at, own_at, joint in sorted(found, key=lambda f: -f[0]):  # best supported first
        if (np.count_nonzero(measured[own_at]) > SHARED * own_at.size
                or np.count_nonzero(measured[band_at]) > SHARED * band_at.size):
            continue  # a joint already taken (its centre line or its tape), or a line across a crossing
        measured[band_at] = True
        out.append(joint)
    return sorted(out, key=lambda j: -j["length_px"])[:MAX_JOINTS]
