"""QA measures of one binary mask: components, area, crack length and width, in pixels and millimetres.

Lengths and widths are read from the mask's centre line (its skeleton):

- **width** at a centre-line pixel is the width of the mask across it: twice the distance to the background,
  measured on the mask at twice the resolution so that strips of every whole width read exactly (a 1-px line is
  1 px wide, a 4-px strip 4);
- **length** is the centre line's chain length (a horizontal or vertical step counts 1, a diagonal one sqrt(2):
  exact along rows, columns and diagonals, up to 8% long at the angles between) plus, at each free end, the
  distance from there to the mask's edge, since a skeleton stops about half a width short of a strip's end (a
  200 x 20 px strip measures 200.4 px, where the skeleton alone is 182.4).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import cv2
import numpy as np
from skimage.morphology import skeletonize

from .utils.checks import number_in_range


def skeleton_length(skeleton: np.ndarray) -> float:
    """Chain length of a 1-px skeleton: horizontal/vertical neighbour links count 1, diagonal ones sqrt(2); a
    diagonal link is not counted where two straight links already join its pixels (a skeleton's corner), and a
    pixel with no neighbour counts 0."""
    s = skeleton.astype(bool)
    straight = np.count_nonzero(s[:, 1:] & s[:, :-1]) + np.count_nonzero(s[1:, :] & s[:-1, :])
    diagonal = (np.count_nonzero(s[1:, 1:] & s[:-1, :-1] & ~s[:-1, 1:] & ~s[1:, :-1])
                + np.count_nonzero(s[1:, :-1] & s[:-1, 1:] & ~s[:-1, :-1] & ~s[1:, 1:]))
    return float(straight + math.sqrt(2) * diagonal)


MAX_MM_PER_PX = 1000.0  # one metre per pixel: beyond any photo of a wall


def validate_mm_per_px(mm_per_px: float | None) -> float | None:
    """``None`` (measures in pixels only) or a finite scale in (0, MAX_MM_PER_PX] millimetres per pixel.

    Raises:
        ValueError: zero, negative, NaN, infinite or absurdly large.
    """
    if mm_per_px is None:
        return None
    return number_in_range(mm_per_px, "mm_per_px", 0.0, MAX_MM_PER_PX, low_inclusive=False, unit=" millimetres per pixel")


def _checked(mask: np.ndarray) -> np.ndarray:
    m = np.asarray(mask).astype(bool)
    if m.ndim != 2:
        raise ValueError(f"expected an (H, W) mask, got shape {m.shape}")
    return m


class CentreLine(NamedTuple):
    """A mask's skeleton and what lengths and widths are read from."""

    skeleton: np.ndarray  #: (H, W) bool, 1 px wide
    dist: np.ndarray      #: (H, W) float32: each pixel's distance to the nearest background pixel
    ys: np.ndarray        #: (N,) rows of the skeleton's pixels
    xs: np.ndarray        #: (N,) their columns
    widths: np.ndarray    #: (N,) the mask's width across each of them, in px

    @property
    def length(self) -> float:
        """:func:`skeleton_length` plus, at each free end (both ends of a pixel with no neighbour), the distance from
        the end pixel's centre to the mask's edge: a skeleton stops about half a width short of a strip's end."""
        s = self.skeleton.astype(np.uint8)
        neighbours = cv2.filter2D(s, -1, np.ones((3, 3), np.float32), borderType=cv2.BORDER_CONSTANT)[self.ys, self.xs] - 1
        ends = np.where(neighbours == 0, 2, np.where(neighbours == 1, 1, 0))
        return skeleton_length(self.skeleton) + float((ends * (self.dist[self.ys, self.xs] - 0.5)).sum())


def _centre_line(m: np.ndarray) -> CentreLine:
    """The :class:`CentreLine` of a non-empty bool mask. Widths come from the distance transform of the mask at twice
    its size (nearest): there a strip of any whole width ``w`` is ``2w`` wide and its middle pixels lie ``w`` from
    the background, where at its own size an even width has no middle pixel (``2 * dist - 1`` read 3 for a 4-px
    strip)."""
    skeleton = skeletonize(m)
    ys, xs = np.nonzero(skeleton)
    dist = cv2.distanceTransform(np.pad(m, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
    up = cv2.resize(np.pad(m, 1).astype(np.uint8), None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    up_dist = cv2.distanceTransform(up, cv2.DIST_L2, 5)
    r, c = 2 * ys + 2, 2 * xs + 2  # pixel (y, x) is the 2x2 block from (2y + 2, 2x + 2) of the padded, doubled mask
    widths = np.maximum.reduce([up_dist[r, c], up_dist[r + 1, c], up_dist[r, c + 1], up_dist[r + 1, c + 1]])
    return CentreLine(skeleton, dist, ys, xs, widths.astype(np.float64))


def mask_measures(mask: np.ndarray, mm_per_px: float | None = None, min_component_px: int = 1,
                  joints: bool = False) -> dict:
    """Measures of an ``(H, W)`` bool mask.

    Returns:
        ``components`` (8-connected, at least ``min_component_px`` px), ``area_px``, ``area_fraction``,
        ``length_px`` (centre-line length), ``mean_width_px`` / ``max_width_px`` (along the centre line), and
        the same in mm / mm^2 when ``mm_per_px`` is given; with ``joints``, also ``joints``
        (:func:`joint_measures`, from the same skeleton).
    """
    mm_per_px = validate_mm_per_px(mm_per_px)
    m = _checked(mask)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m.astype(np.uint8), connectivity=8)
    components = int(np.count_nonzero(stats[1:, cv2.CC_STAT_AREA] >= min_component_px)) if n > 1 else 0
    area = int(np.count_nonzero(m))
    out = {"components": components, "area_px": area, "area_fraction": area / m.size if m.size else 0.0}
    centre_line = _centre_line(m) if area else None
    if area:
        widths = centre_line.widths if centre_line.widths.size else np.zeros(1)
        out.update(length_px=centre_line.length, mean_width_px=float(np.mean(widths)), max_width_px=float(np.max(widths)))
    else:
        out.update(length_px=0.0, mean_width_px=0.0, max_width_px=0.0)
    if mm_per_px:
        out.update(mm_per_px=mm_per_px, area_mm2=area * mm_per_px**2, length_mm=out["length_px"] * mm_per_px,
                   mean_width_mm=out["mean_width_px"] * mm_per_px, max_width_mm=out["max_width_px"] * mm_per_px)
    if joints:
        out["joints"] = _joints(m, centre_line, mm_per_px) if area else []
    return out


MAX_JOINTS = 16  # per mask, longest first
MAX_CANDIDATES = 4 * MAX_JOINTS  # lines measured to find them (measures._candidate_joints)
GAP_PX = 3.0     # a break in a joint's centre line longer than this is a gap in the tape


def _angle_gap(a: float, b: float) -> float:
    """Difference of two line directions in degrees (lines: 0 and 180 are the same)."""
    d = abs(a - b) % 180.0
    return min(d, 180.0 - d)


def joint_measures(mask: np.ndarray, mm_per_px: float | None = None, min_length_fraction: float = 0.05,
                   angle_tolerance_deg: float = 12.0) -> list[dict]:
    """Taped joints in an ``(H, W)`` bool mask: the straight lines of its centre line, each a joint.

    Line segments are found in the mask's skeleton (probabilistic Hough transform) and merged into one joint
    when they run in the same direction (within ``angle_tolerance_deg``) on the same line (offset within the
    strip's width), so a joint whose tape has gaps is one joint and joints that cross are two. Lines shorter
    than ``min_length_fraction`` of the photo's shorter side are left out (the spurs a skeleton grows at a
    strip's corners).

    Returns:
        Up to :data:`MAX_JOINTS` joints, longest first: ``length_px`` (from the first to the last taped point
        along the joint), ``mean_width_px`` (of the strip along it), ``coverage`` (share of that length that
        is taped: gaps in the tape lower it), ``angle_deg`` (0 = horizontal, 90 = vertical), ``start_xy`` /
        ``end_xy`` (``[x, y]`` in the photo's pixels: the first and the last taped point on the joint's line,
        the start the upper one, or the left one of a horizontal joint), and the same in mm when ``mm_per_px``
        is given.
    """
    mm_per_px = validate_mm_per_px(mm_per_px)
    m = _checked(mask)
    return _joints(m, _centre_line(m), mm_per_px, min_length_fraction, angle_tolerance_deg) if m.any() else []


def _candidate_joints(segments: list, dist: np.ndarray, angle_tolerance_deg: float) -> list[list]:
    """The lines the Hough ``segments`` lie on, longest segment first, at most :data:`MAX_CANDIDATES`: a segment
    joins the first line of about its angle that passes within the larger of their half widths, else starts one.
    Each line is ``[angle_deg, unit direction, point on it, half width]``. The cap keeps a noisy mask (thousands of
    short segments, each its own line) from costing lines x skeleton pixels: the longest joints start with the
    longest segments."""
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
    """The least-squares line through pixels: a point on it (their mean) and its unit direction."""
    pts = np.stack([xs, ys], axis=1).astype(np.float64)
    centre = pts.mean(axis=0)
    _, _, vt = np.linalg.svd(pts - centre, full_matrices=False)
    return centre, vt[0]


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


def _joints(m: np.ndarray, centre_line: CentreLine, mm_per_px: float | None, min_length_fraction: float = 0.05,
            angle_tolerance_deg: float = 12.0) -> list[dict]:
    """:func:`joint_measures` of a checked, non-empty mask and its :func:`_centre_line`.

    A candidate line is kept when the centre line runs along it for ``min_length``; it is then refitted to those
    centre-line pixels (Hough angles are whole degrees: one degree is 17 px off at the end of a 1000-px joint), and
    measured on the *mask's* pixels in a band along it: the length from the first to the last taped pixel, the gaps
    between them, the width as the band's area over its taped length. The centre line itself stops half a tape
    width short of every end and of every gap, which made joints short and gaps long."""
    skel, dist, ys, xs = centre_line.skeleton, centre_line.dist, centre_line.ys, centre_line.xs
    short = min(m.shape)
    min_length = max(8.0, min_length_fraction * short)
    segments = cv2.HoughLinesP(skel.astype(np.uint8) * 255, 1, np.pi / 180, threshold=max(5, int(min_length / 2)),
                               minLineLength=min_length / 2, maxLineGap=max(3, int(0.01 * short)))
    if segments is None:
        return []
    skeleton_points = np.stack([xs, ys], axis=1).astype(np.float64)
    claimed = np.zeros(len(xs), bool)  # centre-line pixels of the joints kept so far
    out = []
    for angle, direction, point, half in _candidate_joints(segments.reshape(-1, 4).tolist(), dist, angle_tolerance_deg):
        rel = skeleton_points - point
        near = np.abs(rel @ np.array([-direction[1], direction[0]])) <= half  # centre-line pixels on this line
        t = rel[near] @ direction
        if t.size < 2 or t.max() - t.min() < min_length:
            continue
        for _ in range(2):  # fit the line to its centre-line pixels, then to those along the fitted line
            if np.count_nonzero(near) < 2:
                break
            point, fitted = _fit_line(xs[near], ys[near])
            fitted_angle = math.degrees(math.atan2(fitted[1], fitted[0])) % 180.0
            if _angle_gap(fitted_angle, angle) <= angle_tolerance_deg:
                direction, angle = fitted, fitted_angle
            near = np.abs((skeleton_points - point) @ np.array([-direction[1], direction[0]])) <= half
        if np.count_nonzero(near) < 2 or claimed[near].mean() > 0.5:
            continue  # a joint already kept: two pieces of one tape can start two candidates
        claimed |= near
        band = float(np.percentile(centre_line.widths[near], 90)) / 2 + 0.5  # half the tape's width, and the pixel's
        angle = round(float(angle), 1) % 180.0  # as reported: a line at 179.98 degrees is horizontal (0.0)
        if (direction[0] if angle == 0.0 else direction[1]) < 0:
            direction = -direction  # from start to end: down the photo, or right along a horizontal joint
        bx, by = _band_pixels(m, point, direction, band)
        if bx.size < 2:
            continue
        normal = np.array([-direction[1], direction[0]])
        point = point + float(np.mean((bx - point[0]) * normal[0] + (by - point[1]) * normal[1])) * normal  # mid-tape
        t = np.sort((bx - point[0]) * direction[0] + (by - point[1]) * direction[1])
        length = float(t[-1] - t[0]) + 1.0  # pixel centres to pixel edges
        steps = np.diff(t)
        gaps = float((steps[steps > GAP_PX] - 1.0).sum())  # stretches of the line with no tape on them
        start, end = point + t[0] * direction, point + t[-1] * direction
        joint = {"length_px": length, "mean_width_px": t.size / (length - gaps),
                 "coverage": 1.0 - gaps / length, "angle_deg": angle,
                 "start_xy": [round(float(start[0]), 1), round(float(start[1]), 1)],
                 "end_xy": [round(float(end[0]), 1), round(float(end[1]), 1)]}
        if mm_per_px:
            joint.update(length_mm=length * mm_per_px, mean_width_mm=joint["mean_width_px"] * mm_per_px)
        out.append(joint)
    return sorted(out, key=lambda j: -j["length_px"])[:MAX_JOINTS]
