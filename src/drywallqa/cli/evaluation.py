"""``drywallqa evaluate`` and ``drywallqa export onnx``."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .common import (DATASETS_DIR_HELP, GATE_HELP, INTERRUPTED_CODE, MODEL_HELP, MODEL_PATH_HELP, PIPELINE_HELP,
                     PRECISION_HELP, RUNTIME_HELP, SPLITS_DIR_HELP, TILE_HELP, app, check_categories_labelled,
                     check_split_parts, check_output_path, comma_list, console, dataset_names, error_message,
                     export_app, load_segmenter, model_dir_option, tagged, ENLARGE_TILES_HELP)


@app.command()
def evaluate(
    model_path: Optional[str] = typer.Option(None, help=MODEL_PATH_HELP),
    model: Optional[str] = typer.Option(None, help=MODEL_HELP),
    runtime: str = typer.Option("torch", help=RUNTIME_HELP),
    pipeline: Optional[str] = typer.Option(None, help=PIPELINE_HELP),
    out: Path = typer.Option(Path("out/eval"), help="Where report.json, report.md, per_image.csv, examples.png, worst.png and confidence.png go."),
    splits: List[str] = typer.Option(["published,group"], help="Repeated or comma-separated: published (valid splits), group (group-clean "
                               "test), val (group-clean val, where thresholds were chosen), train (a seeded sample of "
                               "150 training photos: how well the model fits what it learnt from), all (every photo "
                               "of every split the dataset declares, once each, reported as \"all photos\": a dataset of "
                               "your own, whatever its splits; no split manifest needed)."),
    dataset: List[str] = typer.Option(["cracks", "taping"], "--dataset", "-d", help="Datasets to score: names or dataset YAML files (repeatable)."),
    splits_dir: Optional[Path] = typer.Option(None, help=SPLITS_DIR_HELP),
    datasets_dir: Optional[Path] = typer.Option(None, help=DATASETS_DIR_HELP),
    limit: Optional[int] = typer.Option(None, help="At most this many images per split (smoke runs); of --splits all, the first in the order the dataset declares its splits (train first in a Roboflow export)."),
    speed_images: int = typer.Option(50, help="Images for the speed measurement (0: skip)."),
    tile: Optional[int] = typer.Option(None, help=TILE_HELP),
    enlarge_tiles: bool = typer.Option(False, help=ENLARGE_TILES_HELP),
    precision: str = typer.Option("float32", help=PRECISION_HELP),
    prompt_gate: bool = typer.Option(True, "--prompt-gate/--no-prompt-gate", help=GATE_HELP + " A dataset of your own "
                                     "whose prompts the model never learnt scores 0 with the gate: the report warns."),
):
    """Scores per dataset split and prompt at original resolution, cross-prompt check, speed; writes reports.
    Interrupted, the same command run again scores only the sets (split x dataset) not yet finished. Exit code 1
    when a photo could not be scored (the reports are written and list it)."""
    from ..engine.evaluator import PARTIAL_DIR, SPLIT_CHOICES, check_eval_out, evaluate as run, evaluation_in_use
    from ..utils.stamps import file_stamp

    if limit is not None and limit < 1:
        raise typer.BadParameter(f"must be at least 1, got {limit}", param_hint="--limit")
    if speed_images < 0:
        raise typer.BadParameter(f"must be 0 (skip) or more, got {speed_images}", param_hint="--speed-images")
    which = tuple(dict.fromkeys(comma_list(splits)))
    if not which:
        raise typer.BadParameter(f"name at least one of {', '.join(SPLIT_CHOICES)}", param_hint="--splits")
    unknown = set(which) - set(SPLIT_CHOICES)
    if unknown:
        raise typer.BadParameter(f"unknown split names {sorted(unknown)}; use {', '.join(SPLIT_CHOICES)}", param_hint="--splits")
    check_output_path(out, "--out", folder=True)
    names = tuple(dataset_names(dataset, datasets_dir))  # one named twice, or unknown: before a model loads
    check_categories_labelled(names, datasets_dir)  # categories its files label none of: before the model loads
    if "published" in which:  # an export of your own with no 'valid' split: said before the model loads, too
        from ..data.registry import get_dataset_config

        for name, entry in zip(names, dataset or names):  # (in the order given: unique_datasets)
            have = get_dataset_config(name).splits
            if "valid" not in have:  # every way on, as docs/evaluation.md and data.md name them (not `all` alone)
                raise typer.BadParameter(
                    f"dataset {name!r} has no split 'valid'; it has {', '.join(have)} (published scores the 'valid' "
                    f"split): --splits all scores every photo of every split, no manifest needed; or `drywallqa data "
                    f"split -d {entry} --out splits` writes a group-clean split manifest, then --splits group scores "
                    "its test part (--splits-dir DIR: a manifest written in another folder than ./splits, such as the "
                    "one a model was trained with); or declare a split named valid in its YAML file (splits: {valid: "
                    "{kind: ..., folder: ...}})", param_hint="--splits")
    try:
        model_dir = _scored_model_dir(model_path, model, pipeline)
    except (OSError, ValueError):  # no such model folder or name: the model's load below says so, as before
        model_dir = None
    if {"group", "val", "train"} & set(which):  # the parts of the manifests the model was trained with, from any folder
        from .training import splits_trained_with, train_files_refused

        with train_files_refused("--model-path"):
            splits_dir = splits_trained_with(model_dir, names, splits_dir)
    try:
        check_eval_out(out, names, datasets_dir, model_dir)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--out")
    in_use = evaluation_in_use(out)  # said before the model loads (a hub model's can take minutes); run() holds it
    if in_use:
        tagged("error:", "red", in_use)
        raise typer.Exit(code=1)
    parts = {"group": "test", "val": "val", "train": "train"}  # the manifest's part each split scores
    check_split_parts(names, splits_dir, tuple(parts[w] for w in which if w in parts),
                      "--splits / --splits-dir")  # a split manifest not there, or without the part: before the load
    seg = load_segmenter(model_path, model, runtime, tile=tile, pipeline=pipeline, precision=precision,
                         prompt_gate=prompt_gate, enlarge_tiles=enlarge_tiles)
    earlier_report = file_stamp(out / "report.json")  # an earlier run's, removed only once this one's sets are scored
    try:
        report = run(seg, out, datasets=names, which=which, splits_dir=splits_dir,
                     datasets_dir=datasets_dir, limit=limit, speed_images=speed_images,
                     model_dir=model_dir)
    except (FileNotFoundError, KeyError) as exc:  # no split manifest yet, or a dataset without a 'valid' split
        message = exc.args[0] if exc.args else str(exc)
        raise typer.BadParameter(f"{message} (--splits published needs a 'valid' split; group, val and train need a "
                                 "manifest; all scores every photo of every split, and needs neither)", param_hint="--splits")
    except ValueError as exc:  # nothing to score (NothingToScoreError), a damaged split manifest, unreadable data
        tagged("error:", "red", str(exc))
        raise typer.Exit(code=1)
    except KeyboardInterrupt:  # Ctrl-C or a stop signal: what is kept, and that the same command goes on from it
        stamp = file_stamp(out / "report.json")
        if stamp is not None and stamp != earlier_report:  # written last, by this run (not an earlier run's)
            tagged("interrupted:", "yellow", f"after the report was written: {out / 'report.json'} is whole")
        else:
            tagged("interrupted:", "yellow", f"the report was not written; the sets (split x dataset) scored are kept "
                                             f"in {out / PARTIAL_DIR}: the same command run again scores the rest only")
        raise typer.Exit(code=INTERRUPTED_CODE)
    console.print((out / "report.md").read_text())
    for line in report["warnings"]:
        tagged("warning:", "yellow", line)
    if report["failures"]:  # as predict and zeroshot: a script sees that the scores leave photos out
        count = len(report["failures"])
        tagged("error:", "red", f"not everything could be scored: {count} failure{'s' if count > 1 else ''} under \"Files "
                                f"that failed\" in {out / 'report.md'}; the scores are of the rest")
        raise typer.Exit(code=1)
    return report


def _scored_model_dir(model_path: Optional[str], model: Optional[str], pipeline: Optional[str]) -> Optional[Path]:
    """The folder of the model being scored (its size, training files and settings go into the report), or None
    where it has none here: a pipeline, or a hub model of ``--model`` (named by a hub id, or by nothing: its default
    weights). Never the shipped model's folder for another model (``--model clipseg`` was reported with the shipped
    model's size and its training photos as "seen")."""
    from ..models.shipped import resolve_model_dir

    if pipeline or model == "zeroshot":
        return None
    if not model:
        return resolve_model_dir(model_path)
    if model_path is None:
        return None
    try:
        folder = resolve_model_dir(model_path)
    except (FileNotFoundError, TypeError):  # a hub id: no folder of the model's own here
        return None
    return folder if folder.is_dir() else None


