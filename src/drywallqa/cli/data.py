"""``drywallqa data ...``: dataset statistics, group-clean splits, box labels refined into masks."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from ..utils.files import write_text_atomic
from ..utils.formats import strict_json
from ..utils.paths import resolved, shortened, why_not
from .common import (DATASET_HELP, DATASETS_DIR_HELP, check_categories_labelled, check_output_path, comma_list, console,
                     console_on_stderr, data_app, dataset_names, tagged)


STATS_PROBLEMS = 50  # data problems that `data stats` prints; --json has them all


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _check_not_the_datasets(path: Path, hint: str, names: list[str], datasets_dir, entries=()) -> None:
    """A ``data stats`` output must not replace a file of a dataset it reads (``--json train/_masks/a.png`` wrote JSON
    over that mask), nor the YAML file of one (``entries``, as ``--dataset`` named them: ``-d walls.yaml --json
    walls.yaml`` wrote the statistics over the declaration), nor write pictures into a dataset's folder (``--preview``
    there: the previews read as its photos the next time). A statistics file written before there is replaced, as
    anywhere."""
    import json

    from ..data.registry import get_dataset_config, is_dataset_file

    here = path.resolve()
    for entry in entries:
        if is_dataset_file(entry) and resolved(entry) == here:
            raise typer.BadParameter(f"{path} is the YAML file of a dataset it reads ({entry}): the statistics would "
                                     "be written over it; give a path of its own", param_hint=hint)
    for name in names:
        config = get_dataset_config(name)
        root = resolved(config.root(datasets_dir))  # --datasets-dir a loop of links: holds nothing
        if here != root and root not in here.parents:
            continue
        if hint == "--preview":
            for split, source in config.splits.items():  # where its photos are read from
                folder = resolved(root / source.folder)
                if here == folder or folder in here.parents:
                    raise typer.BadParameter(f"{path} is or lies in a folder the dataset {name} reads photos from "
                                             f"({split}: {folder}): its previews would be read as photos; give a folder "
                                             "outside it", param_hint=hint)
            continue
        if here.is_file():
            try:
                earlier = json.loads(here.read_text())
                ours = isinstance(earlier, list) and all(isinstance(x, dict) and "splits" in x for x in earlier)
            except (OSError, ValueError):
                ours = False
            if not ours:
                raise typer.BadParameter(f"{path} is a file of the dataset {name}: the statistics would be written over "
                                         "it; give a path of its own", param_hint=hint)


def _check_json_beside_previews(json_out: Path, preview_dir: Path, names: list[str]) -> None:
    """``--json`` and ``--preview`` of one ``data stats`` run must not take each other's place: the JSON file written
    where the preview folder goes (the same path, or a folder above it) stopped the run with a FileExistsError
    traceback after the statistics; one named as a preview picture was written over by it."""
    here, folder = resolved(json_out), resolved(preview_dir)
    if here == folder or here in folder.parents:
        raise typer.BadParameter(f"{json_out} is where --preview {preview_dir} goes (the statistics file would take "
                                 "the previews' folder); give them paths of their own", param_hint="--json / --preview")
    pictures = {f"{d}_{kind}.png" for d in names for kind in ("preview", "label_copies")}
    if here.parent == folder and here.name in pictures:
        raise typer.BadParameter(f"{json_out} is a picture that --preview writes (the statistics would be written "
                                 "over); give the JSON file another name", param_hint="--json / --preview")


@data_app.command("stats")
def data_stats(
    dataset: List[str] = typer.Option(None, "--dataset", "-d", help=DATASET_HELP),
    datasets_dir: Optional[Path] = typer.Option(None, help=DATASETS_DIR_HELP),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the statistics to this JSON file; "
                                            "'-': to standard output (the tables then go to standard error)."),
    preview_dir: Optional[Path] = typer.Option(
        None, "--preview", help="Also save <dataset>_preview.png here: 12 random photos beside their ground truth; and "
                                      "<dataset>_label_copies.png where copies of one photo were found: their labels "
                                      "side by side."),
):
    """Counts, mask coverage, label stroke widths, source-photo groups and near-duplicates across splits."""
    names = dataset_names(dataset, datasets_dir)
    check_categories_labelled(names, datasets_dir)
    to_stdout = json_out == Path("-")
    for path, hint, folder in ((None if to_stdout else json_out, "--json", False), (preview_dir, "--preview", True)):
        if path is not None:  # before the statistics are computed, not after
            check_output_path(path, hint, folder)
            _check_not_the_datasets(path, hint, names, datasets_dir, dataset or ())
    if json_out is not None and not to_stdout and preview_dir is not None:
        _check_json_beside_previews(json_out, preview_dir, names)
    with console_on_stderr(to_stdout):  # stdout carries the JSON alone
        all_stats = _shown_stats(names, datasets_dir)
        if to_stdout:
            print(strict_json(all_stats), flush=True)
        elif json_out:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(strict_json(all_stats), json_out)
        if preview_dir:
            _save_previews(names, all_stats, preview_dir, datasets_dir)
        unread = [st["dataset"] for st in all_stats if not st["splits"]]
        unread += [f"{st['dataset']}/{sp}" for st in all_stats for sp in st["unread_splits"]]
        if unread:  # said above, with why; the exit code says it to a script too (as data split and evaluate do)
            tagged("error:", "red", f"no images read from {', '.join(unread)}")
            raise typer.Exit(code=1)


def _notices_only(record: logging.LogRecord) -> bool:
    """Of the data reader's log while ``data stats`` reads: its errors and notices (how the data is read, no problem:
    a parent category read as its children), not its problems' warnings, which the command lists in full."""
    from ..data.sample import NOTICE

    return record.levelno >= logging.ERROR or getattr(record, NOTICE, False)


