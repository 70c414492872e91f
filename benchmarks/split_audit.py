"""Audit of a group-clean split: val and test photos that are the same photo as a training photo, searched without
the thumbnail gate of ``data split``.

    python benchmarks/split_audit.py --dataset taping --out out/split_audit [--splits-dir DIR] [--top 4]
        [--per-image out/benchmark/per_image.csv] [--reuse]

``data split`` compares two photos closely (:func:`drywallqa.data.grouping.near_duplicates`) only where their 32 px
thumbnails are already alike (within ``CANDIDATE_DIFF``): cheap, but a photo turned by a few degrees, cropped by
more than about a tenth, or a board shot again from a step aside is not looked at. Here every val and test photo
(and its mirror image) votes with its ORB features (500 at 384 px) for the training photos (those of the train part
that training reads: not the published valid and test photos) that share the most of them; the ``--top`` training photos with at least 10 votes each are put to ``near_duplicates``. Writes
``<dataset>.json``/``.md`` under ``--out``: per part, the photos with a training photo ``near_duplicates`` calls the
same, and that photo, with their thumbnail distance; with ``--per-image`` (an evaluate run's ``per_image.csv``), the
group-clean test mIoU with and without them. Minutes on 2 cores (taping about 2, cracks about 13). The JSON is what
``drywallqa data split --update --join`` takes to move the photos found to their training copies' part.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import torch

from drywallqa.data.grouping import (GROUP_LEFT_OUT, GroupSplit, _dihedral, _Features, check_split_manifest,
                                     near_duplicates, published_split_of, split_manifest_path, thumbnail)
from drywallqa.data.registry import get_dataset_config
from drywallqa.data.sample import source_group
from drywallqa.utils.argtypes import positive_int
from drywallqa.utils.files import write_text_atomic
from drywallqa.utils.formats import cell_text, strict_json
from drywallqa.utils.image_io import ImageReadError, read_image
from drywallqa.utils.paths import check_writable_path
from drywallqa.utils.progress import progress_bar

VOTE_SIDE, VOTE_FEATURES, VOTE_DISTANCE, MIN_VOTES = 384, 500, 48, 10
CHUNK = 250_000  # descriptors per matcher call (OpenCV's brute-force matcher takes fewer than 2**18 at once)


def _nearest_owners(matcher, query: np.ndarray, base: np.ndarray, owners: np.ndarray) -> np.ndarray:
    """The training photo of each query descriptor's nearest base descriptor, where that is within VOTE_DISTANCE."""
    best = np.full(len(query), np.inf)
    owner = np.full(len(query), -1)
    for start in range(0, len(base), CHUNK):
        for m in matcher.match(query, base[start:start + CHUNK]):
            if m.distance < best[m.queryIdx]:
                best[m.queryIdx], owner[m.queryIdx] = m.distance, owners[start + m.trainIdx]
    return owner[best < VOTE_DISTANCE]


def _vote_features(path: Path, orb, mirrored: bool):
    grey = cv2.cvtColor(read_image(path), cv2.COLOR_RGB2GRAY)
    scale = VOTE_SIDE / max(grey.shape)
    grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else grey
    return orb.detectAndCompute(np.ascontiguousarray(grey[:, ::-1]) if mirrored else grey, None)[1]


def _thumbnail_distance(a: Path, b: Path) -> float:
    both = torch.from_numpy(np.stack([thumbnail(a), thumbnail(b)]))
    return min(float((both[0].flatten() - v[1]).abs().mean()) for v in _dihedral(both))


