"""Large photos: the shipped model on whole photos vs tile by tile (``Segmenter.load(tile=...)``).

    python benchmarks/large_photos.py --out out/large_photos [--grid 3] [--tile 640] [--limit N]

A large photo of a wall is simulated by a mosaic of ``grid`` x ``grid`` published valid photos (640 px
each, so 1920x1920 for a grid of 3) with the mosaic of their ground truths: every crack keeps the scale
it had in the dataset, as in a high-resolution photo of a larger stretch of wall. Scores the canonical
prompt of each dataset (mIoU, centre-line F1 as in ``drywallqa evaluate``) and the median seconds per
mosaic (2 threads), and writes ``large_photos.json``, ``large_photos.md`` and ``large_photos.png`` (the
first mosaic of each dataset: input | ground truth | one column per mode).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from drywallqa import Segmenter
from drywallqa.cli.common import error_message
from drywallqa.data.registry import get_dataset_config
from drywallqa.data.sample import load_split
from drywallqa.engine.evaluator import check_eval_out, scoring_label_shape
from drywallqa.metrics import CenterlineMeter, SegmentationMeter, label_and_valid
from drywallqa.utils.argtypes import at_least, fraction_below, positive_int
from drywallqa.utils.files import write_text_atomic
from drywallqa.utils.formats import strict_json
from drywallqa.utils.image_io import read_image
from drywallqa.utils.paths import check_writable_path
from drywallqa.utils.progress import progress_bar
from drywallqa.viz import grid, overlay

DATASETS = ("cracks", "taping")


def check_grid(grid: int, photos: dict[str, int]) -> None:
    """Refuse a ``grid`` whose mosaics take more photos than a dataset's published valid split holds (``photos``:
    dataset -> photos): it would make no mosaic of that dataset.

    Raises:
        ValueError: naming the dataset, its photos and the largest grid it allows.
    """
    for dataset, n in photos.items():
        if grid**2 > n:
            largest = f"choose --grid {math.isqrt(n)} or less" if n else "no grid makes a mosaic of it (no photo read)"
            raise ValueError(f"--grid {grid}: a mosaic takes {grid}x{grid} = {grid**2} photos, more than the {n} "
                             f"published valid photos of {dataset}; {largest}")


def mosaics(samples: list, grid: int, side: int = 640, limit: int | None = None):
    """Yield ``(image, target)`` mosaics of ``grid`` x ``grid`` of ``samples`` (a published valid split), each photo
    resized to ``side``; the target as :meth:`~drywallqa.data.sample.Sample.load_target` reads it (its 'ignore'
    pixels :data:`~drywallqa.utils.image_io.IGNORE_VALUE`, scored nowhere, as ``evaluate`` scores)."""
    n = len(samples) // grid**2
    for k in range(min(n, limit) if limit else n):
        tiles = samples[k * grid**2:(k + 1) * grid**2]
        image = np.zeros((grid * side, grid * side, 3), np.uint8)
        gt = np.zeros((grid * side, grid * side), np.uint8)
        for i, s in enumerate(tiles):
            y, x = (i // grid) * side, (i % grid) * side
            image[y:y + side, x:x + side] = cv2.resize(read_image(s.image_path), (side, side), interpolation=cv2.INTER_AREA)
            gt[y:y + side, x:x + side] = cv2.resize(s.load_target(), (side, side), interpolation=cv2.INTER_NEAREST)
        yield image, gt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("out/large_photos"))
    ap.add_argument("--grid", type=positive_int, default=3)
    ap.add_argument("--tile", type=at_least(32), default=640)
    ap.add_argument("--overlap", type=fraction_below(0.9), default=0.25)
    ap.add_argument("--limit", type=positive_int, default=None, help="mosaics per dataset (smoke runs only)")
    ap.add_argument("--model-path", type=Path, default=None)
    args = ap.parse_args()
    valid = {dataset: load_split(dataset, "valid")[0] for dataset in DATASETS}
    try:  # before the models load
        check_grid(args.grid, {dataset: len(samples) for dataset, samples in valid.items()})
        check_writable_path(args.out, folder=True)
        check_eval_out(args.out, DATASETS)  # its picture was read as one of a split's photos
    except ValueError as exc:
        ap.error(str(exc))
    torch.set_num_threads(2)
    try:
        whole = Segmenter.load(args.model_path)
    except (OSError, ValueError, KeyError) as exc:  # a folder that is not there or no model's
        ap.error(f"--model-path: {error_message(exc)}")
    modes = {"whole photo": whole, f"tiles of {args.tile} px": Segmenter.load(args.model_path, tile=args.tile,
                                                                               tile_overlap=args.overlap)}
    args.out.mkdir(parents=True, exist_ok=True)
    rows, pictures, picture_labels = run_modes(modes, valid, args.grid, args.limit)
    side = 640 * args.grid
    report = {"mosaic": f"{args.grid}x{args.grid} published valid photos of 640 px = {side}x{side}", "tile": args.tile,
              "overlap": args.overlap, "threads": 2, "rows": rows}
    write_text_atomic(strict_json(report), args.out / "large_photos.json")
    md = [f"# Large photos ({report['mosaic']}, 2 threads)", "",
          "| dataset | prompt | mode | photos | mIoU | mDice | centre-line F1 | median s per photo |", "|---|---|---|---|---|---|---|---|"]
    md += [f"| {r['dataset']} | {r['prompt']} | {r['mode']} | {r['images']} | {r['mIoU']:.3f} | {r['mDice']:.3f} | "
           f"{r['centerline_F1']:.3f} | {r['median_s_per_photo']:.2f} |" for r in rows]
    write_text_atomic("\n".join(md) + "\n", args.out / "large_photos.md")
    if pictures:
        grid(pictures, ["input", "ground truth", *modes], args.out / "large_photos.png", cell=360,
             row_labels=picture_labels)
    print("\n".join(md))


def run_modes(modes: dict, valid: dict, grid_size: int, limit: int | None = None) -> tuple[list, list, list]:
    """Each mode (name -> segmenter) on the mosaics of each dataset (name -> its published valid samples): the
    report's rows (a dataset that makes no mosaic has none), and the picture of each dataset's first mosaic with
    its row label (the dataset's prompt), side by side so that they never drift apart."""
    rows, pictures, picture_labels = [], [], []
    for dataset, samples in valid.items():
        prompt = get_dataset_config(dataset).canonical_prompt
        shape = scoring_label_shape(dataset)  # against box labels: through the model's box adapter, as in evaluate
        meters = {m: (SegmentationMeter(), CenterlineMeter(), []) for m in modes}
        for k, (image, target) in enumerate(progress_bar(list(mosaics(samples, grid_size, limit=limit)), desc=dataset)):
            gt, valid = label_and_valid(target)  # its 'ignore' pixels in no score
            if k == 0:
                pictures.append([image, overlay(image, gt, (0, 255, 0))])
                picture_labels.append(prompt)
            for mode, seg in modes.items():
                t0 = time.perf_counter()
                mask = seg.predict(image, [prompt], label_shape=shape).masks[prompt]
                meters[mode][2].append(time.perf_counter() - t0)
                meters[mode][0].update(mask, gt, valid)
                meters[mode][1].update(mask, gt, valid=valid)
                if k == 0:
                    pictures[-1].append(overlay(image, mask))
        for mode, (iou, cl, secs) in meters.items():
            if secs:  # no mosaic: no row (check_grid refuses such a grid up front)
                rows.append({"dataset": dataset, "prompt": prompt, "mode": mode, **iou.compute(),
                             "centerline_F1": cl.compute()["centerline_F1"], "median_s_per_photo": statistics.median(secs)})
    return rows, pictures, picture_labels


if __name__ == "__main__":
    from drywallqa.utils.signals import run_main

    run_main(main)  # Ctrl-C: one line and exit 130, as a drywallqa command
