"""QA measures of one binary mask: components, area, crack length and width, in pixels and millimetres, and the
taped joints of a taping mask. Lengths and widths are read from the mask's centre line
(:mod:`drywallqa.centre_line`: how), joints found on it and measured on the mask (:mod:`drywallqa.joints`).

A measure added to :func:`mask_measures` (a finite number) reaches ``results.json`` as it is; its name is then listed
in :data:`PX_MEASURES` or :data:`MM_MEASURES` (what the rules (``--flag``), ``results.csv`` and the check of a
``results.json`` entry read), in ``RULED`` of :mod:`drywallqa.engine.batch_report` where ``report.html`` should show
it beside a rule, and in ``QA_KEYS`` of :mod:`drywallqa.engine.evaluator` where ``evaluate`` should average it; and
:data:`MEASURES_VERSION` is raised (docs/training.md, "Where a change goes")."""

from __future__ import annotations

import cv2
import numpy as np

from .centre_line import centre_line
from .joints import measure_joints
from .utils.checks import flag, not_text, number_in_range, whole_number


MIN_MM_PER_PX, MAX_MM_PER_PX = 1e-6, 1000.0  # a nanometre to a metre per pixel: beyond any photo of a wall either way
                                            # (1e-320 made every area 0.0 mm²)
# the measures of every mask (:func:`mask_measures`), in results.json's and results.csv's order; the mm ones where a
# scale (mm per pixel) is given, and only there
PX_MEASURES = ("components", "area_px", "area_fraction", "length_px", "mean_width_px", "max_width_px")
MM_MEASURES = ("area_mm2", "length_mm", "mean_width_mm", "max_width_mm")
MEASURES_VERSION = 12  # raised whenever a measure is taken another way: records of another are measured again
                       # (1: lengths and widths on the bare skeleton, joints on the centre line; 2: skeleton by
                       # Zhang-Suen thinning, overlapping joints taken in the order found; 3: spurs pruned once,
                       # an end's run into a corner kept; 4: both ends of a short line cut back until nothing was
                       # left of it: a 73 x 57 px box read 0 px long and wide; 5: the mean width a mean over the
                       # centre line's pixels, not along its length; 6: an end's reach read back across its own
                       # dash where the next dash of a broken hairline lay a pixel or two past it; 7: the centre line
                       # ran around every pinhole; 8: an end's run into a corner of a crack's square end kept where it
                       # narrowed a hair less than asked on approximate distances: 3-6 px cracks up to 6 px long;
                       # 9: the line's direction read turned towards 45 degrees by its pixels' stray across its run:
                       # tilted lines and curves 0.18% long; 10: the reach of a 3-px or wider line's end read
                       # from its end pixel, in a corner of a square end the skeleton ran into: 4-px cracks up to
                       # 3.3 px long; 11: a straight tape of a photo whose short side is over 2000 px found no
                       # joint where it ran about half a degree off one of the line search's 1-degree steps)


def validate_mm_per_px(mm_per_px: float | None) -> float | None:
    """``None`` (measures in pixels only) or a finite scale in [MIN_MM_PER_PX, MAX_MM_PER_PX] millimetres per pixel.

    Raises:
        ValueError: zero, negative, NaN, infinite or absurdly large, or text ("0.5").
    """
    if mm_per_px is None:
        return None
    return number_in_range(not_text(mm_per_px, "mm_per_px"), "mm_per_px", MIN_MM_PER_PX, MAX_MM_PER_PX,
                           unit=" millimetres per pixel")