def audit(dataset: str, splits_dir, datasets_dir, top: int) -> dict:
    """Each val and test photo of the manifest against the training photos (module docstring); the photos it names
    that are not there are counted per part (``photos_not_found``), not audited.

    Raises:
        FileNotFoundError: no manifest (:func:`check_split_manifest`).
        ValueError: none of the training photos the manifest names can be read (a wrong ``datasets_dir``).
    """
    config = get_dataset_config(dataset)
    root = config.root(datasets_dir)
    split = GroupSplit.from_json(check_split_manifest(dataset, splits_dir))
    not_found = {part: n for part, files in split.parts.items() if (n := sum(not (root / f).is_file() for f in files))}
    train = [f for f in split.parts.get("train", []) if (root / f).is_file()  # what training reads of the part
             and published_split_of(config, root, f) not in GROUP_LEFT_OUT["train"]]
    held = [(part, f) for part in split.parts if part != "train" for f in split.parts[part] if (root / f).is_file()]
    orb, owners, descriptors = cv2.ORB_create(VOTE_FEATURES), [], []
    for n, f in enumerate(progress_bar(train, desc=f"{config.name}: train features")):
        try:
            d = _vote_features(root / f, orb, False)
        except ImageReadError:
            continue
        if d is not None:
            descriptors.append(d)
            owners += [n] * len(d)
    if not descriptors:  # np.vstack stopped with "need at least one array to concatenate"
        raise ValueError(f"none of the {len(split.parts.get('train', []))} training photos of the manifest could be read "
                         f"under {root} ({not_found.get('train', 0)} not there): is --datasets-dir right?")
    base, owners = np.vstack(descriptors), np.asarray(owners)
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    features = _Features([root / f for f in train] + [root / f for _, f in held])
    found = {part: [] for part in split.parts if part != "train"}
    for k, (part, f) in enumerate(progress_bar(held, desc=f"{config.name}: val and test photos")):
        candidates = Counter()
        for mirrored in (False, True):
            try:
                d = _vote_features(root / f, orb, mirrored)
            except ImageReadError:
                break
            if d is not None:
                candidates.update(Counter(_nearest_owners(matcher, d, base, owners).tolist()))
        for n, votes in candidates.most_common(top):
            if votes >= MIN_VOTES and (near_duplicates(features, n, len(train) + k)
                                       or near_duplicates(features, len(train) + k, n)):
                found[part].append({"photo": f, "train_photo": train[n], "votes": int(votes),
                                    "thumbnail_distance": round(_thumbnail_distance(root / f, root / train[n]), 3)})
                break
    return {"dataset": config.name, "manifest": str(split_manifest_path(splits_dir, config.manifest_name)),
            "parts": {part: len(split.parts[part]) for part in split.parts}, "photos_not_found": not_found,
            "same_photo_in_train": found}


