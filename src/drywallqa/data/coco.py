"""Rasterising COCO annotations: polygons and RLE through pycocotools, box-only annotations as rectangles."""

from __future__ import annotations

import warnings

import numpy as np
from pycocotools import mask as mask_utils

from .problems import DataProblem


MIN_BOX_AREA = 1.0  # px²: a box this small marks no region (a real joint or crack box is many pixels)


def rasterize_annotations(
    annotations: list[dict], height: int, width: int, source: str = "<annotations>"
) -> tuple[np.ndarray, list]:
    """Union of all annotations of one image.

    Polygons with fewer than 3 points are dropped (the box is used instead when it has an area);
    annotations with ``"segmentation": []`` are filled as their box. Boxes of at most ``MIN_BOX_AREA`` px²
    are dropped as degenerate (Roboflow exports hold 1x1 and 0.5x1 boxes at the image's corner, which
    would turn an unlabelled photo into one labelled with a single pixel). No annotation gives an empty mask.

    Returns:
        ``(H, W)`` bool mask and a list of :class:`~drywallqa.data.sample.DataProblem`.
    """

    mask = np.zeros((height, width), dtype=bool)
    problems = []
    for ann in annotations:
        try:
            problems += _draw(ann, mask, source)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:  # a malformed annotation
            ident = ann.get("id") if isinstance(ann, dict) else None
            problems.append(DataProblem(source, f"annotation {ident}: unusable ({type(exc).__name__}: {exc}); skipped"))
    return mask, problems


