"""Tile sizes on photos framed like the training photos: the shipped model on published valid photos, whole and tile
by tile at several tile sizes (``Segmenter.load(tile=...)``), scored against their labels.

    python benchmarks/tile_sizes.py [--limit 12] [--tiles 512 384 256]

A tile is resized to the model's input size (512 px for the shipped model), so a smaller tile is enlarged; the row
``tile=T at T px`` predicts the same tiles at their own size (``scales=[T]``), which tells the enlarging apart from the
context a small tile loses. Prints, per dataset and mode, the mIoU (as ``drywallqa evaluate``), the mean mask pixels
and the mean confidence. Large photos of a whole wall: ``benchmarks/large_photos.py``.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from drywallqa import Segmenter
from drywallqa.data.registry import get_dataset_config
from drywallqa.data.sample import load_split
from drywallqa.engine.evaluator import scoring_label_shape
from drywallqa.engine.tiling import TiledSegmenter
from drywallqa.metrics import SegmentationMeter
from drywallqa.utils.argtypes import at_least, positive_int
from drywallqa.utils.image_io import read_image
from drywallqa.utils.progress import progress_bar

DATASETS = ("cracks", "taping")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=positive_int, default=12, help="photos per dataset (the first of its valid split)")
    ap.add_argument("--tiles", type=at_least(32), nargs="+", default=[512, 384, 256])
    ap.add_argument("--model-path", default="fast")
    args = ap.parse_args()
    torch.set_num_threads(2)
    whole = Segmenter.load(args.model_path)
    modes = {"whole photo": whole, **{f"tile={t}": TiledSegmenter(whole, t) for t in args.tiles}}
    smallest = min(args.tiles)
    if smallest % 32 == 0 and smallest < max(whole.scales):
        modes[f"tile={smallest} at {smallest} px"] = TiledSegmenter(Segmenter.load(args.model_path, scales=[smallest]),
                                                                    smallest)
    print("| dataset | mode | photos | mIoU | mean mask px | mean confidence |\n|---|---|---|---|---|---|")
    for dataset in DATASETS:
        samples = load_split(dataset, "valid")[0][:args.limit]
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
                print(f"| {dataset} | {mode} | {len(seen)} | {meter.compute()['mIoU']:.3f} | "
                      f"{np.mean([a for a, _ in seen]):.0f} | {np.nanmean([c for _, c in seen]):.3f} |", flush=True)


if __name__ == "__main__":
    from drywallqa.utils.signals import run_main

    run_main(main)