@export_app.command("onnx")
def export_onnx_cmd(
    out: Path = typer.Option(..., "--out", help="Folder for encoder.onnx, decoder.onnx and config.json."),
    model_path: Optional[str] = typer.Option(None, help=MODEL_PATH_HELP),
):
    """ONNX graphs of a film_unet model (default: the shipped one): the image encoder (once per image) and the prompt decoder."""
    from ..engine.folder_writers import FolderInUse, in_use_message, writer_in_progress
    from ..export.onnx import ExportTargetRefused, check_export_name, check_export_target, export_onnx, is_onnx_export_dir
    from ..models.base import WEIGHTS_NAME, is_drywallqa_model_dir, not_a_model_folder, read_model_metadata

    check_output_path(out, "--out", folder=True)  # below a file, or in a folder this user cannot write
    try:  # a name too long for its lock beside it: an OSError traceback there
        check_export_name(out)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--out") from None
    writer = writer_in_progress(out)
    if writer is not None:  # said before the model loads; each replaces --out whole when it ends
        tagged("error:", "red", in_use_message(out, *writer, "wait for it to end, or export into another --out"))
        raise typer.Exit(code=1)
    source = model_dir_option(model_path)
    if not is_drywallqa_model_dir(source):
        raise typer.BadParameter(not_a_model_folder(source), param_hint="--model-path")
    if is_onnx_export_dir(source):
        raise typer.BadParameter(f"{source} is an ONNX export already; give the torch model folder it came from",
                                 param_hint="--model-path")
    model_type = read_model_metadata(source).get("model_type")
    if model_type != "film_unet":
        raise typer.BadParameter(f"{source} is a {model_type} model; ONNX export covers film_unet models",
                                 param_hint="--model-path")
    if not (Path(source) / WEIGHTS_NAME).is_file():
        raise typer.BadParameter(f"{source}: no {WEIGHTS_NAME} (the folder's weights)", param_hint="--model-path")
    try:  # the model folder itself, another program's folder: before the model loads
        check_export_target(source, out)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--out")
    from ..engine.torch_runtime import TorchSegmenter

    try:  # what the export copies must load too (settings, prompt gate, confidence): not only once it is used
        TorchSegmenter.from_path(source)
    except (ValueError, OSError, KeyError) as exc:
        raise typer.BadParameter(error_message(exc), param_hint="--model-path") from None
    console.print(f"exporting {source} to {out}: tracing its encoder and decoder into ONNX graphs...")
    try:
        export_onnx(source, out)
    except FolderInUse as exc:  # a ship or another export into --out begun meanwhile
        tagged("error:", "red", str(exc))
        raise typer.Exit(code=1)
    except ExportTargetRefused as exc:  # the earlier export put back (one killed between its renames) refused
        raise typer.BadParameter(str(exc), param_hint="--out") from None
    except ValueError as exc:  # a damaged model folder
        raise typer.BadParameter(str(exc), param_hint="--model-path")
    except OSError as exc:  # a folder that cannot be written
        tagged("error:", "red", f"cannot write {out}: {exc}")
        raise typer.Exit(code=1)
    console.print(f"wrote {out}/encoder.onnx and decoder.onnx; use them with --runtime onnx --model-path {out}")
