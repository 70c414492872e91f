"""Rasterising COCO annotations: polygons and RLE through pycocotools, box-only annotations as rectangles."""

from __future__ import annotations

import numpy as np
from pycocotools import mask as mask_utils


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
    from .sample import DataProblem

    mask = np.zeros((height, width), dtype=bool)
    problems = []
    for ann in annotations:
        seg = ann.get("segmentation") or []
        polygons = []
        if isinstance(seg, dict):  # RLE: uncompressed (counts a list) or compressed (a string in JSON files)
            counts = seg.get("counts")
            if isinstance(counts, list):
                rle = mask_utils.frPyObjects(seg, height, width)
            else:
                rle = {"size": seg["size"], "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
            mask |= mask_utils.decode(rle).astype(bool)
            continue
        for poly in seg:
            if len(poly) >= 6 and len(poly) % 2 == 0:
                polygons.append([float(v) for v in poly])
            else:
                problems.append(
                    DataProblem(source, f"annotation {ann.get('id')}: degenerate polygon with {len(poly) // 2} points dropped")
                )
        if polygons:
            rles = mask_utils.frPyObjects(polygons, height, width)
            mask |= mask_utils.decode(mask_utils.merge(rles)).astype(bool)
            continue
        bbox = ann.get("bbox") or []
        if len(bbox) == 4 and 0 < bbox[2] * bbox[3] <= MIN_BOX_AREA:
            problems.append(DataProblem(source, f"annotation {ann.get('id')}: degenerate box {bbox[2]:g}x{bbox[3]:g} px "
                                                f"at ({bbox[0]:g}, {bbox[1]:g}) dropped"))
        elif len(bbox) == 4 and bbox[2] > 0 and bbox[3] > 0:
            x, y, w, h = bbox
            x0, y0 = max(int(np.floor(x)), 0), max(int(np.floor(y)), 0)
            x1, y1 = min(int(np.ceil(x + w)), width), min(int(np.ceil(y + h)), height)
            mask[y0:y1, x0:x1] = True
        elif seg:
            problems.append(DataProblem(source, f"annotation {ann.get('id')}: no usable polygon and no box; skipped"))
    return mask, problems
