"""``drywallqa predict`` (a batch of photos, local or on Ray) and ``drywallqa zeroshot``."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..utils.image_io import DEFAULT_MAX_PIXELS, DEFAULT_MAX_TILES
from ..utils.locks import folders_to_make
from ..utils.paths import check_links
from ..utils.slug import shown
from .common import (GATE_HELP, LABEL_SHAPE_HELP, MAX_PIXELS_HELP, MAX_TILES_HELP, MODEL_HELP, MODEL_PATH_HELP, PIPELINE_HELP,
                     ENLARGE_TILES_HELP, INTERRUPTED_CODE, PRECISION_HELP, RUNTIME_HELP, TILE_HELP, app,
                     check_max_pixels, check_output_path, check_text_encoder, console, error_message, load_kwargs,
                     load_segmenter_with, tagged)


REVIEW_SHOWN = 5  # least confident masks named after a predict run (of those below REVIEW_BELOW)


IGNORED_SHOWN = 10  # files of the input folders that are not images, printed by `predict`; results.json has all

NAMES_HELP = ("Name each photo's outputs by its folders below the common input folder and its stem (day1/IMG_1.jpg: "
              "day1-IMG_1__<prompt>.png), so that photos of one name in different folders (a phone's) fit one --out; "
              "default: by the file stem alone.")  # predict's and zeroshot's --names-from-folders


@app.command()
def predict(
    paths: List[Path] = typer.Argument(..., help="Image files or folders."),
    prompt: List[str] = typer.Option(..., "--prompt", "-p", help="Text prompt (repeatable)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    overlay: bool = typer.Option(False, "--overlay", help="Also write overlays and a grid PNG."),
    report: bool = typer.Option(True, "--report/--no-report",
                                help="Write OUT/report.html: a thumbnail with the masks and the QA measures of every photo."),
    table: bool = typer.Option(True, "--table/--no-table",
                               help="Write OUT/results.csv: one row per photo and prompt with its QA measures, for a "
                                    "spreadsheet."),
    coco: Optional[str] = typer.Option(
        None, help="Also write OUT/predictions.coco.json (one category per prompt) to correct in an annotation tool: "
                   "polygon or rle."),
    threshold: Optional[float] = typer.Option(None, help="One threshold for every prompt, instead of the model's validated per-prompt thresholds."),
    model_path: Optional[str] = typer.Option(None, help=MODEL_PATH_HELP),
    model: Optional[str] = typer.Option(None, help=MODEL_HELP),
    runtime: str = typer.Option("torch", help=RUNTIME_HELP),
    pipeline: Optional[str] = typer.Option(None, help=PIPELINE_HELP),
    mm_per_px: Optional[float] = typer.Option(None, help=("Scale in millimetres per pixel of the photo at its own size "
                                                          "(not the model's input size), for QA measures in millimetres.")),
    overwrite: bool = typer.Option(False, help="Redo images an earlier run finished (default: skip them)."),
    names_from_folders: bool = typer.Option(False, "--names-from-folders", help=NAMES_HELP),
    workers: int = typer.Option(1, help="Images in flight at once (threads, or Ray actors with --executor ray)."),
    executor: str = typer.Option("local", help="local, or ray (Ray Data; a local Ray instance unless RAY_ADDRESS is set)."),
    engine: Optional[str] = typer.Option(None, hidden=True, help="Deprecated spelling of --executor."),
    min_confidence: Optional[float] = typer.Option(
        None, help="Empty the masks whose confidence (estimated IoU, 0..1; SAM's predicted IoU for --model sam_text) is lower."),
    tile: Optional[int] = typer.Option(None, help=TILE_HELP),
    precision: str = typer.Option("float32", help=PRECISION_HELP),
    max_tiles: Optional[int] = typer.Option(None, help=MAX_TILES_HELP + f" Default with --tile: {DEFAULT_MAX_TILES}."),
    enlarge_tiles: bool = typer.Option(False, help=ENLARGE_TILES_HELP),
    flag: List[str] = typer.Option(
        None, "--flag", help="QA rule 'PROMPT: MEASURE OP NUMBER' (repeatable), e.g. 'segment crack: max_width_mm > 0.3': "
                             "photos breaking one are flagged in results.json and listed first in report.html."),
    max_pixels: int = typer.Option(DEFAULT_MAX_PIXELS, help=MAX_PIXELS_HELP),
    prompt_gate: bool = typer.Option(True, "--prompt-gate/--no-prompt-gate", help=GATE_HELP),
    label_shape: Optional[str] = typer.Option(None, help=LABEL_SHAPE_HELP),
):
    """Write one 0/255 mask per image and prompt: <image stem>__<prompt slug>.png at the image's size,
    results.json with QA measures (components, area, length and width) of every mask, results.csv (the same
    measures as a table) and report.html."""
    from ..engine.batch import (JobInterrupted, check_names, check_not_others, check_not_zeroshot, check_out_apart,
                                check_workers, names_root, predict_paths, prepare_out_dir, remeasured_said)
    from ..engine.batch_ray import RayModelError
    from ..engine.segmenter import validate_confidence, validate_label_shape, validate_prompts, validate_threshold
    from ..measures import validate_mm_per_px

    for value, check, hint in ((prompt, validate_prompts, "--prompt"), (threshold, validate_threshold, "--threshold"),
                               (mm_per_px, validate_mm_per_px, "--mm-per-px"), (max_pixels, check_max_pixels, "--max-pixels"),
                               (workers, check_workers, "--workers"), (min_confidence, validate_confidence, "--min-confidence"),
                               (label_shape, validate_label_shape, "--label-shape")):
        try:
            check(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint=hint)
    prompts = validate_prompts(prompt)
    from ..data.coco_export import SEGMENTATION_FORMATS
    from ..rules import parse_rules

    if coco is not None and coco not in SEGMENTATION_FORMATS:
        raise typer.BadParameter(f"one of {', '.join(SEGMENTATION_FORMATS)}", param_hint="--coco")
    try:
        rules = parse_rules(flag or [], prompts, mm_per_px)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--flag")
    if engine is not None:
        typer.echo("warning: --engine is deprecated, use --executor", err=True)
        executor = engine
    if executor not in ("local", "ray"):
        raise typer.BadParameter("executor must be local or ray", param_hint="--executor")
    if executor == "ray":  # before the model loads: not a traceback once the photos are listed
        from ..engine.batch_ray import import_ray

        try:
            import_ray()
        except ImportError as exc:
            raise typer.BadParameter(str(exc), param_hint="--executor") from None
    if threshold is not None and "zeroshot" in (pipeline, model):  # the same masks came of --threshold 0.99
        raise typer.BadParameter("not an option of --pipeline zeroshot: its masks are where SAM put one (its config's "
                                 "box_threshold chooses the boxes)", param_hint="--threshold")
    if tile and max_tiles is None:
        max_tiles = DEFAULT_MAX_TILES
    try:  # a link on the way that loops or leads nowhere, a name longer than the disk allows (an OSError traceback
        check_links(out)  # where the folders to make were listed): before the model loads
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--out") from None
    kwargs = load_kwargs(model, runtime, min_confidence, tile, prompt_gate, pipeline, label_shape, max_tiles, precision,
                         enlarge_tiles)
    check_output_path(out, "--out", folder=True)  # a file, below one, unwritable: before the model loads (minutes)
    written = ("results.json", *(("results.csv",) if table else ()), *(("report.html",) if report else ()),
               *(("predictions.coco.json",) if coco else ()), *(("overlay_grid.png",) if overlay else ()))
    root = names_root(paths, names_from_folders, out)
    for check in (lambda: check_out_apart(paths, out), lambda: check_not_zeroshot(out, overwrite),
                  lambda: check_not_others(out, overwrite, written, paths, prompts, overlay, root),
                  lambda: check_names(out, root, overwrite)):  # before the model loads: said at once
        try:
            check()
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--out")
    seg = load_segmenter_with(model_path, kwargs)
    check_text_encoder(seg, prompts)
    made = folders_to_make(out)  # (a Ray job whose actors cannot load the model takes them away again, as they were)
    try:  # made when all else is right (the model loaded)
        prepare_out_dir(out)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--out")
    try:
        if executor == "ray":  # the model loads here first: a wrong --model-path is a clean error before Ray starts
            from ..engine.batch_ray import predict_paths_ray

            summary = predict_paths_ray(model_path, paths, prompts, out, segmenter=seg, load_kwargs=kwargs,
                                        workers=workers, overwrite=overwrite, threshold=threshold, mm_per_px=mm_per_px,
                                        rules=rules, max_pixels=max_pixels, overlay_images=overlay,
                                        names_from_folders=names_from_folders)
        else:
            summary = predict_paths(seg, paths, prompts, out, overlay_images=overlay, threshold=threshold,
                                    mm_per_px=mm_per_px, overwrite=overwrite, workers=workers, rules=rules,
                                    max_pixels=max_pixels, names_from_folders=names_from_folders)
    except RayModelError as exc:  # the actors could not load the model loaded here: as a model that does not load
        _remove_unused(out, made)
        raise typer.BadParameter(str(exc), param_hint="--model-path / --model / --pipeline") from None
    except JobInterrupted as exc:  # Ctrl-C once results.json lists the photos done: their report too, as asked
        _after_an_interrupt(exc.summary, out, _views(out, table, report, coco))
        raise typer.Exit(code=INTERRUPTED_CODE)
    except KeyboardInterrupt:  # Ctrl-C before the photos were listed, or while results.json was written
        earlier = " (the one there is an earlier run's)" if (out / "results.json").is_file() else ""
        tagged("interrupted:", "yellow", f"the photos finished are kept in {out} (each photo's masks and record are "
                                         f"written whole, its record last), but results.json was not written{earlier}: "
                                         "run the same command again to segment the rest (the photos done are skipped)")
        raise typer.Exit(code=INTERRUPTED_CODE)
    skipped = f", {len(summary.skipped)} skipped (done before){remeasured_said(summary)}" if summary.skipped else ""
    n = len(summary.ignored)
    ignored = f", {n} file{'s' if n > 1 else ''} not read (not images; listed in results.json)" if n else ""
    console.print(f"{len(summary.done)} images done{skipped}, {len(summary.failed)} failed{ignored}; masks in {shown(out)}")
    logged = getattr(seg, "tile_warning", lambda: None)()  # said as the model loaded (Segmenter.load): once is enough
    for warning in summary.warnings:  # (results.json keeps it)
        if warning != logged:
            tagged("warning", "yellow", warning)
    read_as = sum(bool(e.get("warnings")) for e in summary.results)
    if read_as:  # each said in the log as it was read, among hundreds of lines: counted here, listed in the records
        tagged("warning", "yellow", f"{read_as} photo{'s were' if read_as > 1 else ' was'} read otherwise than the file "
                                    "holds (only its first frame, a damaged EXIF block ignored, 16-bit colour read as 8 "
                                    "bits): see 'warnings' of each photo in results.json, the table or the report")
    for path, reason in summary.ignored[:IGNORED_SHOWN]:
        tagged("not read", "yellow", f"{path}: {reason}")
    if len(summary.ignored) > IGNORED_SHOWN:
        console.print(f"... and {len(summary.ignored) - IGNORED_SHOWN} more (all of them: 'ignored' in "
                      f"{shown(out / 'results.json')})")
    from ..engine.batch_report import REVIEW_BELOW, TILED_LOW, review_confidence, to_review, was_tiled
    from ..engine.tiling import tiling_facts

    review = to_review(summary.results)  # only the masks below the mark: a small job's 5 lowest were masks at 1.00
    more = len(review) - REVIEW_SHOWN
    tiling = tiling_facts(seg)  # (--tile: nearly every tiled mask read below the mark, said as if each were doubtful)
    tiled = {e["image"] for e in summary.results if was_tiled(e, tiling)}
    if review:
        console.print(f"least confident masks (review these first: confidence, the estimated IoU, below "
                      f"{REVIEW_BELOW:.2f}): "
                      + "; ".join(f"{shown(Path(image).name)} {p!r} {c:.2f}" for c, image, p in review[:REVIEW_SHOWN])
                      + (f"; and {more} more below {REVIEW_BELOW:.2f} ('confidence' in results.json)" if more > 0 else "")
                      + (f" ({TILED_LOW})" if any(image in tiled for _, image, _ in review) else ""),
                      highlight=False, soft_wrap=True)
    elif any(review_confidence(m) is not None for e in summary.results for m in e["prompts"].values()):
        console.print(f"no mask with confidence below {REVIEW_BELOW:.2f} (estimated IoU): none to review first",
                      highlight=False)
    if rules:
        flagged = [e["image"] for e in summary.results if e["flags"]]
        tagged(f"{len(flagged)} of {len(summary.results)} photos flagged", "bold", "by " + "; ".join(map(str, rules)))
    _, left, problems = _write_views(out, _views(out, table, report, coco))
    for tag, line in problems:
        tagged(tag, "red", line)
    for name, wanted, flag in (("results.csv", table, "--no-table"), ("report.html", report, "--no-report"),
                               ("predictions.coco.json", coco, "no --coco")):
        if not wanted and (out / name).is_file():  # an earlier run's, which this one did not rewrite
            tagged("warning", "yellow", f"{out / name} is an earlier run's ({flag} now): it does not show this run")
    if not overlay:  # the grid and the strips of the photos redone now: drawn from an earlier run's masks
        from ..engine.batch import entry_path, overlay_name

        strips = sum("overlay" not in e and (out / overlay_name(entry_path(e))).is_file()
                     for e in summary.results)
        grid_there = bool(summary.done) and (out / "overlay_grid.png").is_file()  # (all skipped: as it was drawn)
        if grid_there or strips:
            what = " and ".join(filter(None, (f"{out / 'overlay_grid.png'}" if grid_there else "",
                                              f"{strips} overlay strip{'s' if strips > 1 else ''} (*__overlay.png) of "
                                              "photos redone" if strips else "")))
            tagged("warning", "yellow", f"{what}: an earlier run's (no --overlay now), they do not show this run's masks")
    for path, reason in summary.failed:
        _failed(path, reason)
    found = summary.done or summary.skipped or summary.failed
    if not found:  # a wrong folder, an unmounted volume: no success to a script
        tagged("error:", "red", "no photos found in the paths given" + (" (only files not read as photos: see above)"
                                                                         if n else ""))
    if left:  # Ctrl-C while they were written: results.json is whole
        _not_written(out, left)
        raise typer.Exit(code=INTERRUPTED_CODE)
    if not summary.ok or problems or not found:
        raise typer.Exit(code=1)


def _failed(path: str, reason: str) -> None:
    """The console line of a photo that failed: its path once ("failed a.jpg: not a readable image", where the
    reason names the file itself too)."""
    tagged("failed", "red", reason if reason.startswith(f"{path}: ") else f"{path}: {reason}")


def _views(out: Path, table: bool, report: bool, coco: Optional[str]) -> list[tuple]:
    """The files ``predict`` writes from ``out/results.json``, as asked: ``(name, what it is, writer)``, the quickest
    first (a Ctrl-C while they are written leaves the slow ones)."""
    from ..data.coco_export import write_coco_predictions
    from ..engine.batch_report import write_batch_report
    from ..engine.batch_table import write_batch_table

    return [(name, what, write) for name, what, write, asked in (
        ("results.csv", "table", lambda: write_batch_table(out), table),
        ("report.html", "report", lambda: write_batch_report(out, progress=True), report),
        ("predictions.coco.json", "COCO file for annotation tools", lambda: write_coco_predictions(out, coco, progress=True),
         coco))
        if asked]


def _write_views(out: Path, writers: list[tuple], quiet: bool = False) -> tuple[list, list, list]:
    """Write the files of :func:`_views` into ``out``, each printed as it is written unless ``quiet``. Returns (lines
    said, names left unwritten by a Ctrl-C, problems: ``(tag, line)`` of a file that could not be written and of each
    mask the COCO file lacks). A Ctrl-C leaves the file being written as it was (each is written whole or not at all)
    and the rest; a file that cannot be written (a folder of its name; on Windows, one open in a spreadsheet) is named
    and the rest are written."""
    from ..data.coco_export import coco_masks_not_read

    said, left, problems = [], [name for name, _, _ in writers], []
    try:
        for name, what, write in writers:
            try:
                path = write()
            except OSError as exc:
                left.remove(name)
                problems.append(("error:", f"{out / name} was not written: {exc.strerror or exc}"))
                continue
            except ValueError as exc:  # the results.json an earlier job left (this one listed no photo), damaged since
                left.remove(name)
                problems.append(("error:", f"{out / name} was not written: {exc}"))
                continue
            left.remove(name)
            said.append(f"{what}: {path}")
            if not quiet:
                console.print(shown(said[-1]))
            if name == "predictions.coco.json":  # masks damaged since they were written: no annotations there
                problems += [("not in the COCO file", line) for line in coco_masks_not_read(path)]
    except KeyboardInterrupt:
        pass
    return said, left, problems


def _remove_unused(out: Path, made: list[Path]) -> None:
    """Take away the folders this command made (``made``, :func:`~drywallqa.utils.locks.folders_to_make`) where the job
    wrote nothing in them but the output folder's mark: a job that could not start leaves no folder behind, as one
    whose model does not load."""
    from ..utils.locks import remove_made_folders
    from ..utils.output_folders import OUTPUT_MARKER

    if not made:
        return
    try:
        if {f.name for f in out.iterdir()} == {OUTPUT_MARKER}:
            (out / OUTPUT_MARKER).unlink()
    except OSError:
        return
    remove_made_folders(made)  # up to the first with something else in it


def _not_written(out: Path, left: list) -> None:
    for name in left:
        earlier = " (the one there is an earlier run's)" if (out / name).is_file() else ""
        tagged("interrupted:", "yellow", f"{out / name} was not written{earlier}: the same command run again "
                                         "writes it (the photos done are skipped)")


def _after_an_interrupt(summary, out: Path, views: list[tuple]) -> None:
    """What ``predict`` does on Ctrl-C once results.json is written: the table, the report (and the COCO file) of the
    photos done (``views``: :func:`_views`), as a finished job writes them, then what is kept and how to go on; a second
    Ctrl-C skips the files left."""
    from ..engine.batch import INTERRUPTED, remeasured_said

    not_done = sum(why == INTERRUPTED for _, why in summary.failed)
    failed = [(path, why) for path, why in summary.failed if why != INTERRUPTED]
    names = [name for name, _, _ in views]
    if names:
        tagged("interrupted:", "yellow", f"writing {', '.join(names)} of the photos done (Ctrl-C or a stop signal again skips "
                                         f"{'them' if len(names) > 1 else 'it'})")
    written, left, problems = _write_views(out, views, quiet=True)
    n = len(summary.done)
    done = f"{n} photo{'' if n == 1 else 's'} done"
    if summary.skipped:
        done += f", {len(summary.skipped)} skipped (done before){remeasured_said(summary)}"
    tagged("interrupted:", "yellow", f"{done}, {len(failed)} failed, {not_done} not done; the photos finished are kept in "
                                     f"{out} (their masks and records; {out / 'results.json'} lists them and names the "
                                     "rest as not done" + "".join(f"; {w}" for w in written) + "): run the same "
                                     "command again to segment the rest (the photos done are skipped)")
    _not_written(out, left)
    for tag, line in problems:
        tagged(tag, "red", line)
    for path, reason in failed:
        _failed(path, reason)


@app.command()
def zeroshot(
    paths: List[Path] = typer.Argument(..., help="Image files or folders."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the masks, anomaly maps and report.json."),
    reference: Optional[List[Path]] = typer.Option(None, "--reference", help="Normal (defect-free) photos: set the size filter."),
    config: Optional[Path] = typer.Option(None, help="Zero-shot YAML config (stages, model paths, thresholds)."),
    material: Optional[str] = typer.Option(None, help="The surface (drywall, concrete, plaster, tile, ...): tags for the prompts."),
    prompts: Optional[str] = typer.Option(None, help="generated (from the surface) or fixed (the --prompt values); "
                                                     "default: the config's prompt_source, else generated."),
    prompt: List[str] = typer.Option(None, "--prompt", "-p", help="Fixed prompts (with --prompts fixed)."),
    size_filter: Optional[bool] = typer.Option(None, "--size-filter/--no-size-filter",
                                               help="Drop boxes larger than max_box_fraction of the photo (whole objects, "
                                                    "not defects); default: the config's size_filter, else on."),
    detector: Optional[str] = typer.Option(None, help="grounding-dino or owlv2."),
    detector_path: Optional[str] = typer.Option(None, help="The detector's hub id or save_pretrained folder (default: "
                                                           "the config's, else the detector's hub id)."),
    sam_path: Optional[str] = typer.Option(None, help="SAM's hub id or save_pretrained folder (default: the config's, "
                                                      "else facebook/sam-vit-base)."),
    llm_url: Optional[str] = typer.Option(None, help="OpenAI-compatible endpoint for prompt generation (falls back to the table)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Write into an --out that holds another job's results "
                                   "(other settings, prompts or photos); files this job does not write again are kept "
                                   "and listed as earlier_outputs. The same job is run again without it."),
    names_from_folders: bool = typer.Option(False, "--names-from-folders", help=NAMES_HELP),
):
    """Segment defects with no training data: surface tags -> anomaly prompts -> boxes -> size filter -> SAM."""
    from ..zeroshot.pipeline import (DEFAULT_SAM, ZeroShotConfig, ZeroShotSegmenter, earlier_job, reference_photos,
                                     run_zeroshot, zeroshot_in_use)

    try:
        cfg = ZeroShotConfig.from_yaml(config) if config else ZeroShotConfig()
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--config") from None
    if size_filter is not None:  # given: over the config's (it was set on whatever the config said)
        cfg.size_filter = size_filter
    prompts = prompts if prompts is not None else cfg.prompt_source
    if prompts not in ("generated", "fixed"):
        raise typer.BadParameter("generated or fixed", param_hint="--prompts")
    if prompts == "fixed" and not prompt:
        raise typer.BadParameter("--prompts fixed needs at least one --prompt", param_hint="--prompt")
    if prompts == "generated" and prompt:
        raise typer.BadParameter("--prompt is used with --prompts fixed (the default generates the prompts from the "
                                 "surface); add --prompts fixed", param_hint="--prompt")
    if prompt:  # too long, control characters: before the models load (every photo failed with it after)
        from ..engine.segmenter import validate_prompts

        try:
            prompt = validate_prompts(prompt)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--prompt") from None
    cfg.prompt_source = prompts
    if material:
        cfg.tagger, cfg.tagger_options = "fixed", {"material": material}
    if llm_url:
        kept = cfg.prompt_generator_options if cfg.prompt_generator == "llm" else {}  # the config's model, timeout
        cfg.prompt_generator, cfg.prompt_generator_options = "llm", {**kept, "base_url": llm_url}
    for key, value in (("detector", detector), ("detector_path", detector_path), ("sam_path", sam_path)):
        if value:
            setattr(cfg, key, value)
    check_output_path(out, "--out", folder=True)  # a file, below one, unwritable: before the models load (minutes)
    from ..engine.batch import gather_inputs, names_root

    root = names_root(paths, names_from_folders)
    try:  # before the models load
        conflict = earlier_job(paths, out, cfg, prompt or None, reference, root)[1]
    except ValueError as exc:  # --out an input folder
        raise typer.BadParameter(str(exc), param_hint="--out") from None
    in_use = zeroshot_in_use(out)  # another job writing there now (run_zeroshot holds the lock, and checks again)
    if in_use:
        raise typer.BadParameter(in_use, param_hint="--out")
    if conflict is not None and not overwrite:  # another job's results there
        raise typer.BadParameter(conflict, param_hint="--out")
    if reference:  # a --reference of no photo, before the models load
        try:
            reference_photos(reference, cfg.max_box_fraction)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--reference") from None
    try:  # the config's keys, a usage error, before the photos are looked for
        cfg.validate()
    except ValueError as exc:
        raise typer.BadParameter(error_message(exc), param_hint="--detector / --detector-path / --sam-path / --config")
    todo, failed, ignored = gather_inputs(paths, out, root)
    if not todo and not failed:  # no photo at all: said before the models load (minutes, or a download that fails)
        for path, reason in ignored[:IGNORED_SHOWN]:
            tagged("not read", "yellow", f"{path}: {reason}")
        tagged("error:", "red", "no photos found in the paths given" + (" (only files not read as photos: see above)"
                                                                         if ignored else ""))
        raise typer.Exit(code=1)
    console.print(shown(f"loading the zero-shot models: the {cfg.detector} detector"
                        + (f" ({cfg.detector_path})" if cfg.detector_path else "")
                        + f" and SAM ({cfg.sam_path or DEFAULT_SAM})..."), highlight=False)  # minutes: no bar to show
    try:
        seg = ZeroShotSegmenter(cfg)  # checks the config again with the options' values (a range, a kind of model)
    except (OSError, KeyError, ValueError) as exc:
        raise typer.BadParameter(error_message(exc), param_hint="--detector / --detector-path / --sam-path / --config")
    check_prompts = getattr(seg.detector, "check_prompts", None)
    if prompt and check_prompts is not None:  # longer than its text encoder reads: before a photo (each one failed)
        try:
            check_prompts(prompt)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--prompt") from None
    try:
        report = run_zeroshot(seg, paths, out, references=reference, prompts=prompt or None, overwrite=overwrite,
                              names_from_folders=names_from_folders)
    except ValueError as exc:  # --out an input folder or another job's, a reference photo that cannot be read
        raise typer.BadParameter(str(exc), param_hint="--out / --reference") from None
    except KeyboardInterrupt:  # Ctrl-C or a stop signal
        tagged("interrupted:", "yellow", f"the photos finished are kept in {out} (each one's masks and anomaly map "
                                         "whole), but report.json was not written: run the same command again to "
                                         "write them all and the report")
        raise typer.Exit(code=INTERRUPTED_CODE)
    st = report["stages"]
    outside = f"{st['removed_outside_photo']} outside the photo, " if st.get("removed_outside_photo") else ""
    console.print(f"{st['images']} images: {st['boxes_detected']} boxes detected, {outside}{st['removed_by_size_filter']} removed by "
                  f"the size filter (max {report['max_box_fraction']:.3f} of the image), {st['boxes_kept']} kept; "
                  f"prompts: {report['prompt_source']}; report in {out / 'report.json'}")
    for path, reason in report["ignored"][:IGNORED_SHOWN]:
        tagged("not read", "yellow", f"{path}: {reason}")
    for warning in report["warnings"]:
        tagged("warning", "yellow", warning)
    if not report["images"] and not report["failed"]:
        tagged("error:", "red", "no photos found in the paths given")
    for path, reason in report["failed"]:
        _failed(path, reason)
    if report["failed"] or not report["images"]:
        raise typer.Exit(code=1)
