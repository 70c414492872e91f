"""The ``drywallqa`` command line: data -> train -> evaluate -> predict."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

from .utils.image_io import DEFAULT_MAX_PIXELS

app = typer.Typer(help="Prompted segmentation for construction QA: photo + text prompt -> mask.", no_args_is_help=True)
data_app = typer.Typer(help="Datasets: statistics and group-clean splits.", no_args_is_help=True)
app.add_typer(data_app, name="data")
export_app = typer.Typer(help="Export the embedded model for other runtimes.", no_args_is_help=True)
app.add_typer(export_app, name="export")
console = Console()
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")


DATASET_HELP = "Dataset name, or a dataset YAML file for your own export (repeatable); default all registered."


def _dataset_names(datasets) -> list[str]:
    """Registered names of the datasets given by name or YAML file (``--dataset``)."""
    from .data.registry import DATASETS, list_datasets, resolve_dataset

    names = []
    for d in datasets or list_datasets():
        try:
            names.append(resolve_dataset(d))
        except (OSError, ValueError) as exc:
            raise typer.BadParameter(str(exc), param_hint="--dataset")
        if names[-1] not in DATASETS:
            raise typer.BadParameter(f"unknown dataset {d!r}; registered: {', '.join(list_datasets())} "
                                     "(or give a dataset YAML file)", param_hint="--dataset")
    return names


STATS_PROBLEMS = 50  # data problems that `data stats` prints; --json has them all


@data_app.command("stats")
def data_stats(
    dataset: List[str] = typer.Option(None, "--dataset", "-d", help=DATASET_HELP),
    datasets_dir: Optional[Path] = typer.Option(None, help="Folder holding the datasets (default ../shared/datasets)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the statistics to this JSON file."),
    preview_dir: Optional[Path] = typer.Option(
        None, "--preview", help="Also save <dataset>_preview.png here: 12 random photos beside their ground truth."),
):
    """Counts, mask coverage, label stroke widths, source-photo groups and near-duplicates across splits."""
    from .data.stats import copies_picture, dataset_stats, preview

    names = _dataset_names(dataset)
    all_stats = [dataset_stats(d, datasets_dir) for d in names]
    for st in all_stats:
        t = Table(title=f"{st['dataset']}")
        for col in ("split", "images", "empty masks", "mean mask coverage", "source groups", "stroke width px (p10/median/p90)"):
            t.add_column(col)
        for sp, v in st["splits"].items():
            w = v.get("stroke_width_px")
            t.add_row(sp, str(v["images"]), str(v["empty_masks"]), f"{v['mean_mask_coverage']:.3f}", str(v["source_groups"]),
                      f"{w['p10']:.1f} / {w['median']:.1f} / {w['p90']:.1f}" if w else "-")
        console.print(t)
        console.print(f"source groups shared between splits: {st['source_groups_shared_between_splits']}")
        console.print(f"near-duplicate pairs across splits: {st['near_duplicate_pairs_across_splits']}")
        agree = st["label_agreement_of_copies"]
        if agree["pairs"]:
            console.print(f"labels of copies of one photo agree at mean IoU {agree['mean_IoU']:.3f} over {agree['pairs']} "
                          f"pairs ({agree['share_below_0.5']:.0%} below 0.5; across splits {agree['mean_IoU_across_splits']:.3f} "
                          f"over {agree['pairs_across_splits']}): near what a model can score against either label")
        if st["problems"]:
            shown = st["problems"][:STATS_PROBLEMS]
            console.print(f"[yellow]{len(st['problems'])} data problems[/yellow] (each names its file; everything else was read):")
            for problem in shown:
                console.print(f"  - {problem}", highlight=False, soft_wrap=True)
            if len(st["problems"]) > len(shown):
                console.print(f"  ... and {len(st['problems']) - len(shown)} more (all of them: --json FILE)")
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(all_stats, indent=2))
    if preview_dir:
        preview_dir.mkdir(parents=True, exist_ok=True)
        for d, st in zip(names, all_stats):
            target = preview_dir / f"{d}_preview.png"
            console.print(f"preview of {preview(d, target, datasets_dir=datasets_dir)} photos: {target}")
            target = preview_dir / f"{d}_label_copies.png"
            if copies_picture(d, st["label_agreement_of_copies"]["worst"], target, datasets_dir):
                console.print(f"copies of one photo whose labels disagree most: {target}")


@data_app.command("split")
def data_split(
    out: Path = typer.Option(Path("splits"), help="Folder for the manifests (<dataset>.json)."),
    dataset: List[str] = typer.Option(None, "--dataset", "-d", help=DATASET_HELP),
    seed: int = typer.Option(0),
    val: float = typer.Option(0.15, help="Fraction of images for val."),
    test: float = typer.Option(0.15, help="Fraction of images for test."),
    datasets_dir: Optional[Path] = typer.Option(None),
):
    """Write group-clean train/val/test manifests: all copies of one source photo in one part."""
    from .data.grouping import make_group_split, split_manifest_path

    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise typer.BadParameter("val and test must be fractions with val + test < 1")
    for d in _dataset_names(dataset):
        split = make_group_split(d, datasets_dir, {"train": 1 - val - test, "val": val, "test": test}, seed, progress=True)
        path = split_manifest_path(out, d)
        split.to_json(path)
        console.print(f"{d}: " + ", ".join(f"{k} {len(v)}" for k, v in split.parts.items()) + f" -> {path}")


@data_app.command("refine-masks")
def data_refine_masks(
    dataset: str = typer.Option("taping", "--dataset", "-d", help="A box-annotated dataset (name or YAML file)."),
    out: Path = typer.Option(..., "--out", help="Folder for the new image/mask dataset, report.json and preview.png."),
    with_: str = typer.Option("sam", "--with", help="Mask source for each box: sam (SAM weights) or edges (tape strips "
                                                    "found in image edges; no weights to fetch)."),
    model_path: Optional[str] = typer.Option(None, help="SAM: hub id or local save_pretrained dir (default facebook/sam-vit-base)."),
    min_iou: float = typer.Option(0.8, help="SAM: keep its mask where its predicted IoU is at least this, else the box."),
    split: List[str] = typer.Option(None, "--split", help="Splits to convert (default all)."),
    datasets_dir: Optional[Path] = typer.Option(None),
):
    """Turn box annotations into pixel masks (the box stays where nothing credible is found): a new
    image/mask-folder dataset; report.json says per file which way each box went."""
    from .data.refine import BOX_REFINERS, SamRefiner, refine_box_masks

    if with_ not in BOX_REFINERS:
        raise typer.BadParameter(f"--with {with_!r}: choose {' or '.join(BOX_REFINERS.names())}", param_hint="--with")
    try:
        refiner = SamRefiner(model_path, min_iou) if with_ == "sam" else BOX_REFINERS.get(with_)()
    except OSError as exc:  # weights that cannot be found or fetched
        raise typer.BadParameter(str(exc), param_hint="--model-path" if with_ == "sam" else "--with")
    report = refine_box_masks(_dataset_names([dataset])[0], out, splits=split or None, datasets_dir=datasets_dir,
                              refiner=refiner)
    for sp, c in report["splits"].items():
        console.print(f"{sp}: {c['images']} images, {c['boxes']} boxes: {c['refined']} refined, {c['kept']} kept "
                      f"(already strips), {c['fell_back']} fell back to the box")
    if report.get("preview"):
        console.print(f"preview: {out / report['preview']}")


@app.command()
def train(
    config: Path = typer.Argument(..., help="YAML training config, e.g. configs/default.yaml."),
    overrides: Optional[List[str]] = typer.Argument(
        None, help="KEY=VALUE overrides of any config field, e.g. optim.epochs=3 data.cache_size=320 "
                   "model_config.encoder=hed_vgg16 (values read as YAML)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from <output_dir>/last.pt."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the run an output_dir already holds (default: refuse)."),
    model: Optional[str] = typer.Option(None, help="Override the config's model type (film_unet, clipseg)."),
    model_path: Optional[Path] = typer.Option(
        None, help="Start from these weights: a drywallqa model directory (any type), or for --model clipseg a "
                   "Hugging Face save_pretrained directory or hub id."),
    output_dir: Optional[str] = typer.Option(None, help="Override output_dir of the config."),
    epochs: Optional[int] = typer.Option(None, help="Override optim.epochs."),
    lr: Optional[float] = typer.Option(None, help="Override optim.lr (peak learning rate)."),
    max_minutes: Optional[float] = typer.Option(None, help="Stop (with a checkpoint) after this many minutes."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda or auto."),
):
    """Train a model from a config file (checkpoints, metrics CSV/JSON and curves in output_dir)."""
    import yaml

    from .engine.config import TrainConfig
    from .engine.trainer import Trainer, holds_run

    try:
        cfg = TrainConfig.from_yaml(config)
    except (OSError, ValueError, TypeError, yaml.YAMLError) as exc:
        raise typer.BadParameter(str(exc), param_hint="CONFIG")
    try:
        cfg = cfg.with_overrides(overrides)
    except (ValueError, TypeError) as exc:
        raise typer.BadParameter(str(exc), param_hint="OVERRIDES")
    if output_dir:
        cfg.output_dir = output_dir
    if epochs is not None:
        cfg.optim.epochs = epochs
    if lr is not None:
        cfg.optim.lr = lr
    if device:
        cfg.device = device
    if max_minutes is not None and not max_minutes > 0:
        raise typer.BadParameter(f"must be greater than 0, got {max_minutes}", param_hint="--max-minutes")
    try:
        cfg.validate()  # the overrides too
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--lr / --epochs / --device / OVERRIDES / CONFIG")
    if model and model != cfg.model:
        cfg.model, cfg.model_config = model, {}  # the config's model options belong to its own model type
    if model_path:
        from .models.base import is_drywallqa_model_dir

        if is_drywallqa_model_dir(model_path):
            cfg.init_from = str(model_path)
        else:
            cfg.model_config = {**cfg.model_config, "pretrained": str(model_path)}
    if resume and overwrite:
        raise typer.BadParameter("--resume continues a run and --overwrite replaces it: choose one", param_hint="--overwrite")
    if not resume and not overwrite and holds_run(cfg.output_dir):  # before the model and data load
        raise typer.BadParameter(f"{cfg.output_dir} already holds a training run: continue it with --resume, replace it "
                                 "with --overwrite, or choose another --output-dir", param_hint="--output-dir")
    try:
        result = Trainer(cfg).train(resume=resume, max_minutes=max_minutes, overwrite=overwrite)
    except FileNotFoundError as exc:  # --resume without a checkpoint
        raise typer.BadParameter(str(exc), param_hint="--resume")
    console.print(result)


MODEL_HELP = ("Model type (film_unet, clipseg, ...): with --model-path of a directory that is not a drywallqa "
              "model (a Hugging Face save_pretrained folder), wrap that model. Default: read from --model-path.")


def _load_kwargs(model: Optional[str], runtime: str = "torch", min_confidence: Optional[float] = None,
                 tile: Optional[int] = None, prompt_gate: bool = True) -> dict:
    """``Segmenter.load`` keyword arguments for the CLI's --model / --runtime / --min-confidence / --tile."""
    if runtime not in ("torch", "onnx"):
        raise typer.BadParameter("runtime must be torch or onnx", param_hint="--runtime")
    if tile is not None and tile < 32:
        raise typer.BadParameter("a tile needs at least 32 px", param_hint="--tile")
    tiling = {"tile": tile} if tile else {}
    if model == "zeroshot":  # --model-path: its YAML config (default: hub models)
        return {"backend": "zeroshot", "min_confidence": min_confidence, **tiling}
    if runtime == "onnx":
        return {"backend": "onnx", "min_confidence": min_confidence, "prompt_gate": prompt_gate, **tiling}
    return {"model": model, "min_confidence": min_confidence, "prompt_gate": prompt_gate, **tiling}