def read_per_image(path: Path) -> list[dict]:
    """The rows of an evaluate run's ``per_image.csv`` (``iou`` a number in [0, 1]).

    Raises:
        ValueError: naming the file (and the line): missing, no CSV text, without a column the scores read, a line cut
            short or an IoU that is no number in [0, 1].
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: {'a folder' if path.is_dir() else 'not found'}; give an evaluate run's per_image.csv")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            missing = [c for c in ("split", "dataset", "prompt", "image", "iou") if c not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(f"{path}: no column {', '.join(missing)}; give an evaluate run's per_image.csv")
            rows = []
            for row in reader:
                row.update({c: cell_text(row[c]) for c in ("split", "dataset", "prompt", "image")
                            if row[c] is not None})
                try:
                    row["iou"] = float(row["iou"])
                except (TypeError, ValueError):
                    row["iou"] = float("nan")
                if not 0 <= row["iou"] <= 1 or None in row.values():
                    raise ValueError(f"{path}, line {reader.line_num}: cut short, or an IoU that is no number in [0, 1]")
                rows.append(row)
            return rows
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"{path}: not a CSV table ({type(exc).__name__}: {str(exc)[:120]})") from None


def scores_without(result: dict, per_image: Path, dataset: str | None = None) -> dict:
    """The canonical prompt's group-clean test mIoU in ``per_image`` (an evaluate run's per_image.csv) over all its
    photos, over those the audit found (and their copies by file name) and over the others. ``dataset``: the name or
    YAML file the audit was given (default: the registered dataset the result names)."""
    found = {source_group(r["photo"]) for r in result["same_photo_in_train"].get("test", [])}
    prompt = get_dataset_config(dataset or result["dataset"]).canonical_prompt
    rows = [r for r in read_per_image(per_image) if r["split"] == "group-clean test" and r["prompt"] == prompt
            and r["dataset"] == result["dataset"]]

    def of(kept) -> dict:
        ious = [r["iou"] for r in kept]
        return {"images": len(ious), "mIoU": float(np.mean(ious)) if ious else None}

    return {"prompt": prompt, "all": of(rows), "found": of([r for r in rows if source_group(r["image"]) in found]),
            "others": of([r for r in rows if source_group(r["image"]) not in found])}


def markdown(result: dict, per_image: Path | None = None) -> list[str]:
    """The audit's report, line by line: photos found per part (a table of them, where there are any), and with
    ``result["scores"]`` (from ``per_image``) the test part's mIoU with and without them."""
    lines = [f"# Split audit: {result['dataset']} ({result['manifest']})", "",
             "| part | photos | with the same photo in train |", "|---|---|---|"]
    lines += [f"| {part} | {result['parts'][part]} | {len(rows)} |" for part, rows in result["same_photo_in_train"].items()]
    if result.get("photos_not_found"):  # counted in "photos" above, but not audited
        lines += ["", "Not audited, named by the manifest but not found: " + ", ".join(
            f"{n} of {part}" for part, n in result["photos_not_found"].items()) + "."]
    if "scores" in result:
        sc = result["scores"]
        others = (f"{sc['others']['mIoU']:.3f} over the {sc['others']['images']} without those found" if
                  sc["others"]["images"] else "every one of them found")  # no other photo: no mean (a TypeError)
        found = (f"; {others}, which score {sc['found']['mIoU']:.3f} ({sc['found']['images']} photos)") \
            if sc["found"]["images"] else " (none of them found to be a training photo)"
        lines += ["", f"Group-clean test, '{sc['prompt']}' ({per_image}): mIoU {sc['all']['mIoU']:.3f} over "
                      f"{sc['all']['images']} photos{found}."]
    for part, rows in result["same_photo_in_train"].items():
        if rows:
            lines += ["", f"## {part}", "", "| photo | training photo | votes | thumbnail distance |", "|---|---|---|---|"]
            lines += [f"| {r['photo']} | {r['train_photo']} | {r['votes']} | {r['thumbnail_distance']} |" for r in rows]
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", "-d", required=True)
    ap.add_argument("--out", type=Path, default=Path("out/split_audit"))
    ap.add_argument("--splits-dir", type=Path, default=None, help="default: ./splits, else the shipped manifests")
    ap.add_argument("--datasets-dir", type=Path, default=None)
    ap.add_argument("--top", type=positive_int, default=4, help="training photos put to near_duplicates per photo")
    ap.add_argument("--per-image", type=Path, default=None,
                    help="an evaluate run's per_image.csv: the group-clean test mIoU of the canonical prompt with and "
                         "without the photos found (and the copies of them by file name)")
    ap.add_argument("--reuse", action="store_true", help="read <out>/<dataset>.json of an earlier audit, not search again")
    args = ap.parse_args()
    try:  # before the search (minutes): a --per-image or --out that cannot be used stopped it in a traceback after it
        check_writable_path(args.out, folder=True)
        if args.per_image is not None:
            read_per_image(args.per_image)
    except ValueError as e:
        ap.error(str(e))
    try:  # a YAML file's dataset is named by its `name`, not its path
        name = get_dataset_config(args.dataset).name
    except (KeyError, ValueError, OSError) as e:
        ap.error(f"--dataset: {e.args[0] if isinstance(e, KeyError) else e}")
    prompt = get_dataset_config(args.dataset).canonical_prompt
    if args.per_image is not None and not any(  # its report stopped in a TypeError once the search was done
            r["split"] == "group-clean test" and r["dataset"] == name and r["prompt"] == prompt
            for r in read_per_image(args.per_image)):
        ap.error(f"--per-image {args.per_image}: no group-clean test score of {name} / {prompt!r}, nothing to score "
                 f"with and without the photos found; give the per_image.csv of an evaluate run of {name}")
    saved = args.out / f"{name}.json"
    if args.reuse and saved.is_file():
        try:  # an earlier audit's result, as this script writes it
            result = json.loads(saved.read_text(encoding="utf-8"))
            if not (isinstance(result, dict) and isinstance(result.get("same_photo_in_train"), dict)
                    and isinstance(result.get("parts"), dict) and all(
                        isinstance(rows, list) and all(isinstance(r, dict) and {"photo", "train_photo"} <= set(r)
                                                       for r in rows) for rows in result["same_photo_in_train"].values())):
                raise ValueError("not an audit's result")
        except (OSError, ValueError) as exc:  # cut short, edited, another file of that name
            ap.error(f"--reuse: {saved} cannot be read as an audit ({type(exc).__name__}: {str(exc)[:120]}); run "
                     "without --reuse to search again")
    else:
        try:
            result = audit(args.dataset, args.splits_dir, args.datasets_dir, args.top)
        except (FileNotFoundError, ValueError) as exc:  # no manifest, no training photo there
            raise SystemExit(f"error: {exc}") from None
    if args.per_image is not None:
        result["scores"] = scores_without(result, args.per_image, args.dataset)
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(strict_json(result), saved)
    lines = markdown(result, args.per_image)
    write_text_atomic("\n".join(lines) + "\n", args.out / f"{name}.md")
    print("\n".join(lines[:4 + len(result["same_photo_in_train"])]))
    return 0


if __name__ == "__main__":
    from drywallqa.utils.signals import run_main

    run_main(main)  # Ctrl-C: one line and exit 130, as a drywallqa command
