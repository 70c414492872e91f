"""Speed of what a batch job writes per mask besides the mask itself: the QA measures (``mask_measures``, joints
included) and the COCO annotations of ``predict --coco`` (polygons and RLE), on synthetic masks of photo size.

    python benchmarks/batch_outputs.py --out out/batch_outputs [--repeats 3] [--threads 2]

The masks (seeded): ``specks`` (200 single-pixel regions), ``blobs`` (50 filled ellipses), ``cracks`` (30 thin
polylines), each at 12 MP (4000 x 3000, a phone photo) and 1 MP. COCO coding is timed as shipped (each region within
its own box) and as whole-photo coding of each region (how it was coded up to 0.6.14), which also checks that both
give the very same annotations. Median over ``--repeats`` runs. Writes ``batch_outputs.json`` and ``batch_outputs.md``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from pycocotools import mask as mask_utils

from drywallqa.data.coco_export import mask_annotations, region_polygons
from drywallqa.measures import mask_measures
from drywallqa.utils.argtypes import positive_int
from drywallqa.utils.files import write_text_atomic
from drywallqa.utils.formats import strict_json
from drywallqa.utils.paths import check_writable_path
from drywallqa.utils.progress import progress_bar

SIZES = {"12 MP": (3000, 4000), "1 MP": (750, 1334)}


def synthetic_mask(kind: str, shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """A seeded ``(H, W)`` bool mask of ``kind`` (specks, blobs or cracks)."""
    rng = np.random.default_rng(seed)
    h, w = shape
    canvas = np.zeros(shape, np.uint8)
    if kind == "specks":
        ys, xs = rng.integers(0, h, 200), rng.integers(0, w, 200)
        canvas[ys, xs] = 1
    elif kind == "blobs":
        for _ in range(50):
            centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            axes = (int(rng.integers(5, max(6, w // 40))), int(rng.integers(5, max(6, h // 40))))
            cv2.ellipse(canvas, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    elif kind == "cracks":
        for _ in range(30):
            points = np.cumsum(rng.normal(0, w / 60, (12, 2)), axis=0) + rng.uniform((0, 0), (w, h))
            cv2.polylines(canvas, [points.astype(np.int32).reshape(-1, 1, 2)], False, 1, int(rng.integers(1, 6)))
    else:
        raise ValueError(f"unknown mask kind {kind!r}")
    return canvas.astype(bool)


def whole_photo_annotations(mask: np.ndarray, segmentation: str) -> list[dict]:
    """COCO annotations with each region coded over the whole photo (the reference the shipped coding must equal)."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    out = []
    for i in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[i])
        region = labels == i
        if segmentation == "rle":
            rle = mask_utils.encode(np.asfortranarray(region.astype(np.uint8)))
            seg = {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}
        else:
            seg = region_polygons(region)
            if seg:  # the area its polygon covers (holes filled), as the shipped coding gives it
                area = int(mask_utils.area(mask_utils.merge(mask_utils.frPyObjects(seg, *mask.shape[:2]))))
        out.append({"segmentation": seg, "area": area, "bbox": [x, y, w, h], "iscrowd": 0})
    return out


def median_seconds(fn, repeats: int):
    """The median wall time of ``fn()`` over ``repeats`` runs, and its last result."""
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def run(repeats: int = 3, sizes: dict | None = None, reference: bool = True, progress: bool = False) -> list[dict]:
    """One row per mask kind and size: regions, seconds for the measures and for each COCO coding (``progress``: a bar
    over them)."""
    rows = []
    cases = [(size_name, shape, kind) for size_name, shape in (sizes or SIZES).items()
             for kind in ("specks", "blobs", "cracks")]
    for size_name, shape, kind in progress_bar(cases, desc="masks timed", disable=not progress):
        mask = synthetic_mask(kind, shape)
        row = {"mask": kind, "size": size_name, "pixels": int(mask.size),
               "regions": int(cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)[0] - 1)}
        row["s_mask_measures"] = median_seconds(lambda: mask_measures(mask, joints=True), repeats)[0]
        for seg in ("polygon", "rle"):
            row[f"s_coco_{seg}"], got = median_seconds(lambda: mask_annotations(mask, seg), repeats)
            if reference:
                row[f"s_coco_{seg}_whole_photo"], want = median_seconds(lambda: whole_photo_annotations(mask, seg), 1)
                row[f"coco_{seg}_same"] = got == want
        rows.append(row)
    return rows


def markdown(rows: list[dict], threads: int, repeats: int) -> str:
    lines = [f"# Batch outputs per mask ({threads} threads, median of {repeats} runs; `benchmarks/batch_outputs.py`)", "",
             "| mask | size | regions | mask_measures s | COCO polygon s (whole-photo s) | COCO RLE s (whole-photo s) | same |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        ref = lambda seg: f" ({r[f's_coco_{seg}_whole_photo']:.2f})" if f"s_coco_{seg}_whole_photo" in r else ""  # noqa: E731
        same = {r.get("coco_polygon_same"), r.get("coco_rle_same")}
        lines.append(f"| {r['mask']} | {r['size']} | {r['regions']} | {r['s_mask_measures']:.2f} | "
                     f"{r['s_coco_polygon']:.2f}{ref('polygon')} | {r['s_coco_rle']:.2f}{ref('rle')} | "
                     f"{'yes' if same == {True} else 'n/a' if same == {None} else 'NO'} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/batch_outputs"))
    parser.add_argument("--repeats", type=positive_int, default=3)
    parser.add_argument("--threads", type=positive_int, default=2)
    parser.add_argument("--no-reference", action="store_true", help="Skip the whole-photo coding (slow at 12 MP).")
    args = parser.parse_args()
    try:  # before the run: a file there (or a folder that cannot be written) failed only as the reports were written
        check_writable_path(args.out, folder=True)
    except ValueError as exc:
        parser.error(f"--out: {exc}")
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    rows = run(args.repeats, reference=not args.no_reference, progress=True)
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(strict_json({"threads": args.threads, "repeats": args.repeats, "rows": rows}),
                      args.out / "batch_outputs.json")
    write_text_atomic(markdown(rows, args.threads, args.repeats), args.out / "batch_outputs.md")
    print(markdown(rows, args.threads, args.repeats))


if __name__ == "__main__":
    from drywallqa.utils.signals import run_main

    run_main(main)  # Ctrl-C: one line and exit 130, as a drywallqa command
