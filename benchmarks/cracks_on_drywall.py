"""Cracks on drywall: the same cracks on their own photos and transplanted onto drywall-join photos.

    python benchmarks/cracks_on_drywall.py --out out/cracks_on_drywall [--model-path DIR ...] [--part val] [--limit N]

Each crack photo of the group-clean **test** part (no model of this project trains or selects on it)
lends the shading of its labelled crack to a drywall-join photo of the group-clean test part; what is
scored, and why, is in :mod:`drywallqa.engine.cracks_on_drywall`. ``--part val`` builds the same
composites from the group-clean val part (published valid/test photos left out), where models may be
compared and chosen; reported numbers come from the test part.

Writes ``cracks_on_drywall.json``, ``cracks_on_drywall.md`` and ``cracks_on_drywall.png`` (the first
composites: input | crack label | one column per model).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from drywallqa import Segmenter
from drywallqa.cli.common import error_message
from drywallqa.data.composite import SIGMA_FRACTION
from drywallqa.data.grouping import check_split_manifest
from drywallqa.engine.cracks_on_drywall import markdown_table, score_cracks_on_drywall, transplant_pairs
from drywallqa.engine.evaluator import check_eval_out
from drywallqa.utils.argtypes import positive_int
from drywallqa.utils.files import write_text_atomic
from drywallqa.utils.formats import strict_json
from drywallqa.utils.paths import check_writable_path
from drywallqa.viz import grid, overlay


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("out/cracks_on_drywall"))
    ap.add_argument("--model-path", type=Path, action="append", default=None,
                    help="model directory (repeatable); default: the shipped model")
    ap.add_argument("--splits-dir", default=None, help="default: ./splits, else the shipped manifests")
    ap.add_argument("--part", choices=("test", "val"), default="test", help="group-clean part (val: for choosing models)")
    ap.add_argument("--limit", type=positive_int, default=None, help="crack photos (smoke runs only)")
    args = ap.parse_args()
    try:  # before the run: a file there (or a folder that cannot be written) failed only as the reports were written
        check_writable_path(args.out, folder=True)
        check_eval_out(args.out, ("cracks", "taping"))  # its picture was read as one of a split's photos
    except ValueError as exc:
        ap.error(f"--out: {exc}")
    try:  # the group-clean parts' manifests: a traceback once the models had loaded
        for dataset in ("cracks", "taping"):
            check_split_manifest(dataset, args.splits_dir)
    except FileNotFoundError as exc:
        ap.error(f"--splits-dir: {exc}")
    try:  # before the models load: no photo of a part read was a ValueError traceback after
        pairs = transplant_pairs(args.part, args.splits_dir, limit=args.limit)
    except ValueError as exc:
        raise SystemExit(f"error: {exc} (were its photos read? the datasets folder: DRYWALLQA_DATASETS)") from None
    torch.set_num_threads(2)
    paths = args.model_path or [None]
    twice = [str(p) for p in paths if paths.count(p) > 1]  # one column was kept, without a word
    if twice:
        ap.error(f"--model-path: {twice[0]} is given twice: name each model once")
    names = [p.name if p else "shipped" for p in paths]
    if len(set(names)) < len(names):  # e.g. two runs' best/: tell them apart by their whole path
        names = [str(p) if p else "shipped" for p in paths]
    try:
        models = {name: Segmenter.load(p) for name, p in zip(names, paths)}
    except (OSError, ValueError, KeyError) as exc:  # a folder that is not there or no model's
        ap.error(f"--model-path: {error_message(exc)}")
    rows, shown = score_cracks_on_drywall(models, pairs, examples=4)
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(strict_json({"part": args.part, "sigma_fraction": SIGMA_FRACTION, "rows": rows}),
                      args.out / "cracks_on_drywall.json")
    md = markdown_table(rows, args.part)
    write_text_atomic(md, args.out / "cracks_on_drywall.md")
    pictures = [[c.composite, overlay(c.composite, c.crack_label, (0, 255, 0))]
                + [overlay(c.composite, masks[name]) for name in models] for c, masks in shown]
    grid(pictures, ["composite", "crack label", *models], args.out / "cracks_on_drywall.png", cell=300)
    print(md)


if __name__ == "__main__":
    from drywallqa.utils.signals import run_main

    run_main(main)  # Ctrl-C: one line and exit 130, as a drywallqa command