def _shown_stats(names: list[str], datasets_dir: Optional[Path]) -> list[dict]:
    """:func:`~drywallqa.data.stats.dataset_stats` of each dataset, printed as a table and notes."""
    from ..data.negatives import alike_concepts
    from ..data.registry import get_dataset_config
    from ..data.stats import dataset_stats

    for alike in alike_concepts([get_dataset_config(d) for d in names]):  # as train warns of them
        tagged("warning:", "yellow", alike)
    data_log = logging.getLogger("drywallqa.data.sample")
    data_log.addFilter(_notices_only)  # its data problems are listed below, in full; not as warnings on the way
    try:
        all_stats = [dataset_stats(d, datasets_dir) for d in names]
    except ValueError as exc:  # a dataset with no readable images
        tagged("error:", "red", str(exc))
        raise typer.Exit(code=1)
    finally:
        data_log.removeFilter(_notices_only)
    for st in all_stats:
        if not st["splits"]:
            root = get_dataset_config(st["dataset"]).root(datasets_dir)
            why = why_not(root, folder=True) if not root.is_dir() else ""
            tagged(f"{st['dataset']}: no images read", "yellow", f"under {root} " + (
                "(set --datasets-dir or DRYWALLQA_DATASETS to the folder holding the datasets)" if why == "not found"
                else f"({root} {why})" if why else "(its split folders hold none: see why below)" if st["problems"]
                else f"(its split folders, {', '.join(get_dataset_config(st['dataset']).splits)}, list or hold no photo)"))
            for problem in st["problems"][:STATS_PROBLEMS]:  # why: a broken annotation file, every photo missing, ...
                console.print(f"  - {problem}", highlight=False, soft_wrap=True)
            continue
        t = Table(title=f"{st['dataset']}")
        for col in ("split", "images", "empty masks", "mean mask coverage", "source groups", "stroke width px (p10/median/p90)"):
            t.add_column(col)
        for sp, v in st["splits"].items():
            w = v.get("stroke_width_px")
            t.add_row(sp, str(v["images"]), str(v["empty_masks"]), _number(v["mean_mask_coverage"]), str(v["source_groups"]),
                      f"{w['p10']:.1f} / {w['median']:.1f} / {w['p90']:.1f}" if w else "-")
        console.print(t, soft_wrap=False)  # a table is laid out to the console's width
        for sp, why in st["unread_splits"].items():
            tagged(f"{sp}: no image read", "red", f"({why})")
        console.print(f"source groups shared between splits: {st['source_groups_shared_between_splits']}")
        for n in st["images_with_their_source_photo_in_another_split"]:
            console.print(f"{n['split']} images whose source photo is in {n['source_photo_in']} too: {n['images']} of {n['of']}")
        console.print(f"near-duplicate pairs across splits: {st['near_duplicate_pairs_across_splits']}")
        agree = st["label_agreement_of_copies"]
        if agree["pairs"]:
            console.print(f"labels of copies of one photo agree at mean IoU {agree['mean_IoU']:.3f} over {agree['pairs']} "
                          f"pairs ({agree['share_below_0.5']:.0%} below 0.5; across splits {_number(agree['mean_IoU_across_splits'])} "
                          f"over {agree['pairs_across_splits']}): near what a model can score against either label")
        if st["problems"]:
            shown = st["problems"][:STATS_PROBLEMS]
            tagged(f"{len(st['problems'])} data problems", "yellow", "(each names its file; everything else was read):")
            for problem in shown:
                console.print(f"  - {problem}", highlight=False, soft_wrap=True)
            if len(st["problems"]) > len(shown):
                console.print(f"  ... and {len(st['problems']) - len(shown)} more (all of them: --json FILE)")
    return all_stats