GATE_HELP = ("Leave the masks of prompts far from what the model learnt empty, with a warning naming what it knows "
             "(models with a prompt gate); --no-prompt-gate answers every prompt with the raw map.")


TILE_HELP = "Predict photos larger than this many pixels on overlapping tiles of this size (large phone photos)."
MAX_PIXELS_HELP = ("Images with more pixels fail (reported, the rest go on): guards memory against decompression bombs; "
                   "raise it for very large photos.")
REVIEW_SHOWN = 5  # least confident masks named after a predict run
IGNORED_SHOWN = 10  # files of the input folders that are not images, printed by `predict`; results.json has all


def _check_max_pixels(value: int) -> None:
    if value < 1:
        raise ValueError(f"must be a positive number of pixels, got {value}")


def _check_workers(value: int) -> None:
    if value < 1:
        raise ValueError(f"must be at least 1, got {value}")


def _load_segmenter(model_path: Optional[Path], model: Optional[str], runtime: str = "torch",
                    min_confidence: Optional[float] = None, tile: Optional[int] = None, prompt_gate: bool = True):
    from .engine.predictor import Segmenter

    kwargs = _load_kwargs(model, runtime, min_confidence, tile, prompt_gate)
    try:
        return Segmenter.load(model_path, **kwargs)
    except (FileNotFoundError, KeyError, ValueError, OSError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--model-path / --model")


def _check_model_file(model_path: Path, name: str) -> Path:
    """``model_path / name`` for a calibration to write: the folder must be a model's and writable."""
    from .models.base import is_drywallqa_model_dir

    if not is_drywallqa_model_dir(model_path):  # no, or an unreadable, config.json of a model
        raise typer.BadParameter(f"{model_path} is not a drywallqa model folder", param_hint="--model-path")
    target = model_path / name
    if target.exists() and not target.is_file() or not os.access(model_path, os.W_OK):
        raise typer.BadParameter(f"{target} cannot be written", param_hint="--model-path")
    return target


@app.command("calibrate-gate")
def calibrate_gate(
    model_path: Path = typer.Option(..., help="Model folder to give a prompt gate (writes prompt_gate.npz into it)."),
    dataset: List[str] = typer.Option(["cracks", "taping"], "--dataset", "-d", help="The datasets the model was trained on."),
):
    """Give a model a prompt gate: prompts far from its datasets' concepts then get an empty mask and a warning.
    The margin is chosen on the val part of generated paraphrase / unrelated lists (drywallqa.text.vocabulary)."""
    from .text.gate import GATE_FILE, calibrate_model_gate
    from .text.vocabulary import CONCEPT_WORDS

    _check_model_file(model_path, GATE_FILE)
    names = tuple(_dataset_names(dataset))
    missing = [d for d in names if d not in CONCEPT_WORDS]
    if missing:
        raise typer.BadParameter(f"no generated paraphrase lists for {missing}; a gate can be calibrated for "
                                 f"{', '.join(CONCEPT_WORDS)}", param_hint="--dataset")
    info = calibrate_model_gate(model_path, names)
    console.print(f"min_margin {info['min_margin']:.4f}: on val, {info['positives_answered']:.1%} of {info['positives']} "
                  f"paraphrases answered, {info['negatives_answered']:.1%} of {info['negatives']} unrelated prompts answered")


@app.command("calibrate-confidence")
def calibrate_confidence(
    model_path: Path = typer.Option(..., help="Model folder to calibrate (writes confidence.json into it)."),
    dataset: List[str] = typer.Option(["cracks", "taping"], "--dataset", "-d", help="The datasets the model was trained on."),
    limit: Optional[int] = typer.Option(None, min=10, help="Use only the first N val photos of each dataset (a quick look)."),
    splits_dir: Optional[Path] = typer.Option(None, help="Folder of the group-clean split manifests (default: the shipped ones)."),
    datasets_dir: Optional[Path] = typer.Option(None, help="Folder holding the datasets (default: ../shared/datasets)."),
):
    """Fit the model's mask confidence (the estimated IoU of each mask) on the group-clean val part: the
    statistics of its probability maps and how to combine them are chosen by cross-validation there."""
    from .confidence import CONFIDENCE_FILE
    from .engine.calibrate import calibrate_model_confidence

    target = _check_model_file(model_path, CONFIDENCE_FILE)
    try:
        model = calibrate_model_confidence(model_path, tuple(_dataset_names(dataset)), splits_dir, datasets_dir, limit)
    except (FileNotFoundError, KeyError) as exc:  # no split manifest, or one without a val part
        raise typer.BadParameter(str(exc).strip("'\""), param_hint="--dataset") from None
    except ValueError as exc:  # too few photos could be scored, or a folder whose config the model cannot take
        raise typer.BadParameter(str(exc), param_hint="--dataset") from None
    except OSError as exc:  # e.g. a folder without model.safetensors
        raise typer.BadParameter(str(exc), param_hint="--model-path") from None
    sel = model.selection
    console.print(f"wrote {target}: {sel['chosen']} (val cross-validated Spearman "
                  f"{sel['cv_spearman'][sel['chosen']]:.3f}, on {sel['masks']} masks)")


@export_app.command("onnx")
def export_onnx_cmd(
    out: Path = typer.Option(..., "--out", help="Folder for encoder.onnx, decoder.onnx and config.json."),
    model_path: Optional[Path] = typer.Option(None, help="Model directory (default: the shipped model)."),
):
    """ONNX graphs of the embedded model: the image encoder (once per image) and the prompt decoder."""
    from .engine.predictor import default_model_dir
    from .export.onnx import export_onnx

    export_onnx(model_path or default_model_dir(), out)
    console.print(f"wrote {out}/encoder.onnx and decoder.onnx; use them with --runtime onnx --model-path {out}")


@app.command()
def evaluate(
    model_path: Optional[Path] = typer.Option(None, help="Model directory (default: the shipped model)."),
    model: Optional[str] = typer.Option(None, help=MODEL_HELP),
    runtime: str = typer.Option("torch", help="torch, or onnx (with --model-path of an exported folder)."),
    out: Path = typer.Option(Path("out/eval"), help="Where report.json, report.md, per_image.csv, examples.png and worst.png go."),
    splits: str = typer.Option("published,group", help="Comma-separated: published (valid splits), group (group-clean "
                               "test), val (group-clean val, where thresholds were chosen), train (a seeded sample of "
                               "150 training photos: how well the model fits what it learnt from)."),
    dataset: List[str] = typer.Option(["cracks", "taping"], "--dataset", "-d", help="Datasets to score: names or dataset YAML files (repeatable)."),
    splits_dir: Optional[Path] = typer.Option(
        None, help="Group-clean manifests (default: ./splits where it has the dataset's, else those shipped with the package)."),
    datasets_dir: Optional[Path] = typer.Option(None),
    limit: Optional[int] = typer.Option(None, help="At most this many images per split (smoke runs)."),
    speed_images: int = typer.Option(50, help="Images for the speed measurement (0: skip)."),
    tile: Optional[int] = typer.Option(None, help=TILE_HELP),
):
    """Scores per dataset split and prompt at original resolution, cross-prompt check, speed; writes reports.
    Interrupted, the same command run again continues after the last finished split."""
    from .engine.evaluator import NothingToScoreError
    from .engine.evaluator import evaluate as run
    from .engine.predictor import default_model_dir

    if limit is not None and limit < 1:
        raise typer.BadParameter(f"must be at least 1, got {limit}", param_hint="--limit")
    if speed_images < 0:
        raise typer.BadParameter(f"must be 0 (skip) or more, got {speed_images}", param_hint="--speed-images")
    which = tuple(s.strip() for s in splits.split(","))
    unknown = set(which) - {"published", "group", "val", "train"}
    if unknown:
        raise typer.BadParameter(f"unknown split names {sorted(unknown)}; use published, group, val, train", param_hint="--splits")
    seg = _load_segmenter(model_path, model, runtime, tile=tile)
    try:
        report = run(seg, out, datasets=tuple(_dataset_names(dataset)), which=which, splits_dir=splits_dir,
                     datasets_dir=datasets_dir, limit=limit, speed_images=speed_images,
                     model_dir=model_path or default_model_dir())
    except (FileNotFoundError, KeyError) as exc:  # no split manifest yet, or a dataset without a 'valid' split
        message = exc.args[0] if exc.args else str(exc)
        raise typer.BadParameter(f"{message} (--splits published needs a 'valid' split; group, val and train need a manifest)",
                                 param_hint="--splits")
    except NothingToScoreError as exc:
        console.print(f"[red]error[/red]: {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1)
    console.print((out / "report.md").read_text())
    return report


@app.command()
def predict(
    paths: List[Path] = typer.Argument(..., help="Image files or folders."),
    prompt: List[str] = typer.Option(..., "--prompt", "-p", help="Text prompt (repeatable)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    overlay: bool = typer.Option(False, "--overlay", help="Also write overlays and a grid PNG."),
    report: bool = typer.Option(True, "--report/--no-report",
                                help="Write OUT/report.html: a thumbnail with the masks and the QA measures of every photo."),
    coco: Optional[str] = typer.Option(
        None, help="Also write OUT/predictions.coco.json (one category per prompt) to correct in an annotation tool: "
                   "polygon or rle."),
    threshold: Optional[float] = typer.Option(None, help="One threshold for every prompt, instead of the model's validated per-prompt thresholds."),
    model_path: Optional[Path] = typer.Option(None, help="Model directory (default: the shipped model)."),
    model: Optional[str] = typer.Option(None, help=MODEL_HELP),
    runtime: str = typer.Option("torch", help="torch, or onnx (with --model-path of an exported folder)."),
    mm_per_px: Optional[float] = typer.Option(None, help="Scale, for QA measures in millimetres."),
    overwrite: bool = typer.Option(False, help="Redo images an earlier run finished (default: skip them)."),
    workers: int = typer.Option(1, help="Images in flight at once (threads, or Ray actors with --engine ray)."),
    engine: str = typer.Option("local", help="local, or ray (Ray Data; a local Ray instance unless RAY_ADDRESS is set)."),
    min_confidence: Optional[float] = typer.Option(
        None, help="Empty the masks whose confidence (estimated IoU, 0..1; SAM's predicted IoU for --model sam-text) is lower."),
    tile: Optional[int] = typer.Option(None, help=TILE_HELP),
    flag: List[str] = typer.Option(
        None, "--flag", help="QA rule 'PROMPT: MEASURE OP NUMBER' (repeatable), e.g. 'segment crack: max_width_mm > 0.3': "
                             "photos breaking one are flagged in results.json and listed first in report.html."),
    max_pixels: int = typer.Option(DEFAULT_MAX_PIXELS, help=MAX_PIXELS_HELP),
    prompt_gate: bool = typer.Option(True, "--prompt-gate/--no-prompt-gate", help=GATE_HELP),
):
    """Write one 0/255 mask per image and prompt: <image stem>__<prompt slug>.png at the image's size,
    results.json with QA measures (components, area, length and width) of every mask, and report.html."""
    from .engine.batch import predict_paths, prepare_out_dir
    from .engine.predictor import validate_confidence, validate_prompts, validate_threshold
    from .measures import validate_mm_per_px

    for value, check, hint in ((prompt, validate_prompts, "--prompt"), (threshold, validate_threshold, "--threshold"),
                               (mm_per_px, validate_mm_per_px, "--mm-per-px"), (max_pixels, _check_max_pixels, "--max-pixels"),
                               (workers, _check_workers, "--workers"), (min_confidence, validate_confidence, "--min-confidence"),
                               (out, prepare_out_dir, "--out")):  # the folder last: made only when all else is right
        try:
            check(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint=hint)
    prompts = validate_prompts(prompt)
    from .data.coco_export import SEGMENTATION_FORMATS, write_coco_predictions
    from .rules import parse_rules

    if coco is not None and coco not in SEGMENTATION_FORMATS:
        raise typer.BadParameter(f"one of {', '.join(SEGMENTATION_FORMATS)}", param_hint="--coco")
    try:
        rules = parse_rules(flag or [], prompts, mm_per_px)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--flag")
    if engine == "ray":
        from .engine.batch import predict_paths_ray

        summary = predict_paths_ray(model_path, paths, prompts, out,
                                    load_kwargs=_load_kwargs(model, runtime, min_confidence, tile, prompt_gate),
                                    workers=workers, overwrite=overwrite, threshold=threshold, mm_per_px=mm_per_px, rules=rules,
                                    max_pixels=max_pixels)
    elif engine == "local":
        seg = _load_segmenter(model_path, model, runtime, min_confidence, tile, prompt_gate)
        summary = predict_paths(seg, paths, prompts, out, overlay_images=overlay, threshold=threshold,
                                mm_per_px=mm_per_px, overwrite=overwrite, workers=workers, rules=rules, max_pixels=max_pixels)
    else:
        raise typer.BadParameter("engine must be local or ray", param_hint="--engine")
    skipped = f", {len(summary.skipped)} skipped (done before)" if summary.skipped else ""
    n = len(summary.ignored)
    ignored = f", {n} file{'s' if n > 1 else ''} not read (not images; listed in results.json)" if n else ""
    console.print(f"{len(summary.done)} images done{skipped}, {len(summary.failed)} failed{ignored}; masks in {out}")
    for warning in summary.warnings:
        console.print(f"[yellow]warning[/yellow] {warning}", highlight=False, soft_wrap=True)
    for path, reason in summary.ignored[:IGNORED_SHOWN]:
        console.print(f"[yellow]not read[/yellow] {path}: {reason}", highlight=False, soft_wrap=True)
    if len(summary.ignored) > IGNORED_SHOWN:
        console.print(f"... and {len(summary.ignored) - IGNORED_SHOWN} more (all of them: 'ignored' in {out / 'results.json'})")
    review = sorted((m["confidence"], e["image"], p) for e in summary.results for p, m in e["prompts"].items()
                    if m.get("confidence") is not None)[:REVIEW_SHOWN]
    if review:
        console.print("least confident masks (review these first; confidence = estimated IoU): "
                      + "; ".join(f"{Path(image).name} {p!r} {c:.2f}" for c, image, p in review), highlight=False, soft_wrap=True)
    if rules:
        flagged = [e["image"] for e in summary.results if e["flags"]]
        console.print(f"[bold]{len(flagged)} of {len(summary.results)} photos flagged[/bold] by "
                      + "; ".join(map(str, rules)))
    if report:
        from .engine.batch_report import write_batch_report

        console.print(f"report: {write_batch_report(out)}")
    if coco:
        console.print(f"COCO file for annotation tools: {write_coco_predictions(out, coco)}")
    for path, reason in summary.failed:
        console.print(f"[red]failed[/red] {path}: {reason}")
    if not summary.ok:
        raise typer.Exit(code=1)


@app.command()
def zeroshot(
    paths: List[Path] = typer.Argument(..., help="Image files or folders."),
    out: Path = typer.Option(..., "--out", "-o"),
    reference: Optional[List[Path]] = typer.Option(None, "--reference", help="Normal (defect-free) photos: set the size filter."),
    config: Optional[Path] = typer.Option(None, help="Zero-shot YAML config (stages, model paths, thresholds)."),
    material: Optional[str] = typer.Option(None, help="The surface (drywall, concrete, plaster, tile, ...): tags for the prompts."),
    prompts: str = typer.Option("generated", help="generated (from the surface) or fixed (the --prompt values)."),
    prompt: List[str] = typer.Option(None, "--prompt", "-p", help="Fixed prompts (with --prompts fixed)."),
    size_filter: bool = typer.Option(True, "--size-filter/--no-size-filter"),
    detector: Optional[str] = typer.Option(None, help="grounding-dino or owlv2."),
    detector_path: Optional[str] = typer.Option(None),
    sam_path: Optional[str] = typer.Option(None),
    llm_url: Optional[str] = typer.Option(None, help="OpenAI-compatible endpoint for prompt generation (falls back to the table)."),
):
    """Segment defects with no training data: surface tags -> anomaly prompts -> boxes -> size filter -> SAM."""
    from .zeroshot.pipeline import ZeroShotConfig, ZeroShotSegmenter, run_zeroshot

    cfg = ZeroShotConfig.from_yaml(config) if config else ZeroShotConfig()
    cfg.size_filter = size_filter
    if prompts not in ("generated", "fixed"):
        raise typer.BadParameter("generated or fixed", param_hint="--prompts")
    if prompts == "fixed" and not prompt:
        raise typer.BadParameter("--prompts fixed needs at least one --prompt", param_hint="--prompt")
    cfg.prompt_source = prompts
    if material:
        cfg.tagger, cfg.tagger_options = "fixed", {"material": material}
    if llm_url:
        cfg.prompt_generator, cfg.prompt_generator_options = "llm", {"base_url": llm_url}
    for key, value in (("detector", detector), ("detector_path", detector_path), ("sam_path", sam_path)):
        if value:
            setattr(cfg, key, value)
    try:
        seg = ZeroShotSegmenter(cfg)
    except (OSError, KeyError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--detector-path / --sam-path / --config")
    report = run_zeroshot(seg, paths, out, references=reference, prompts=prompt or None)
    st = report["stages"]
    console.print(f"{st['images']} images: {st['boxes_detected']} boxes detected, {st['removed_by_size_filter']} removed by "
                  f"the size filter (max {report['max_box_fraction']:.3f} of the image), {st['boxes_kept']} kept; "
                  f"prompts from {report['prompt_source']}; report in {out / 'report.json'}")
    if report["failed"]:
        raise typer.Exit(code=1)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
    model_path: Optional[Path] = typer.Option(None, help="Model directory (default: the shipped model)."),
    model: Optional[str] = typer.Option(None, help=MODEL_HELP),
    runtime: str = typer.Option("torch", help="torch, or onnx (with --model-path of an exported folder)."),
    max_upload_mb: float = typer.Option(20.0, help="Larger uploads are answered 413."),
    max_concurrency: int = typer.Option(2, help="Requests segmented at once; more are answered 429."),
    tile: Optional[int] = typer.Option(None, help=TILE_HELP),
    max_pixels: int = typer.Option(DEFAULT_MAX_PIXELS, help="Photos with more pixels are answered 413 before decoding."),
    max_tiles: int = typer.Option(64, help="A tile size that would cut a photo into more tiles is answered 422."),
    request_timeout: float = typer.Option(120.0, help="Seconds a request may take; then it is answered 503."),
    prompt_gate: bool = typer.Option(True, "--prompt-gate/--no-prompt-gate", help=GATE_HELP),
):
    """HTTP API (POST /v1/segment, GET /v1/models, GET /healthz, /docs) and a web page at /."""
    import uvicorn

    from .serve import ServeConfig, create_app

    for value, hint in ((max_upload_mb, "--max-upload-mb"), (max_concurrency, "--max-concurrency"), (max_pixels, "--max-pixels"),
                        (max_tiles, "--max-tiles"), (request_timeout, "--request-timeout")):
        if not value > 0:
            raise typer.BadParameter(f"must be greater than 0, got {value}", param_hint=hint)
    seg = _load_segmenter(model_path, model, runtime, tile=tile, prompt_gate=prompt_gate)
    app_ = create_app(ServeConfig(str(model_path) if model_path else None, model or "embedded", max_upload_mb,
                                  max_concurrency, max_pixels=max_pixels, max_tiles=max_tiles,
                                  request_timeout_s=request_timeout), seg)
    uvicorn.run(app_, host=host, port=port)


if __name__ == "__main__":  # pragma: no cover
    app()
