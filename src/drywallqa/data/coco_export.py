"""Predicted masks -> a COCO file, for correcting them in an annotation tool (CVAT, Roboflow, Label Studio)
and training on the result: pre-labelling.

One category per prompt, one annotation per connected region of each mask. Segmentations are polygons
(what annotation tools edit; holes inside a region are filled) or RLE (exact). Polygons are traced on the
mask at twice its resolution, so they rasterise back (``pycocotools``, as
:func:`~drywallqa.data.coco.rasterize_annotations` does) to the same pixels, thin cracks included.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from ..engine.batch_results import NOT_READABLE, read_batch_results
from ..utils.files import write_text_atomic
from ..utils.image_io import ImageReadError, photo_pixels, read_mask
from ..utils.progress import progress_bar

SEGMENTATION_FORMATS = ("polygon", "rle")


def region_polygons(region: np.ndarray, offset: tuple[int, int] = (0, 0)) -> list[list[float]]:
    """Outer outlines of an ``(H, W)`` bool mask as COCO polygons ``[x1, y1, x2, y2, ...]`` (holes filled), moved by
    ``offset`` (x, y): the place of ``region``'s corner in the photo, where it is a crop of a larger mask."""
    big = cv2.resize(region.astype(np.uint8), None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(big, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    shift = np.array(offset, np.float64)
    return [(c.reshape(-1, 2).astype(np.float64) / 2 + shift).round(2).ravel().tolist() for c in contours if len(c) >= 3]


def region_rle(region: np.ndarray, offset: tuple[int, int], size: tuple[int, int]) -> dict:
    """COCO's compressed RLE (``{"size": [H, W], "counts": str}``) of the bool crop ``region`` placed at ``offset``
    (x, y) in a mask of ``size`` (H, W): the runs are counted over the crop's pixels only, not the whole photo."""
    height, width = size
    rows, cols = np.nonzero(region.T)  # column by column, as COCO counts (Fortran order): cols are rows here
    index = (rows.astype(np.int64) + offset[0]) * height + cols + offset[1]  # rows of the transpose: the x
    if index.size == 0:
        counts = [height * width]
    else:
        breaks = np.flatnonzero(np.diff(index) != 1)
        starts = index[np.r_[0, breaks + 1]]
        ends = index[np.r_[breaks, index.size - 1]] + 1
        gaps = starts - np.r_[0, ends[:-1]]
        counts = np.stack([gaps, ends - starts], axis=1).ravel().tolist()
        if int(ends[-1]) < height * width:  # background after the last run (none where it ends the photo)
            counts.append(height * width - int(ends[-1]))
    rle = mask_utils.frPyObjects({"size": [height, width], "counts": counts}, height, width)
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def mask_annotations(mask: np.ndarray, segmentation: str = "polygon", min_area_px: int = 1) -> list[dict]:
    """One COCO annotation body (``segmentation``, ``area``, ``bbox``, ``iscrowd``) per 8-connected region
    of at least ``min_area_px`` pixels of an ``(H, W)`` bool mask; ``area`` is what the segmentation covers (a
    polygon holds its region's holes: ``rle`` keeps them). Each region is outlined or run-length coded within
    its own box (a 12-megapixel mask of 200 regions took 17 s when each was worked over the whole photo)."""
    if segmentation not in SEGMENTATION_FORMATS:
        raise ValueError(f"segmentation must be one of {SEGMENTATION_FORMATS}, got {segmentation!r}")
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    out = []
    for i in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[i])
        if area < min_area_px:
            continue
        region = labels[y:y + h, x:x + w] == i  # its box: another region's pixels inside it are not its own
        if segmentation == "rle":
            seg = region_rle(region, (x, y), mask.shape[:2])
        else:
            seg = region_polygons(np.pad(region, 1), (x - 1, y - 1))  # a border of background, as the photo's edge
            if seg:  # holes filled: the area the outline holds (a ring's pixels said 2,205 of its polygon's 5,023)
                area = int(mask_utils.area(mask_utils.merge(mask_utils.frPyObjects(seg, *mask.shape[:2]))))
        out.append({"segmentation": seg, "area": area, "bbox": [x, y, w, h], "iscrowd": 0})
    return out


def write_coco_predictions(out_dir: str | Path, segmentation: str = "polygon", path: str | Path | None = None,
                           min_area_px: int = 1, progress: bool = False) -> Path:
    """Write the masks of a batch job (``out_dir/results.json`` and its mask PNGs) as one COCO file.

    ``file_name`` of each image is its base name (annotation tools match photos by name), or, of a job named by folder
    (``--names-from-folders``: ``IMG_1.jpg`` in two folders), its path below the photos' common folder
    (``day1/IMG_1.jpg``, as a folder of photos uploaded whole is named there); the full path is kept under ``path``.
    A mask that cannot be read (damaged since the job), or is not of its photo's size (written over since), has no
    annotations there, so it is listed in ``info.masks_not_read`` (image, prompt, reason): :func:`coco_masks_not_read`
    reads them back for the caller to report; so is a photo whose entry in ``results.json`` is not readable (edited by
    hand: its reason starts with ``not readable in results.json``). A mask left empty as no answer (emptied by
    ``--min-confidence``, a prompt the prompt gate refused: :func:`~drywallqa.rules.unchecked`) is listed in
    ``info.masks_not_answered``, not taken for one in which nothing was found. ``info.tiling`` is the job's tiling
    (``results.json``'s ``tiling``: null where photos were predicted whole; left out where that ``results.json``, an
    older version's, does not say). Returns the file written (default ``out_dir/predictions.coco.json``).
    ``progress``: a bar over the photos (each mask is read again and traced: minutes for thousands of photos).

    Raises:
        FileNotFoundError: ``out_dir`` holds no ``results.json``.
        ValueError: an unknown ``segmentation`` format.
    """
    if segmentation not in SEGMENTATION_FORMATS:
        raise ValueError(f"segmentation must be one of {SEGMENTATION_FORMATS}, got {segmentation!r}")
    out = Path(out_dir)
    results = read_batch_results(out)
    categories = [{"id": i + 1, "name": p, "supercategory": "prompt"} for i, p in enumerate(results["prompts"])]
    from ..rules import unchecked

    images, annotations, unanswered = [], [], []
    # photos whose entry in results.json was edited into what cannot be read (by hand, another program): no annotations
    skipped = [f"{path}: {why}" for path, why in results["failed"] if why.startswith(NOT_READABLE)]
    listed = []
    for entry in results["images"]:
        if "height" in entry and "width" in entry:
            listed.append(entry)
        else:  # (a results.json made by hand or another program: the report and the table do without them)
            skipped.append(f"{entry['image']}: {NOT_READABLE}: it has no 'height' and 'width' (the photo's size in "
                           "pixels, which a COCO file gives)")
    from ..engine.batch import NAMES_FOLDERS

    below = _common_folder(listed) if results.get("names") == NAMES_FOLDERS else None
    for image_id, entry in enumerate(progress_bar(sorted(listed, key=lambda e: e["image"]), desc="predictions.coco.json",
                                                  disable=not progress), start=1):
        name = (Path(os.path.relpath(os.path.abspath(entry["image"]), below)).as_posix() if below
                else Path(entry["image"]).name)
        images.append({"id": image_id, "file_name": name, "width": entry["width"],
                       "height": entry["height"], "path": entry["image"]})
        for category in categories:
            mask_file = out / entry["prompts"][category["name"]]["mask"]
            try:
                mask = read_mask(mask_file, max_pixels=photo_pixels(entry))  # the photo's size (the job's --max-pixels)
            except (ImageReadError, OSError) as exc:
                skipped.append(f"{entry['image']} {category['name']!r}: {mask_file} not read ({exc})")
                continue
            if mask.shape != (entry["height"], entry["width"]):  # written over at another size since: its regions
                # would be placed on the photo at that size's coordinates (a half-size mask's in its top-left quarter)
                skipped.append(f"{entry['image']} {category['name']!r}: {mask_file} not read ({mask.shape[1]}x"
                               f"{mask.shape[0]} px where the photo is {entry['width']}x{entry['height']})")
                continue
            why = unchecked(entry["prompts"][category["name"]])
            if why is not None:  # no annotations, and not as "nothing found": an annotator is told
                unanswered.append(f"{entry['image']} {category['name']!r}: {why}")
            confidence = entry["prompts"][category["name"]].get("confidence")
            score = {"score": confidence} if confidence is not None else {}  # COCO results' field: the mask's confidence
            for body in mask_annotations(mask, segmentation, min_area_px):
                annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": category["id"],
                                    **body, **score})
    # how the model cut the photos into tiles, as results.json says it (null: whole); absent where an older job's says not
    tiling = {"tiling": results["tiling"]} if "tiling" in results else {}
    coco = {"info": {"description": "drywallqa predictions", "segmentation": segmentation, "masks_not_read": skipped,
                     "masks_not_answered": unanswered, **tiling},
            "images": images, "categories": categories, "annotations": annotations}
    return write_text_atomic(json.dumps(coco), Path(path) if path else out / "predictions.coco.json")


def _common_folder(entries: list) -> str | None:
    """The deepest folder holding the photos of ``entries`` (a job named by folder's: their COCO ``file_name`` is their
    path below it), or None where they have none (paths on two drives)."""
    try:
        return os.path.commonpath([os.path.dirname(os.path.abspath(e["image"])) for e in entries]) if entries else None
    except (ValueError, TypeError):
        return None


def coco_masks_not_read(path: str | Path) -> list[str]:
    """The masks a COCO file of :func:`write_coco_predictions` lacks because they could not be read."""
    return list(json.loads(Path(path).read_text()).get("info", {}).get("masks_not_read", []))