def _save_previews(names: list[str], all_stats: list[dict], preview_dir: Path, datasets_dir: Optional[Path]) -> None:
    """<dataset>_preview.png and, where copies of a photo were found, <dataset>_label_copies.png in ``preview_dir``."""
    from ..data.stats import copies_picture, preview

    preview_dir.mkdir(parents=True, exist_ok=True)
    for d, st in zip(names, all_stats):
        if not st["splits"]:  # nothing to show
            continue
        target = preview_dir / f"{d}_preview.png"
        console.print(f"preview of {preview(d, target, datasets_dir=datasets_dir)} photos: {target}")
        target = preview_dir / f"{d}_label_copies.png"
        if copies_picture(d, st["label_agreement_of_copies"]["worst"], target, datasets_dir):
            console.print(f"copies of one photo whose labels disagree most: {target}")


@data_app.command("split")
def data_split(
    ctx: typer.Context,
    out: Path = typer.Option(Path("splits"), help="Folder for the manifests (<dataset>.json)."),
    dataset: List[str] = typer.Option(None, "--dataset", "-d", help=DATASET_HELP),
    seed: int = typer.Option(0, help="Seed of the random assignment of source-photo groups to parts."),
    val: float = typer.Option(0.15, help="Fraction of images for val."),
    test: float = typer.Option(0.15, help="Fraction of images for test."),
    datasets_dir: Optional[Path] = typer.Option(None, help=DATASETS_DIR_HELP),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the manifests --out holds already (default: "
                                                              "refuse: models were trained and scored on their parts)."),
    join: Optional[Path] = typer.Option(None, "--join", help="A JSON file of photo pairs to keep in one group as well "
                                        "(a list of pairs, each a list of two photo paths as a manifest names them, or "
                                        "what benchmarks/split_audit.py writes); one dataset only."),
    update: bool = typer.Option(False, "--update", help="Keep the parts of the manifests --out holds and move only "
                                "what they split of one group (copies found by a newer search: to the first part "
                                "holding one of them, train before val before test) and place photos added since; "
                                "keeps their seed and fractions."),
):
    """Write group-clean train/val/test manifests: all copies of one source photo in one part."""
    from ..data.grouping import (GROUP_LEFT_OUT, SPLIT_LOCK, SPLIT_LOCK_USER, GroupSplit, make_group_split,
                                 published_split_of, read_joined, split_manifest_path, update_group_split)
    from ..data.registry import get_dataset_config
    from ..utils.locks import folder_lock

    if update and overwrite:
        raise typer.BadParameter("--update keeps the manifests' parts and --overwrite replaces them: choose one",
                                 param_hint="--update / --overwrite")
    if update and (seed, val, test) != (0, 0.15, 0.15):  # the defaults: a value given would be ignored
        raise typer.BadParameter("--update keeps each manifest's own seed and fractions: leave --seed, --val and "
                                 "--test out (or write a new split with --overwrite)", param_hint="--seed / --val / --test")

    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise typer.BadParameter("val and test must be fractions with val + test < 1")
    if not 0 <= seed <= 2**32 - 1:  # numpy's seeds, as train's: -1 failed deep inside, a huge one was written as given
        raise typer.BadParameter(f"must be a whole number in [0, {2**32 - 1}], got {seed}", param_hint="--seed")
    names = dataset_names(dataset, datasets_dir)
    check_categories_labelled(names, datasets_dir)
    joined = ()
    if join is not None:
        if len(names) != 1:
            raise typer.BadParameter("pairs to join name the photos of one dataset: give one --dataset",
                                     param_hint="--join")
        try:
            joined = read_joined(join)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--join") from None
    check_output_path(out, "--out", folder=True)  # before the thumbnails are computed, not after
    try:  # one split at a time into a folder: two (other seeds) each found no manifest there, and the later won unsaid
        ctx.with_resource(folder_lock(out, SPLIT_LOCK, *SPLIT_LOCK_USER))
    except ValueError as exc:
        tagged("error:", "red", str(exc))
        raise typer.Exit(code=1)
    for d in names:  # before anything is written
        manifest = get_dataset_config(d).manifest_name
        if manifest != d:
            raise typer.BadParameter(f"{d} uses the group-clean parts of {manifest!r} (the manifest key of its YAML), "
                                     f"so a manifest of its own would never be read: split {manifest} instead",
                                     param_hint="--dataset")
        path = split_manifest_path(out, d)
        check_output_path(path, "--out", folder=False)
        if update and not path.is_file():
            raise typer.BadParameter(f"{path}: no manifest to update; leave --update out to write one",
                                     param_hint="--out")
        if path.exists() and not overwrite and not update:
            raise typer.BadParameter(f"{path} exists: the parts of an earlier split, which models were trained and "
                                     "scored on; --overwrite replaces it, or choose another --out", param_hint="--out")
    olds = {}  # --update: each manifest read and checked before any dataset is scanned (minutes each)
    for d in names if update else ():
        try:
            old = olds[d] = GroupSplit.from_json(split_manifest_path(out, d))
            if old.dataset != d:
                raise ValueError(f"{split_manifest_path(out, d)} is the split manifest of {old.dataset!r}, not of "
                                 f"{d!r} (copied or renamed?)")
            if "train" not in old.parts:  # (from_json checks the lists, not the parts' names)
                raise typer.BadParameter(f"{split_manifest_path(out, d)} has no part named train (it has "
                                         f"{', '.join(old.parts) or 'none'}): write a new split with --overwrite",
                                         param_hint="--out")
            old.check_seed_and_fractions(split_manifest_path(out, d))
        except ValueError as exc:  # a damaged manifest
            tagged("error:", "red", str(exc))
            raise typer.Exit(code=1)
    splits, moves = {}, {}
    for d in names:  # all of them, then written: a dataset that cannot be split leaves no manifest of the others
        try:
            if update:
                splits[d], moves[d] = update_group_split(d, olds[d], datasets_dir, progress=True, joined=joined)
            else:
                splits[d] = make_group_split(d, datasets_dir, {"train": 1 - val - test, "val": val, "test": test},
                                             seed, progress=True, joined=joined)
        except ValueError as exc:  # a dataset with no readable images, a damaged manifest
            tagged("error:", "red", str(exc))
            raise typer.Exit(code=1)
        if not splits[d].parts.get("train"):
            n = sum(len(v) for v in splits[d].parts.values())
            raise typer.BadParameter(f"{d}: a train share of {1 - val - test:.2g} leaves none of its {n} photos in "
                                     "train; lower --val or --test", param_hint="--val / --test")
    for d, split in splits.items():
        path = split_manifest_path(out, d)
        replaced = path.exists()
        split.to_json(path)
        console.print(f"{d}: " + ", ".join(f"{k} {len(v)}" for k, v in split.parts.items()) + f" -> {path}"
                      + (" (updated)" if update else " (replaced)" if replaced else ""), soft_wrap=True)
        config = get_dataset_config(d)
        root = config.root(datasets_dir)
        published = {part: sum(published_split_of(config, root, f) in GROUP_LEFT_OUT.get(part, ()) for f in files)
                     for part, files in split.parts.items() if part in ("train", "val")}
        if any(published.values()):  # training and ship count fewer photos than the line above: say why, now
            left = list(dict.fromkeys(s for p, n in published.items() if n for s in GROUP_LEFT_OUT[p]))
            console.print(f"  of these, {', '.join(f'{n} of {p}' for p, n in published.items() if n)} are photos of "
                          f"the published split(s) {', '.join(left)}, which training (data.exclude_published, by "
                          "default) and ship's val leave out of those parts, kept for the published scores; to use "
                          "them, declare their folders under other split names in the dataset's YAML (splits:)",
                          markup=False, highlight=False, soft_wrap=True)
        for part, files in split.parts.items():  # no group-clean score or choice of options from it, said now
            if not files and split.fractions.get(part, 0) > 0:
                n = sum(len(v) for v in split.parts.values())
                tagged("warning:", "yellow", f"{d}: its {part} part holds no photo (a share of "
                       f"{split.fractions[part]:.2g} of its {n} photos): each group of copies of one photo goes whole "
                       f"to one part, and none fits that share (one group may hold them all); `evaluate --splits group` "
                       f"and training have no {part} photo of it: add photos of other scenes, or a larger share")
        if update:
            counts = Counter((a, b) for _, a, b in moves[d])
            console.print(f"  moved {len(moves[d])} photo(s) to keep copies of one photo in one part"
                          + "".join(f"; {n} {a} -> {b}" for (a, b), n in sorted(counts.items())), soft_wrap=True)
            for photo, a, b in moves[d]:
                console.print(f"    {photo}: {a} -> {b}", markup=False, highlight=False, soft_wrap=True)


