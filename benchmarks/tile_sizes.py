"""Tile sizes on photos framed like the training photos: the shipped model on published valid photos (``--split
val``: the group-clean val part, published valid/test photos left out, where options may be chosen), whole and tile
by tile at several tile sizes (``Segmenter.load(tile=...)``), scored against their labels.

    python benchmarks/tile_sizes.py [--split published|val] [--limit 12] [--tiles 512 384 256] [--out out/tile_sizes]

A tile smaller than the model's input size (512 px for the shipped model) is seen at its own size; the row ``tile=T
enlarged`` resizes the same tiles to the input size (``enlarge=True``, as up to 0.6.28), which tells the enlarging
apart from the context a small tile loses. Writes, per dataset and mode, the mIoU (as ``drywallqa evaluate``), the mean mask pixels
and the mean confidence to ``tile_sizes.json`` and ``tile_sizes.md`` in ``--out`` (and prints the table). Large photos of a whole wall: ``benchmarks/large_photos.py``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from drywallqa import Segmenter
from drywallqa.cli.common import error_message
from drywallqa.data.grouping import GROUP_LEFT_OUT, check_split_manifest, samples_of_part
from drywallqa.data.registry import get_dataset_config
from drywallqa.data.sample import load_split
from drywallqa.engine.evaluator import scoring_label_shape
from drywallqa.engine.tiling import TiledSegmenter
from drywallqa.metrics import SegmentationMeter
from drywallqa.utils.argtypes import at_least, positive_int
from drywallqa.utils.files import write_text_atomic
from drywallqa.utils.formats import strict_json
from drywallqa.utils.image_io import read_image
from drywallqa.utils.paths import check_writable_path
from drywallqa.utils.progress import progress_bar

DATASETS = ("cracks", "taping")
SPLITS = {"published": "published valid", "val": "group-clean val"}  # --split: the photos scored, as evaluate names them


def split_samples(dataset: str, split: str, splits_dir=None) -> list:
    """The photos of ``dataset`` that ``split`` (a key of :data:`SPLITS`) names, in their split's order."""
    if split == "val":
        return samples_of_part(dataset, "val", splits_dir, exclude_published=GROUP_LEFT_OUT["val"])
    return load_split(dataset, "valid")[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=tuple(SPLITS), default="published",
                    help="published: the published valid split; val: the group-clean val part (for choosing options)")
    ap.add_argument("--splits-dir", default=None, help="--split val: default ./splits, else the shipped manifests")
    ap.add_argument("--limit", type=positive_int, default=12, help="photos per dataset (the first of --split)")
    ap.add_argument("--datasets", choices=DATASETS, nargs="+", default=list(DATASETS))
    ap.add_argument("--tiles", type=at_least(32), nargs="+", default=[512, 384, 256])
    ap.add_argument("--model-path", default="fast")
    ap.add_argument("--out", type=Path, default=Path("out/tile_sizes"))
    args = ap.parse_args()
    try:
        check_writable_path(args.out, folder=True)
    except ValueError as exc:
        ap.error(str(exc))
    if args.split == "val":
        try:  # the group-clean parts' manifests: a traceback once the model had loaded
            for dataset in args.datasets:
                check_split_manifest(dataset, args.splits_dir)
        except FileNotFoundError as exc:
            ap.error(f"--splits-dir: {exc}")
    torch.set_num_threads(2)
    try:
        whole = Segmenter.load(args.model_path)
    except (OSError, ValueError, KeyError) as exc:  # a folder that is not there or no model's
        ap.error(f"--model-path: {error_message(exc)}")
    modes = {"whole photo": whole, **{f"tile={t}": TiledSegmenter(whole, t) for t in args.tiles}}
    for t in sorted(set(args.tiles), reverse=True):  # each tile smaller than the input: also enlarged to it, as before
        if TiledSegmenter(whole, t, enlarge=True).tile_scales() != TiledSegmenter(whole, t).tile_scales():
            modes[f"tile={t} enlarged"] = TiledSegmenter(whole, t, enlarge=True)
    md = [f"# Tile sizes ({SPLITS[args.split]} photos, 2 threads)", "",
          "| dataset | mode | photos | mIoU | mean mask px | mean confidence |", "|---|---|---|---|---|---|"]
    print("\n".join(md[2:]))
    rows = []
    for dataset in dict.fromkeys(args.datasets):
        samples = split_samples(dataset, args.split, args.splits_dir)[:args.limit]
        prompt = get_dataset_config(dataset).canonical_prompt
        shape = scoring_label_shape(dataset)  # against box labels: through the model's box adapter, as in evaluate
        meters = {m: (SegmentationMeter(), []) for m in modes}
        for s in progress_bar(samples, desc=dataset):
            image, gt = read_image(s.image_path), s.load_mask()
            for mode, seg in modes.items():
                result = seg.predict(image, [prompt], label_shape=shape)
                meters[mode][0].update(result.masks[prompt], gt)
                meters[mode][1].append((int(result.masks[prompt].sum()), result.confidence[prompt]))
        for mode, (meter, seen) in meters.items():
            if seen:
                rows.append({"dataset": dataset, "mode": mode, "photos": len(seen), "mIoU": meter.compute()["mIoU"],
                             "mean_mask_px": float(np.mean([a for a, _ in seen])),
                             "mean_confidence": float(np.nanmean([c for _, c in seen]))})
                r = rows[-1]
                md.append(f"| {dataset} | {mode} | {r['photos']} | {r['mIoU']:.3f} | {r['mean_mask_px']:.0f} | "
                          f"{r['mean_confidence']:.3f} |")
                print(md[-1], flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(strict_json({"model_path": str(args.model_path), "split": SPLITS[args.split], "limit": args.limit, "threads": 2, "rows": rows}),
                      args.out / "tile_sizes.json")
    write_text_atomic("\n".join(md) + "\n", args.out / "tile_sizes.md")


if __name__ == "__main__":
    from drywallqa.utils.signals import run_main

    run_main(main)
