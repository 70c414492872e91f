"""QA measures of one binary mask: components, area, crack length and width, in pixels and millimetres.

Crack length is the pixel count of the mask's skeleton (each skeleton pixel ~ 1 px of centre line,
diagonal steps counted as sqrt(2)); width at a skeleton pixel is twice the distance to the background
(so a 1-px line has width ~1).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from skimage.morphology import skeletonize

from .utils.checks import number_in_range


def skeleton_length(skeleton: np.ndarray) -> float:
    """Length of a 1-px skeleton: horizontal/vertical neighbour links count 1, diagonal ones sqrt(2)."""
    s = skeleton.astype(bool)
    straight = np.count_nonzero(s[:, 1:] & s[:, :-1]) + np.count_nonzero(s[1:, :] & s[:-1, :])
    diagonal = np.count_nonzero(s[1:, 1:] & s[:-1, :-1]) + np.count_nonzero(s[1:, :-1] & s[:-1, 1:])
    length = straight + math.sqrt(2) * diagonal
    # isolated skeleton pixels have no links but are still 1 px long
    return float(max(length, np.count_nonzero(s) if length == 0 else length))


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


def _centre_line(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mask's skeleton and each pixel's distance to the background (what lengths and widths are read from)."""
    return skeletonize(m), cv2.distanceTransform(np.pad(m, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]


def mask_measures(mask: np.ndarray, mm_per_px: float | None = None, min_component_px: int = 1,
                  joints: bool = False) -> dict:
    """Measures of an ``(H, W)`` bool mask.

    Returns:
        ``components`` (8-connected, at least ``min_component_px`` px), ``area_px``, ``area_fraction``,
        ``length_px`` (skeleton length), ``mean_width_px`` / ``max_width_px`` (along the skeleton), and
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
        skel, dist = centre_line
        widths = 2 * dist[skel] - 1 if skel.any() else np.array([0.0])
        out.update(length_px=skeleton_length(skel), mean_width_px=float(np.mean(widths)), max_width_px=float(np.max(widths)))
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
        is taped: gaps in the tape lower it), ``angle_deg`` (0 = horizontal, 90 = vertical), and the same
        in mm when ``mm_per_px`` is given.
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


def _joints(m: np.ndarray, centre_line: tuple, mm_per_px: float | None, min_length_fraction: float = 0.05,
            angle_tolerance_deg: float = 12.0) -> list[dict]:
    """:func:`joint_measures` of a checked, non-empty mask and its :func:`_centre_line`."""
    skel, dist = centre_line
    short = min(m.shape)
    min_length = max(8.0, min_length_fraction * short)
    segments = cv2.HoughLinesP(skel.astype(np.uint8) * 255, 1, np.pi / 180, threshold=max(5, int(min_length / 2)),
                               minLineLength=min_length / 2, maxLineGap=max(3, int(0.01 * short)))
    if segments is None:
        return []
    ys, xs = np.nonzero(skel)
    out = []
    for angle, direction, point, half in _candidate_joints(segments.reshape(-1, 4).tolist(), dist, angle_tolerance_deg):
        rel = np.stack([xs, ys], axis=1) - point
        near = np.abs(rel @ np.array([-direction[1], direction[0]])) <= half  # skeleton pixels on this joint's line
        t = rel[near] @ direction
        if t.size < 2 or t.max() - t.min() < min_length:
            continue
        length = float(t.max() - t.min())
        steps = np.diff(np.sort(t))
        gaps = float(steps[steps > GAP_PX].sum())  # stretches of the line with no tape on them
        widths = 2 * dist[ys[near], xs[near]] - 1
        joint = {"length_px": length, "mean_width_px": float(np.mean(widths)),
                 "coverage": 1.0 - gaps / length, "angle_deg": round(float(angle), 1)}
        if mm_per_px:
            joint.update(length_mm=length * mm_per_px, mean_width_mm=joint["mean_width_px"] * mm_per_px)
        out.append(joint)
    return sorted(out, key=lambda j: -j["length_px"])[:MAX_JOINTS]
