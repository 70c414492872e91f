"""Paired comparison of two models from their ``drywallqa evaluate`` (or ``make benchmark``) reports.

    python benchmarks/compare_reports.py OLD_DIR NEW_DIR --out out/compare [--pool "group-clean val,group-clean test"]

Each ``*_DIR`` holds the ``per_image.csv`` of one evaluation. For every split, dataset and prompt that
both hold, the images scored by both are paired and the script reports the mean IoU of each model,
the mean per-image difference (NEW - OLD) with its 95% bootstrap interval, resampling whole source
photos (the file-name stem before ``.rf.``, as ``drywallqa evaluate`` does), and on how many images
NEW is better or worse by more than 0.01. Two models that differ by less than that interval are not
told apart by the split. ``--pool`` adds, per dataset and prompt, one row over the named splits
together (name disjoint splits only, e.g. the group-clean val and test parts).

Writes ``compare.json`` and ``compare.md``.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from drywallqa.data.sample import source_group
from drywallqa.metrics import bootstrap_ci
from drywallqa.utils.files import write_text_atomic
from drywallqa.utils.formats import cell_text, strict_json
from drywallqa.utils.paths import check_writable_path

COLUMNS = ("split", "dataset", "prompt", "image", "iou")  # of per_image.csv that the comparison reads


def read_ious(report_dir: Path) -> dict[tuple[str, str, str], dict[str, float]]:
    """``(split, dataset, prompt) -> {image path: IoU}`` from ``report_dir/per_image.csv``.

    Raises:
        SystemExit: naming the file (and the line) when it is missing, not text, lacks one of ``COLUMNS``, or holds a
            line cut short, one with more fields than the header, an IoU that is not a number in [0, 1] or an image
            listed twice for one split, dataset and prompt (two reports joined: which IoU would count?).
    """
    path = Path(report_dir) / "per_image.csv"
    if not path.is_file():
        raise SystemExit(f"{path}: not found; pass a folder written by drywallqa evaluate or make benchmark")
    out: dict = defaultdict(dict)
    first_line: dict = {}  # (split, dataset, prompt, image) -> the line it was read on
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:  # a byte-order mark (a spreadsheet saved it) is none of the header
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise SystemExit(f"{path}: no column {', '.join(missing)} (its header: {', '.join(header) or 'none'}); "
                                 "pass the per_image.csv of drywallqa evaluate or make benchmark")
            for row in reader:
                where = f"{path}, line {reader.line_num}"
                if None in row or any(row[c] is None for c in COLUMNS):
                    raise SystemExit(f"{where}: {'more' if None in row else 'fewer'} fields than the header names "
                                     "(a file cut short or damaged); write it again with drywallqa evaluate")
                try:
                    iou = float(row["iou"])
                except ValueError:
                    iou = math.nan
                if not 0 <= iou <= 1:
                    raise SystemExit(f"{where}: iou {row['iou'][:30]!r} is not a number in [0, 1]")
                row.update({c: cell_text(row[c]) for c in ("split", "dataset", "prompt", "image")})  # as evaluate
                key = (row["split"], row["dataset"], row["prompt"])  # named them ('-x' is guarded in the file)
                if (*key, row["image"]) in first_line:  # the later line silently won
                    raise SystemExit(f"{where}: {row['image'][:200]} is listed again for {key[0]} / {key[1]} / "
                                     f"{key[2]!r} (first on line {first_line[(*key, row['image'])]}); one line per "
                                     "image: compare one evaluation's per_image.csv, not two joined")
                first_line[(*key, row["image"])] = reader.line_num
                out[key][row["image"]] = iou
    except (UnicodeDecodeError, csv.Error) as exc:
        raise SystemExit(f"{path}: not a CSV table ({type(exc).__name__}: {str(exc)[:120]})") from None
    return dict(out)


def paired_row(old: dict[str, float], new: dict[str, float]) -> dict | None:
    """Mean IoU of both, mean paired difference with its grouped bootstrap interval, wins and losses."""
    images = sorted(set(old) & set(new))
    if not images:
        return None
    a, b = np.array([old[i] for i in images]), np.array([new[i] for i in images])
    diff = b - a
    lo, hi = bootstrap_ci(diff, [source_group(i) for i in images])
    return {"images": len(images), "old_mIoU": float(a.mean()), "new_mIoU": float(b.mean()),
            "difference": float(diff.mean()), "difference_ci95": [lo, hi],
            "new_better": int((diff > 0.01).sum()), "new_worse": int((diff < -0.01).sum())}


def compare(old_dir: Path, new_dir: Path, pool: list[str] | None = None) -> list[dict]:
    old, new = read_ious(old_dir), read_ious(new_dir)
    rows = []
    for key in sorted(set(old) & set(new)):
        row = paired_row(old[key], new[key])
        if row:
            rows.append({"split": key[0], "dataset": key[1], "prompt": key[2], **row})
    if pool:
        for name, report in (("OLD", old), ("NEW", new)):  # a pooled row of one report's splits only is no pooled row
            missing = [s for s in pool if s not in {k[0] for k in report}]
            if missing:
                raise SystemExit(f"--pool names splits that the {name} report does not hold: {missing} (it holds "
                                 f"{sorted({k[0] for k in report})})")
        for dataset, prompt in sorted({(k[1], k[2]) for k in set(old) & set(new) if k[0] in pool}):
            held = {name: [s for s in pool if (s, dataset, prompt) in report] for name, report in (("OLD", old), ("NEW", new))}
            if held["OLD"] != held["NEW"]:  # the pooled row would compare different photos
                raise SystemExit(f"--pool: for {dataset} / {prompt!r} the OLD report holds {held['OLD']} and the NEW "
                                 f"report {held['NEW']} of {pool}; a pooled row would leave some out of one side")
            if held["OLD"] != list(pool):  # neither has them (a dataset without a test part, say): no pooled row
                print(f"--pool: no pooled row for {dataset} / {prompt!r}: neither report holds "
                      f"{[s for s in pool if s not in held['OLD']]} for it", file=sys.stderr)
                continue
            merged_old, merged_new = {}, {}
            for split in pool:
                merged_old.update(old.get((split, dataset, prompt), {}))
                merged_new.update(new.get((split, dataset, prompt), {}))
            row = paired_row(merged_old, merged_new)
            if row:
                rows.append({"split": " + ".join(pool), "dataset": dataset, "prompt": prompt, **row})
    return rows


def to_markdown(rows: list[dict], old_dir: Path, new_dir: Path) -> str:
    lines = [f"# Paired comparison: OLD = `{old_dir}`, NEW = `{new_dir}`", "",
             "Per image IoU, paired; 95% interval of the mean difference by bootstrap over source photos.", "",
             "| split | dataset | prompt | images | OLD mIoU | NEW mIoU | NEW - OLD | 95% CI | NEW better / worse (> 0.01) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lo, hi = r["difference_ci95"]
        lines.append(f"| {r['split']} | {r['dataset']} | {r['prompt']} | {r['images']} | {r['old_mIoU']:.3f} | "
                     f"{r['new_mIoU']:.3f} | {r['difference']:+.3f} | "
                     + (f"{lo:+.3f} to {hi:+.3f}" if math.isfinite(lo) else "n/a (one source photo)")
                     + f" | {r['new_better']} / {r['new_worse']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old", type=Path, help="folder with the OLD model's per_image.csv")
    parser.add_argument("new", type=Path, help="folder with the NEW model's per_image.csv")
    parser.add_argument("--out", type=Path, default=Path("out/compare"))
    parser.add_argument("--pool", default=None, help="comma-separated disjoint splits to pool, e.g. 'group-clean val,group-clean test' (split names as in per_image.csv)")
    args = parser.parse_args()
    pool = [s.strip() for s in args.pool.split(",")] if args.pool else None
    if pool is not None and (len(set(pool)) < 2 or len(set(pool)) < len(pool) or "" in pool):
        parser.error(f"--pool {args.pool!r}: two or more different splits, separated by commas (a split named twice "
                     "made an 'A + A' row of A's images)")
    try:  # before the reports are read
        check_writable_path(args.out, folder=True)
    except ValueError as exc:
        parser.error(f"--out: {exc}")
    rows = compare(args.old, args.new, pool)
    if not rows:
        raise SystemExit("the two reports share no split, dataset and prompt with the same images")
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(strict_json({"old": str(args.old), "new": str(args.new), "rows": rows}, indent=1),
                      args.out / "compare.json")
    markdown = to_markdown(rows, args.old, args.new)
    write_text_atomic(markdown, args.out / "compare.md")
    print(markdown)


if __name__ == "__main__":
    from drywallqa.utils.signals import run_main

    run_main(main)  # Ctrl-C: one line and exit 130, as a drywallqa command