@data_app.command("refine-masks")
def data_refine_masks(
    dataset: str = typer.Option("taping", "--dataset", "-d", help="A box-annotated dataset (name or YAML file)."),
    out: Path = typer.Option(..., "--out", help="Folder for the new image/mask dataset, report.json and preview.png."),
    with_: str = typer.Option("sam", "--with", help="Mask source for each box: sam (SAM weights) or edges (tape strips "
                                                    "found in image edges; no weights to fetch)."),
    model_path: Optional[str] = typer.Option(None, help="SAM: hub id or local save_pretrained dir (default facebook/sam-vit-base)."),
    min_iou: Optional[float] = typer.Option(None, help="SAM: keep its mask where its predicted IoU (0..1) is at least this, "
                                                       "else the box (default 0.8)."),
    split: List[str] = typer.Option(None, "--split", help="Splits to convert, repeated or comma-separated (default all)."),
    datasets_dir: Optional[Path] = typer.Option(None, help=DATASETS_DIR_HELP),
):
    """Turn box annotations into pixel masks (the box stays where nothing credible is found): a new
    image/mask-folder dataset; report.json says per file which way each box went."""
    from ..data.refine import (BOX_REFINERS, DEFAULT_SAM, RefineOutError, SamRefiner, check_refine_out,
                               check_refine_request, read_refine_splits, refine_box_masks, refine_in_use)
    from ..utils.checks import number_in_range

    name = dataset_names([dataset], datasets_dir)[0]
    splits = comma_list(split) if split else None  # None: all of them
    if split and not splits:
        raise typer.BadParameter(f"{', '.join(map(repr, split))} names no split (default: all of them)",
                                 param_hint="--split")
    for hint, asked in (("--dataset", None), ("--split", splits)):  # before any weights load or file is written
        try:
            splits = check_refine_request(name, asked)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint=hint) from None
    check_categories_labelled([name], datasets_dir)
    if with_ not in BOX_REFINERS:  # the options, before the dataset is read
        raise typer.BadParameter(f"--with {with_!r}: choose {' or '.join(BOX_REFINERS.names())}", param_hint="--with")
    given = [hint for hint, value in (("--model-path", model_path), ("--min-iou", min_iou)) if value is not None]
    if with_ != "sam" and given:  # it would be left unused: the masks were not made the way it asks
        raise typer.BadParameter(f"{' and '.join(given)} {'are options' if len(given) > 1 else 'is an option'} of "
                                 f"--with sam, not --with {with_}", param_hint=" / ".join(given))
    if min_iou is not None:  # NaN or above 1: every box fell back to itself, silently; below 0: SAM's every mask kept
        try:
            number_in_range(min_iou, "a predicted IoU", 0.0, 1.0)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--min-iou") from None
    try:
        check_refine_out(name, out, datasets_dir)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--out") from None
    in_use = refine_in_use(out)  # another run writing there now (refine_box_masks holds the lock, and checks again)
    if in_use:
        raise typer.BadParameter(in_use, param_hint="--out")
    try:  # before any weights load: a datasets folder without the dataset wrote an empty one, exit 0
        read_refine_splits(name, splits, datasets_dir)
    except ValueError as exc:
        tagged("error:", "red", str(exc))
        raise typer.Exit(code=1)
    if with_ == "sam":  # minutes, a download the first time: one call with no bar of ours
        console.print(f"loading SAM ({shortened(model_path or DEFAULT_SAM)})...", markup=False, highlight=False)
    try:
        refiner = SamRefiner(model_path, 0.8 if min_iou is None else min_iou) if with_ == "sam" else BOX_REFINERS.get(with_)()
    except (OSError, ValueError) as exc:  # weights that cannot be found or fetched, a folder of another model type
        raise typer.BadParameter(str(exc), param_hint="--model-path" if with_ == "sam" else "--with")
    try:
        report = refine_box_masks(name, out, splits=splits, datasets_dir=datasets_dir, refiner=refiner)
    except RefineOutError as exc:  # a photo of an earlier run's --out that is not the one it writes: nothing written
        raise typer.BadParameter(str(exc), param_hint="--out") from None
    except ValueError as exc:  # the dataset gone since it was read above
        tagged("error:", "red", str(exc))
        raise typer.Exit(code=1)
    for sp, c in report["splits"].items():
        console.print(f"{sp}: {c['images']} images, {c['boxes']} boxes: {c['refined']} refined, {c['kept']} kept "
                      f"(already strips), {c['fell_back']} fell back to the box")
        if c["problems"]:  # photos skipped (unreadable), annotations without a usable box: named in the report
            console.print(f"{sp}: {len(c['problems'])} problem(s), listed in {out / 'report.json'}; the first: "
                          f"{c['problems'][0]}")
    if report.get("preview"):
        console.print(f"preview: {out / report['preview']}")