def _checked(mask: np.ndarray) -> np.ndarray:
    """``mask`` as an ``(H, W)`` bool array: bools, or numbers whose non-zero values are the foreground (0/1, 0/255);
    floats only of 0 and 1 (a probability map was measured as a mask of every pixel it was not exactly 0 on).

    Raises:
        ValueError: not (H, W), no pixels, not numeric, or floats other than 0 and 1 (NaN too).
    """
    arr = np.asarray(mask)
    if arr.dtype != bool and (not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating)):
        raise ValueError(f"a mask holds bools or numbers (0 / non-zero), got {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating) and not np.isin(arr, (0.0, 1.0)).all():
        raise ValueError("a mask of floats must hold only 0 and 1: this one holds other values (a probability map? "
                         "threshold it first, or measure result.masks[prompt])")
    m = arr.astype(bool)
    if m.ndim != 2 or m.size == 0:
        raise ValueError(f"expected an (H, W) mask of at least one pixel, got shape {m.shape}")
    return m


def mask_measures(mask: np.ndarray, mm_per_px: float | None = None, min_component_px: int = 1,
                  joints: bool = False) -> dict:
    """Measures of an ``(H, W)`` bool mask.

    Returns:
        ``components`` (8-connected, at least ``min_component_px`` px), ``area_px``, ``area_fraction``,
        ``length_px`` (centre-line length), ``mean_width_px`` / ``max_width_px`` (along the centre line), and
        the same in mm / mm^2 when ``mm_per_px`` is given; with ``joints``, also ``joints``
        (:func:`joint_measures`, from the same centre line).
    """
    mm_per_px = validate_mm_per_px(mm_per_px)
    if not whole_number(min_component_px) or min_component_px < 1:
        raise ValueError(f"min_component_px must be a whole number of pixels, at least 1, got {min_component_px!r}")
    joints = flag(joints, "joints")  # "no" computed them
    m = _checked(mask)
    area = int(np.count_nonzero(m))
    components = 0
    if area:  # an empty mask (a prompt whose thing is not in the photo: most of a batch's) has none to label
        n, _, stats, _ = cv2.connectedComponentsWithStats(m.astype(np.uint8), connectivity=8)
        components = int(np.count_nonzero(stats[1:, cv2.CC_STAT_AREA] >= min_component_px)) if n > 1 else 0
    out = {"components": components, "area_px": area, "area_fraction": area / m.size if m.size else 0.0}
    line = centre_line(m) if area else None
    if area:
        widths = line.widths if line.widths.size else np.zeros(1)
        steps = line.steps if line.widths.size else np.ones(1)  # the mean along the line: each pixel's width over the
        # length it stands for (a pixel mean weighed a diagonal's widths 1/sqrt(2) as much: turned 45 degrees, a crack
        # part diagonal and part straight read another mean width)
        out.update(length_px=line.length, mean_width_px=float(np.average(widths, weights=steps)),
                   max_width_px=float(np.max(widths)))
    else:
        out.update(length_px=0.0, mean_width_px=0.0, max_width_px=0.0)
    if mm_per_px:
        out.update(mm_per_px=mm_per_px, area_mm2=area * mm_per_px**2, length_mm=out["length_px"] * mm_per_px,
                   mean_width_mm=out["mean_width_px"] * mm_per_px, max_width_mm=out["max_width_px"] * mm_per_px)
    if joints:
        out["joints"] = measure_joints(m, line, mm_per_px) if area else []
    return out


def joint_measures(mask: np.ndarray, mm_per_px: float | None = None, min_length_fraction: float = 0.05,
                   angle_tolerance_deg: float = 5.0) -> list[dict]:
    """Taped joints in an ``(H, W)`` bool mask: the straight lines of its centre line, each a joint.

    Line segments are found in the mask's centre line (probabilistic Hough transform) and merged into one joint
    when they run in the same direction (within ``angle_tolerance_deg``) on the same line (offset within the
    strip's width), so a joint whose tape has gaps is one joint and joints that cross are two; each is measured on
    the mask's pixels along it (:func:`drywallqa.joints.measure_joints`). Lines shorter than
    ``min_length_fraction`` of the photo's shorter side are left out.

    Returns:
        Up to :data:`~drywallqa.joints.MAX_JOINTS` joints, longest first: ``length_px`` (from the first to the
        last taped point along the joint, within the photo), ``mean_width_px`` (of the strip along it),
        ``coverage`` (share of that length that is taped: untaped stretches of more than 3 px lower it), ``angle_deg`` (0 = horizontal, 90 = vertical), ``start_xy`` /
        ``end_xy`` (``[x, y]`` in the photo's pixels: the first and the last taped point on the joint's line,
        the start the upper one, or the left one of a horizontal joint), and the same in mm when ``mm_per_px``
        is given.
    """
    mm_per_px = validate_mm_per_px(mm_per_px)
    min_length_fraction = number_in_range(not_text(min_length_fraction, "min_length_fraction"), "min_length_fraction",
                                          0.0, 1.0)
    angle_tolerance_deg = number_in_range(not_text(angle_tolerance_deg, "angle_tolerance_deg"), "angle_tolerance_deg",
                                          0.0, 90.0)
    m = _checked(mask)
    return measure_joints(m, centre_line(m), mm_per_px, min_length_fraction, angle_tolerance_deg) if m.any() else []
