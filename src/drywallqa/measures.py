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


def mask_measures(mask: np.ndarray, mm_per_px: float | None = None, min_component_px: int = 1) -> dict:
    """Measures of an ``(H, W)`` bool mask.

    Returns:
        ``components`` (8-connected, at least ``min_component_px`` px), ``area_px``, ``area_fraction``,
        ``length_px`` (skeleton length), ``mean_width_px`` / ``max_width_px`` (along the skeleton), and
        the same in mm / mm^2 when ``mm_per_px`` is given.
    """
    mm_per_px = validate_mm_per_px(mm_per_px)
    m = np.asarray(mask).astype(bool)
    if m.ndim != 2:
        raise ValueError(f"expected an (H, W) mask, got shape {m.shape}")
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m.astype(np.uint8), connectivity=8)
    components = int(np.count_nonzero(stats[1:, cv2.CC_STAT_AREA] >= min_component_px)) if n > 1 else 0
    area = int(np.count_nonzero(m))
    out = {"components": components, "area_px": area, "area_fraction": area / m.size if m.size else 0.0}
    if area:
        skel = skeletonize(m)
        dist = cv2.distanceTransform(np.pad(m, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
        widths = 2 * dist[skel] - 1 if skel.any() else np.array([0.0])
        out.update(length_px=skeleton_length(skel), mean_width_px=float(np.mean(widths)), max_width_px=float(np.max(widths)))
    else:
        out.update(length_px=0.0, mean_width_px=0.0, max_width_px=0.0)
    if mm_per_px:
        out.update(mm_per_px=mm_per_px, area_mm2=area * mm_per_px**2, length_mm=out["length_px"] * mm_per_px,
                   mean_width_mm=out["mean_width_px"] * mm_per_px, max_width_mm=out["max_width_px"] * mm_per_px)
    return out