def _decode(rle) -> np.ndarray:
    """``mask_utils.decode(rle)`` as a bool mask, without the DeprecationWarning numpy 2 gives of pycocotools' own code
    at each call (``python -W error``, ``PYTHONWARNINGS=error``: every command reading a COCO polygon or RLE label
    stopped with it, a traceback)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "__array__ implementation doesn't accept a copy keyword", DeprecationWarning)
        return mask_utils.decode(rle).astype(bool)


def box_mask(boxes_xywh, height: int, width: int) -> np.ndarray:
    """``(H, W)`` bool union of COCO boxes ``[x, y, w, h]``, drawn as :func:`rasterize_annotations` draws a label."""
    return rasterize_annotations([{"bbox": list(b), "segmentation": []} for b in boxes_xywh], height, width)[0]


def _number_list(values, bound: float | None = None) -> list[float]:
    """A list of finite numbers (COCO coordinates) of magnitude at most ``bound``, or ValueError."""
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise ValueError(f"coordinates must be a list of numbers, got {str(values)[:60]}")
    out = [float(v) for v in values]
    if not all(np.isfinite(out)):
        raise ValueError("coordinates must be finite")
    if bound is not None and any(abs(v) > bound for v in out):
        raise ValueError(f"coordinates far outside the image (beyond {bound:g} px)")
    return out


def coordinate_bound(height: int, width: int) -> float:
    """How far from the origin a COCO coordinate of an ``height x width`` image may lie (px): 4 times its longer side.
    Beyond it a label is broken (pycocotools crashes the process on polygon coordinates like 1e300; OpenCV refuses
    to draw a box at 3e9)."""
    return 4.0 * max(height, width)


def usable_box(ann, height: int | None = None, width: int | None = None) -> list[float] | None:
    """An annotation's ``bbox`` ``[x, y, w, h]`` where :func:`rasterize_annotations` would draw it (four finite numbers
    within :func:`coordinate_bound` of an image of ``height x width`` where given, a positive size of more than
    ``MIN_BOX_AREA`` px², some of it inside the image where its size is given); None for anything else (string
    coordinates, no size, none, far outside): the dataset reader names each of those as a problem."""
    bound = coordinate_bound(height, width) if height and width else None
    try:
        bbox = _number_list(ann.get("bbox") or [], bound)
    except (AttributeError, ValueError, OverflowError):  # (an integer too large for a float: 10**400)
        return None
    if not _drawable(bbox) or (bound is not None and _box_pixels(bbox, height, width) is None):
        return None
    return bbox


def _drawable(bbox: list[float]) -> bool:
    """A parsed ``[x, y, w, h]`` that marks a region: four numbers, a positive size of more than ``MIN_BOX_AREA`` px²."""
    return len(bbox) == 4 and bbox[2] > 0 and bbox[3] > 0 and bbox[2] * bbox[3] > MIN_BOX_AREA


def _box_pixels(bbox: list[float], height: int, width: int) -> tuple[int, int, int, int] | None:
    """``(x0, y0, x1, y1)``: the pixels of an ``height x width`` image a box ``[x, y, w, h]`` covers; None for none."""
    x, y, w, h = bbox
    x0, y0 = max(int(np.floor(x)), 0), max(int(np.floor(y)), 0)
    x1, y1 = min(int(np.ceil(x + w)), width), min(int(np.ceil(y + h)), height)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _compressed_runs(counts: str | bytes) -> list[int] | None:
    """The runs a COCO compressed RLE string codes (pycocotools' ``rleFrString``: 5 bits a character from 48, a
    continuation bit, the sign bit of a run's last character, each run after the second coded as the difference to
    the run two before), or None where the string is not such a code."""
    try:
        text = counts.decode("ascii") if isinstance(counts, bytes) else counts
    except UnicodeDecodeError:
        return None
    runs, value, shift = [], 0, 0
    for char in text:
        c = ord(char) - 48
        if not 0 <= c < 64:
            return None
        value |= (c & 0x1F) << shift
        shift += 5
        if c & 0x20:  # more characters of this run
            continue
        if c & 0x10:
            value -= 1 << shift  # the last character's sign bit
        runs.append(value + (runs[-2] if len(runs) > 2 else 0))
        value, shift = 0, 0
    return runs if shift == 0 else None  # a run cut short


def _draw(ann: dict, mask: np.ndarray, source: str) -> list:
    """Add one annotation to ``mask`` in place; returns the problems it has (raises on a malformed one)."""

    height, width = mask.shape
    problems = []
    if not isinstance(ann, dict):
        raise TypeError(f"an annotation must be an object, got {type(ann).__name__}")
    seg = ann.get("segmentation") or []
    polygons = []
    if isinstance(seg, dict):  # RLE: uncompressed (counts a list) or compressed (a string in JSON files)
        counts, size = seg.get("counts"), seg.get("size")
        if list(size or []) != [height, width]:
            swapped = list(size or []) == [width, height]  # [w, h]: a common export bug (COCO writes [h, w])
            raise ValueError(f"RLE of size {size} on an image declared {height}x{width} (height x width)" + (
                f": the size looks swapped, written [width, height] where COCO writes [height, width]; where its "
                f"runs were coded for the photo as it is (column by column), write \"size\": [{height}, {width}], "
                "else export the annotation again" if swapped else ""))
        if isinstance(counts, list):
            runs, wrong = [int(c) for c in _number_list(counts)], "RLE runs must be non-negative and cover"
        elif isinstance(counts, (str, bytes)):  # its runs checked too: pycocotools decodes short runs from memory it
            runs, wrong = _compressed_runs(counts), "RLE counts string must code non-negative runs covering"  # never set
        else:
            raise TypeError(f"RLE counts must be a list or a string, got {type(counts).__name__}")
        if runs is None or any(c < 0 for c in runs) or sum(runs) != height * width:
            raise ValueError(f"{wrong} {height}x{width} pixels")
        rle = mask_utils.frPyObjects({"size": [height, width], "counts": runs}, height, width)
        decoded = _decode(rle)
        if decoded.shape != mask.shape:
            raise ValueError(f"RLE decodes to {decoded.shape}, not {mask.shape}")
        if not decoded.any():
            problems.append(DataProblem(source, f"annotation {ann.get('id')}: its RLE marks no pixel; nothing drawn"))
        mask |= decoded
        return problems
    if not isinstance(seg, list):
        raise TypeError(f"segmentation must be a list of polygons or an RLE object, got {type(seg).__name__}")
    if seg and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in seg):
        seg = [seg]  # one polygon's coordinates, not in a list of polygons (as some converters write it): that polygon
        # (it was "unusable: coordinates must be a list of numbers, got 20", the photo read as showing nothing)
    bound = coordinate_bound(height, width)
    dropped = 0
    for poly in seg:
        poly = _number_list(poly, bound)
        if len(poly) >= 6 and len(poly) % 2 == 0:
            polygons.append(poly)
        else:
            dropped += 1
            problems.append(
                DataProblem(source, f"annotation {ann.get('id')}: degenerate polygon with {len(poly) // 2} points dropped")
            )
    if polygons:
        rles = mask_utils.frPyObjects(polygons, height, width)
        drawn = _decode(mask_utils.merge(rles))
        if not drawn.any():  # no area (all points on one line or one point), or all of it outside the image
            problems.append(DataProblem(source, f"annotation {ann.get('id')}: its polygon covers no pixel of the "
                                                f"{width}x{height} image (no area, or outside it); nothing drawn"))
        mask |= drawn
        return problems
    if dropped:  # its outline was of no use: its box is no outline of the region either (a 2-point crack line's box
        return problems  # filled four fifths of the photo)
    bbox = _number_list(ann.get("bbox") or [], bound)
    if _drawable(bbox):
        pixels = _box_pixels(bbox, height, width)
        if pixels is None:
            problems.append(DataProblem(source, f"annotation {ann.get('id')}: box {bbox[2]:g}x{bbox[3]:g} px at "
                                                f"({bbox[0]:g}, {bbox[1]:g}) lies outside the {width}x{height} image; "
                                                "nothing drawn"))
        else:
            x0, y0, x1, y1 = pixels
            mask[y0:y1, x0:x1] = True
    elif len(bbox) == 4 and 0 < bbox[2] * bbox[3] <= MIN_BOX_AREA:
        problems.append(DataProblem(source, f"annotation {ann.get('id')}: degenerate box {bbox[2]:g}x{bbox[3]:g} px "
                                            f"at ({bbox[0]:g}, {bbox[1]:g}) dropped"))
    else:  # a box of no or negative size, of other than 4 numbers, or none, and no polygon: nothing drawn, said so
        problems.append(DataProblem(source, f"annotation {ann.get('id')}: no usable polygon and no box "
                                            f"(bbox {ann.get('bbox')!r}); skipped"))
    return problems
