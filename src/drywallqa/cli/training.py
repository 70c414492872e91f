"""``drywallqa train``, ``ship``, ``calibrate-gate``, ``calibrate-confidence``: from a config to a model folder ready to use."""

from __future__ import annotations

import json
import math
import os
from contextlib import contextmanager
from pathlib import Path
from typing import List, Optional

import typer

from .common import (DATASETS_DIR_HELP, INTERRUPTED_CODE, SPLITS_DIR_HELP, app, check_categories_labelled,
                     check_model_file, check_output_path, console, dataset_names, error_message, model_dir_option, tagged)


def not_in_a_running_run(model_path: Path) -> None:
    """A calibration writes into ``model_path``: refused where it is the ``best/`` of a training run still going on,
    which replaces that folder whole at its next better epoch (the calibration said "wrote ...", then was gone, or
    written into the weights of another epoch than it was fitted on)."""
    from ..engine.run_folder import run_in_use

    run = Path(model_path).resolve().parent
    if run_in_use(run):
        raise typer.BadParameter(f"{model_path} is in the folder of a training run still going on ({run}), which "
                                 "replaces it as it goes on: calibrate once the run has ended, or a copy of it",
                                 param_hint="--model-path")


def not_being_shipped(model_path: Path) -> None:
    """A calibration writes into ``model_path``: refused before its work while a ship (or an ONNX export) into that
    folder is under way, which replaces it whole when it ends (the calibration was refused only once made, minutes
    later; one written while an export ran was silently lost)."""
    from ..engine.folder_writers import in_use_message, writer_in_progress

    writer = writer_in_progress(model_path)
    if writer is not None:
        tagged("error:", "red", in_use_message(model_path, *writer, "calibrate it once it has ended"))
        raise typer.Exit(code=1)


DEFAULT_DATASETS = ("cracks", "taping")  # -d of a model that records no datasets it was trained on
DEFAULT_HINT = "--dataset (not given: the datasets the model was trained on)"  # an error of -d's default: no -d typed
DATASET_HELP = ("The datasets the model was trained on (names or dataset YAML files, repeatable); default: those its "
                "training run's config.yaml (data.datasets) names, which a shipped folder keeps as training_config.yaml "
                "(an ONNX export: its model folder's), else cracks and taping.")


def val_data_of(model_dir, given, datasets_dir: Optional[Path], splits_dir: Optional[Path],
                param_hint: str = "--model-path") -> tuple:
    """``(names, datasets_dir, splits_dir)`` a command choosing on a model's val parts reads (ship,
    calibrate-confidence): its datasets (:func:`trained_on`) as registered names, and the split manifests it was
    trained with (:func:`splits_trained_with`), with a warning where their val part holds photos it trained on
    (:func:`warn_val_trained_on`). A ``train_files.json`` of the model that cannot be read is a usage error of
    ``param_hint`` (the folder given), naming it and what to do; a dataset whose YAML's ``categories`` its COCO files
    label none of (:func:`~drywallqa.data.sample.categories_refusal`: every val photo read as showing nothing, options
    chosen and a confidence fitted on empty masks) is one of ``--dataset``, as train and evaluate refuse it."""
    datasets, datasets_dir = trained_on(model_dir, given, datasets_dir, param_hint=param_hint)
    names = tuple(dataset_names(datasets, datasets_dir))
    check_categories_labelled(names, datasets_dir, "--dataset" if given else DEFAULT_HINT)  # before any model work
    with train_files_refused(param_hint):
        splits_dir = splits_trained_with(model_dir, names, splits_dir)
        warn_val_trained_on(model_dir, names, splits_dir, datasets_dir)
    return names, datasets_dir, splits_dir


@contextmanager
def train_files_refused(param_hint: str):
    """A model's ``train_files.json`` that cannot be read (:class:`~drywallqa.engine.run_folder.TrainFilesUnreadable`)
    as a usage error of ``param_hint``: what the command reads of it (its datasets, split manifests, the photos it was
    trained on) is not taken as unrecorded without a word."""
    from ..engine.run_folder import TrainFilesUnreadable

    try:
        yield
    except TrainFilesUnreadable as exc:
        raise typer.BadParameter(str(exc), param_hint=param_hint) from None


def warn_val_trained_on(model_dir, names, splits_dir, datasets_dir) -> None:
    """A warning naming the datasets whose group-clean val part holds photos the model was trained on
    (:func:`~drywallqa.engine.shipping.val_photos_trained_on`): what is chosen or fitted on them flatters it."""
    from ..engine.shipping import val_photos_trained_on

    trained = val_photos_trained_on(model_dir, names, splits_dir, datasets_dir)
    if trained:
        tagged("warning:", "yellow", "the val part holds photos the model was trained on (its train_files.json): "
               + ", ".join(f"{n} of {d}" for d, n in trained.items()) + "; what is chosen or fitted on them flatters "
               "it. Were the split manifests drawn again after training (data split --overwrite), or is this another "
               "splits folder than the run's? Give the manifests it was trained with (--splits-dir, or run from the "
               "folder the run was trained in)")


def splits_trained_with(model_dir, names, splits_dir: Optional[Path]) -> Optional[Path]:
    """``--splits-dir`` as given, or where it is not, the folder of the split manifests the model in ``model_dir`` was
    trained with (:func:`~drywallqa.engine.shipping.recorded_split_manifests`), said in an info line: the default
    lookup, ./splits of the folder the command runs in, else the package's manifests, read other parts from another
    folder (val photos the model trained on, where options and the confidence are chosen). Where that folder cannot be
    taken (a manifest it recorded is gone, the manifests lie in several folders, it lacks one of ``names``), a warning
    says so and the default lookup is used; a model that records none (of an earlier release): the default lookup.
    Recorded manifests gone that the default lookup finds here byte for byte (a run trained on another machine, on
    the package's manifests): that lookup, without a word."""
    from ..data.registry import get_dataset_config
    from ..engine.shipping import recorded_split_manifests

    if splits_dir is not None or model_dir is None:
        return splits_dir
    recorded = recorded_split_manifests(model_dir)
    if not recorded:
        return None
    configs = [get_dataset_config(n) for n in names]
    trained = {c.name: Path(recorded[c.name]) for c in configs if c.name in recorded}
    if not trained:  # none of these datasets was trained on: any manifest of them is as good
        return None
    gone = [str(p) for p in trained.values() if not p.is_file()]
    if gone and _default_lookup_reads(model_dir, configs, trained):  # trained elsewhere (gpu_run) on the manifests
        return None  # the default lookup finds here, byte for byte (the package's): nothing to say
    folders = sorted({str(p.parent) for p in trained.values()})
    lacking = [c.name for c in configs if len(folders) == 1 and not (Path(folders[0]) / f"{c.manifest_name}.json").is_file()]
    why = (f"the split manifest{'s' if len(gone) > 1 else ''} {', '.join(gone)} it was trained with "
           f"{'are' if len(gone) > 1 else 'is'} no longer there" if gone else
           f"it was trained with split manifests in several folders ({', '.join(folders)})" if len(folders) > 1 else
           f"{folders[0]}, where it read its split manifests, has none of {', '.join(lacking)}" if lacking else None)
    if why:
        tagged("warning:", "yellow", f"{model_dir}: {why}; the manifests of ./splits of {Path.cwd()}, else those "
                                     "shipped with the package, are read: give --splits-dir, a folder holding the "
                                     "manifests it was trained with")
        return None
    tagged("info:", "cyan", f"--splits-dir not given: the split manifests {model_dir} was trained with (its "
                            f"train_files.json), in {folders[0]}")
    return Path(folders[0])


def _default_lookup_reads(model_dir, configs, trained: dict) -> bool:
    """Whether the default lookup of split manifests (./splits, else the package's) finds, for each dataset of
    ``configs`` the model in ``model_dir`` was trained on (``trained``), a manifest of the very contents it was trained
    with (its recorded digests): a run trained on another machine, or a model shipped from one, recorded paths that
    are not here."""
    from ..data.grouping import split_manifest_path
    from ..engine.shipping import recorded_split_manifest_digests
    from ..utils.stamps import file_digest

    digests = recorded_split_manifest_digests(model_dir)
    return all(c.name in digests and file_digest(split_manifest_path(None, c.manifest_name)) == digests[c.name]
               for c in configs if c.name in trained)


def trained_on(model_dir: Path, given: Optional[List[str]], datasets_dir: Optional[Path] = None,
               reads_data: bool = True, param_hint: str = "--model-path") -> tuple[List[str], Optional[Path]]:
    """``--dataset`` as given, or where it is not, the datasets the model in ``model_dir`` was trained on
    (:func:`~drywallqa.engine.shipping.trained_datasets`), said in an info line: the fixed default, cracks and taping,
    re-chose the thresholds and post-processing of a model trained on refined taping strips on the plain box labels
    (and refused a run trained on a dataset of its own). A model that records none: cracks and taping, said so; one
    whose dataset YAML file is not found from here is a usage error naming it. With the datasets folder they are read
    in: ``datasets_dir`` (``--datasets-dir``) where given, else, for datasets taken from the record, the record's
    ``data.datasets_dir`` (the run read its datasets and its ``{datasets}/`` dataset files there: the default folder
    read others, or none). One not found here is a usage error saying what to give, where it matters: a command that
    ``reads_data`` (ship, calibrate-confidence, which take --datasets-dir), else (calibrate-gate: the datasets'
    prompts alone) only for a dataset YAML file. A ``train_files.json`` that cannot be read: a usage error of
    ``param_hint`` (:func:`train_files_refused`)."""
    from ..data.registry import is_dataset_file
    from ..engine.shipping import trained_datasets

    if given:
        return list(given), datasets_dir
    with train_files_refused(param_hint):
        found = trained_datasets(model_dir, with_dir=True)
    if found is None:
        tagged("info:", "cyan", f"{model_dir} records no datasets it was trained on: -d {' -d '.join(DEFAULT_DATASETS)} "
                                "(the default); give -d for a model trained on others")
        return list(DEFAULT_DATASETS), datasets_dir
    names, where, not_found, recorded_dir = found
    if not_found:
        raise typer.BadParameter(f"{model_dir} was trained on {', '.join(not_found)} ({where}): a path relative to the "
                                 f"folder it was trained in, not found from {Path.cwd()}; run from that folder, or give "
                                 "every dataset it was trained on with -d", param_hint=DEFAULT_HINT)
    read_in = ""
    if datasets_dir is None and recorded_dir is not None:
        if Path(recorded_dir).expanduser().is_dir():
            datasets_dir = Path(recorded_dir).expanduser()
            read_in = f", in its data.datasets_dir {datasets_dir}"
        elif reads_data or any(is_dataset_file(n) for n in names):
            raise typer.BadParameter(
                f"{model_dir} was trained on {', '.join(names)} ({where}) in the datasets folder {recorded_dir} (its "
                f"data.datasets_dir), not found from {Path.cwd()}: give "
                + ("--datasets-dir (the folder holding those datasets here), or -d" if reads_data else
                   "every dataset it was trained on with -d"),
                param_hint=f"{DEFAULT_HINT} / --datasets-dir" if reads_data else DEFAULT_HINT)
    tagged("info:", "cyan", f"-d not given: the datasets {model_dir} was trained on ({where}): {', '.join(names)}"
                            f"{read_in}")
    return names, datasets_dir


@app.command()
def train(
    config: Path = typer.Argument(..., help="YAML training config, e.g. configs/default.yaml."),
    overrides: Optional[List[str]] = typer.Argument(
        None, help="KEY=VALUE overrides of any config field, e.g. optim.epochs=3 data.cache_size=320 "
                   "model_config.encoder=hed_vgg16 (values read as YAML)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from <output_dir>/last.pt."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the run an output_dir already holds (default: refuse)."),
    model: Optional[str] = typer.Option(None, help="Override the config's model type (film_unet, clipseg, sam_text)."),
    model_path: Optional[str] = typer.Option(
        None, help="Start from these weights: a drywallqa model folder (any type) or a shipped model's name, or for clipseg and "
                   "sam_text a Hugging Face save_pretrained directory or hub id."),
    output_dir: Optional[str] = typer.Option(None, "--out", "--output-dir", help="Override output_dir of the config: "
                                             "the run's folder."),
    epochs: Optional[int] = typer.Option(None, help="Override optim.epochs."),
    lr: Optional[float] = typer.Option(None, help="Override optim.lr (peak learning rate)."),
    max_minutes: Optional[float] = typer.Option(None, help="Stop (with a checkpoint) after this many minutes."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda or auto."),
    accept_label_change: bool = typer.Option(
        False, "--accept-label-change", help="With --resume: go on with a run whose last.pt records no label encoding "
                                             "(drywallqa 0.6.28 or earlier: 0.6.27 and earlier read a mask's 255 pixels "
                                             "as background, 'ignore' from now on; 0.6.28 as 'ignore' already) on such "
                                             "masks (refused otherwise)."),
):
    """Train a model from a config file (checkpoints, metrics CSV/JSON and curves in output_dir)."""
    import yaml

    from ..engine.config import TrainConfig
    from ..engine.run_folder import check_config_file, holds_run, run_in_use, run_model_around
    from ..engine.trainer import InitFromConflict, Trainer, TrainingInterrupted, check_training_data

    try:
        cfg = TrainConfig.from_yaml(config)
    except (OSError, ValueError, TypeError, yaml.YAMLError) as exc:
        raise typer.BadParameter(str(exc), param_hint="CONFIG")
    if model_path and not any(str(item).partition("=")[0].strip() == "init_from" for item in overrides or ()):
        from ..engine.config import init_from_model_type

        if init_from_model_type(model_path) is not None:  # a drywallqa model folder or a shipped name: it defines the
            # model, whose keys the overrides' model_config.* are (freeze_backbone of a CLIPSeg folder was refused as
            # "no key freeze_backbone for model film_unet", the YAML's); set as init_from below, as it is given
            cfg.init_from = model_path
    other_model = bool(model) and model != cfg.model
    if other_model:  # before the overrides, whose model_config.* are then keys of this model (they were checked as the
        # YAML's model's, "no key freeze_backbone for model film_unet", and then thrown away with its options)
        cfg.model, cfg.model_config = model, {}  # the config's model options belong to its own model type
    try:
        cfg = cfg.with_overrides(overrides)
    except (ValueError, TypeError) as exc:  # (an unknown --model too)
        raise typer.BadParameter(str(exc), param_hint="--model / OVERRIDES" if other_model else "OVERRIDES")
    overridden: dict = {}
    for item in overrides or ():  # as typed: a key given twice (the last silently won) is refused; scripts that
        key = str(item).partition("=")[0].strip()  # build on a list of overrides (gpu_run) let the last one win
        if key in overridden:
            raise typer.BadParameter(f"{overridden[key]!r} and {item!r} both set {key}: give it once", param_hint="OVERRIDES")
        overridden[key] = item
    # the options that set a config key, as given: one or the override of its key, and said again in the command that
    # continues a stopped run
    options = (("--out", output_dir, "output_dir"), ("--epochs", epochs, "optim.epochs"), ("--lr", lr, "optim.lr"),
               ("--device", device, "device"), ("--model", model, "model"), ("--model-path", model_path, "init_from"))
    for option, value, key in options:
        if value is not None and key in overridden:  # the option silently won
            raise typer.BadParameter(f"{option} and the override {key}=... both set {key}: give one", param_hint=option)
    if output_dir is not None:  # "" is refused by validate, not taken for the config's
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
        raise typer.BadParameter(str(exc), param_hint="--lr / --epochs / --device / --model / OVERRIDES / CONFIG")
    from ..data.registry import is_dataset_file

    missing = [n for n in cfg.data.datasets if is_dataset_file(n) and not Path(n).is_file()]
    if missing:  # (it was said to be a missing start folder: a FileNotFoundError once the trainer read the data)
        raise typer.BadParameter(f"dataset file {missing[0]} not found (a path from the folder the command runs in)",
                                 param_hint="CONFIG / OVERRIDES (data.datasets)")
    if model_path:
        from ..models.base import is_drywallqa_model_dir
        from ..models.registry import config_keys
        from ..models.shipped import SHIPPED_MODELS, is_bare_name

        if not os.path.exists(model_path):  # (a name longer than the disk allows too: Path.exists raised it)
            if model_path in SHIPPED_MODELS or (is_bare_name(model_path) and cfg.model == "film_unet"):
                model_path = model_dir_option(model_path)  # a shipped name, or a clean error listing them
            elif cfg.model == "film_unet":  # a path (./fast, runs/x): film_unet has no hub ids
                model_dir_option(model_path)  # "./fast": the hint to write the shipped name bare
                raise typer.BadParameter(f"no model folder {model_path}", param_hint="--model-path")
        if is_drywallqa_model_dir(model_path):
            from ..models.base import read_model_metadata
            from ..models.registry import check_same_model_type

            try:  # init_from defines the model: a model type given is the folder's own
                check_same_model_type(model_path, read_model_metadata(model_path).get("model_type"),
                                      cfg.model if (model is not None or "model" in overridden) else None)
            except ValueError as exc:
                raise typer.BadParameter(str(exc), param_hint="--model / --model-path") from None
            cfg.init_from = str(model_path)
        elif "pretrained" in config_keys(cfg.model):
            cfg.model_config = {**cfg.model_config, "pretrained": str(model_path)}  # a hub model's folder or id
        else:  # a folder, but no model's: a training run (its model is best/), or another folder
            run = Path(model_path) / "best"
            hint = (f"; a training run's model is its best/: --model-path {run}" if is_drywallqa_model_dir(run) else
                    f" (one with config.json and model.safetensors, as a run's best/ or `drywallqa ship` writes); "
                    f"{cfg.model} starts from no other weights")
            raise typer.BadParameter(f"{model_path} is not a drywallqa model folder{hint}", param_hint="--model-path")
    if resume and overwrite:
        raise typer.BadParameter("--resume continues a run and --overwrite replaces it: choose one", param_hint="--overwrite")
    if accept_label_change and not resume:  # was dropped without a word (a new run reads its masks as this release)
        raise typer.BadParameter("is an option of --resume (a run whose masks an earlier release read otherwise): give "
                                 "--resume too, or leave it out", param_hint="--accept-label-change")
    try:  # the run's own config.yaml, trained from: kept, never replaced by overrides
        check_config_file(config, cfg, resume=resume)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="CONFIG")
    out_hint = "--out" if output_dir is not None else "output_dir (the config's; --out replaces it)"
    check_output_path(Path(cfg.output_dir), out_hint, folder=True)  # a file, below one, unwritable: before any load
    around = run_model_around(cfg.output_dir)
    if around is not None:  # its run replaced best/ at a better epoch, and this run's folder went with it
        raise typer.BadParameter(f"{cfg.output_dir} is in {around}, the model folder of the training run {around.parent}, "
                                 "which replaces it whole at the run's next better epoch: choose a folder outside it",
                                 param_hint=out_hint)
    in_use = run_in_use(cfg.output_dir)  # said before the model and data load; the trainer holds the lock for the run
    if in_use:
        tagged("error:", "red", in_use)
        raise typer.Exit(code=1)
    if not resume and not overwrite and holds_run(cfg.output_dir):  # before the model and data load
        raise typer.BadParameter(f"{cfg.output_dir} already holds a training run: continue it with --resume, replace it "
                                 "with --overwrite, or choose another --out", param_hint=out_hint)
    last = Path(cfg.output_dir) / "last.pt"
    if resume and not last.is_file():  # a misspelt --out: before the model is built (the trainer says it again)
        from ..utils.paths import why_not

        why = why_not(last, folder=False)
        raise typer.BadParameter(f"no checkpoint at {last}" + ("" if why == "not found" else f" ({why})"),
                                 param_hint="--resume")
    import shlex

    # how a run stopped before its end (Ctrl-C, --max-minutes) goes on from its last.pt: the options given with it (the
    # config's own output_dir is another run where --out was given), not --overwrite nor --max-minutes (its own choice)
    given = [str(x) for option, value, _ in options if value not in (None, "") for x in (option, value)]
    again = ["drywallqa", "train", str(config), *(overrides or []), *given, "--resume"]
    go_on = f"continue the run with `{shlex.join(again)}`"
    try:
        check_training_data(cfg)  # the split manifests, their parts, the dataset folders: before the model is built
        result = Trainer(cfg).train(resume=resume, max_minutes=max_minutes, overwrite=overwrite,
                                    accept_label_change=accept_label_change)
    except TrainingInterrupted as exc:  # Ctrl-C: last.pt holds the steps done
        tagged("interrupted:", "yellow", f"{exc.checkpoint} holds step {exc.step}; {go_on}")
        raise typer.Exit(code=INTERRUPTED_CODE)
    except KeyboardInterrupt:
        last = Path(cfg.output_dir) / "last.pt"
        tagged("interrupted:", "yellow", f"{last} holds the run's last checkpoint; {go_on}"
               if last.is_file() else "before the first training step: nothing of this run was saved")
        raise typer.Exit(code=INTERRUPTED_CODE)
    except InitFromConflict as exc:  # model_config asks for another model than init_from's: a usage error
        raise typer.BadParameter(str(exc), param_hint="CONFIG / OVERRIDES (model_config, init_from) / --model-path") from None
    except FileNotFoundError as exc:  # --resume without a checkpoint, a start / teacher folder or a split manifest missing
        hint = "CONFIG (init_from, distill.teacher, data.splits_dir, data.datasets_dir) / --model-path"
        raise typer.BadParameter(str(exc), param_hint="--resume" if resume else hint)
    except (ValueError, KeyError, OSError) as exc:  # data that cannot be read (no images, a damaged manifest, no such
        # part), a damaged start folder or checkpoint, a text encoder that is not here
        tagged("error:", "red", error_message(exc))
        raise typer.Exit(code=1)
    if result.pop("finished_before", False):  # --resume of a finished run: its last epoch's numbers again, said as such
        tagged("note:", "yellow", f"{cfg.output_dir} had finished its {cfg.optim.epochs} epochs: nothing was trained "
                                  "(raise optim.epochs to train on); its last epoch:")
    if result.get("stopped") == "time":  # --max-minutes: not a finished run, and not an epoch's metrics to show
        tagged("stopped:", "yellow", f"--max-minutes {max_minutes:g} reached at step {result['step']}; "
                                     f"{Path(cfg.output_dir) / 'last.pt'} holds it; {go_on}")
        return
    console.print({k: "n/a" if isinstance(v, float) and math.isnan(v) else v for k, v in result.items()})  # not measured
    best = Path(cfg.output_dir) / "best"
    try:  # where the run went and what ships it: the numbers above are the last epoch's, not best/'s
        chosen = json.loads((best / "config.json").read_text())
        epoch, score = chosen.get("epoch"), (chosen.get("val") or {}).get("val_score")
    except (OSError, ValueError, AttributeError):
        return  # no best/ (no epoch scored)
    console.print(f"best weights (epoch {epoch}, val_score {score:.4g}) in {best}" if isinstance(score, (int, float))
                  else f"best weights (epoch {epoch}) in {best}", highlight=False, soft_wrap=True)
    # the run's own datasets (evaluate's -d default is cracks and taping, whatever the run trained on: "-d DATASET"
    # left a newcomer to guess which, and how to name a dataset YAML file); its split manifests evaluate finds itself
    # (train_files.json)
    scored = [str(x) for d in cfg.data.datasets for x in ("-d", d)]
    scored += ["--datasets-dir", str(cfg.data.datasets_dir)] if cfg.data.datasets_dir else []
    console.print(f"next: {shlex.join(['drywallqa', 'evaluate', '--model-path', str(best), *scored])} --splits group "
                  f"--out OUT; drywallqa ship {shlex.quote(str(cfg.output_dir))} --out DIR", highlight=False,
                  soft_wrap=True)


@app.command()
def ship(
    source: Path = typer.Argument(..., help="A training run (its best/ is shipped) or a model folder."),
    dest: Path = typer.Option(..., "--out", "--dest", help="Model folder to write, replaced whole at the end "
                                                  "(e.g. src/drywallqa/weights/fast)."),
    dataset: Optional[List[str]] = typer.Option(None, "--dataset", "-d", help=DATASET_HELP),
    scales: Optional[List[str]] = typer.Option(
        None, "--scales", help="Input sizes to try (repeatable: --scales 448 --scales 384,512 averages two); "
                               "default 384, 448, 512 and 384,512."),
    tta: str = typer.Option("both", help="Mirror-image test-time augmentation to try: both, on or off."),
    budget: bool = typer.Option(True, "--budget/--no-budget", help="Try only options within 150 ms for the first prompt "
                                "and 50 ms per extra one (2 threads); --no-budget on a machine slower than a laptop."),
    gate: bool = typer.Option(True, "--gate/--no-gate", help="Calibrate a prompt gate into the folder."),
    confidence: bool = typer.Option(True, "--confidence/--no-confidence", help="Calibrate the mask confidence into the folder."),
    drywall_check: bool = typer.Option(
        True, "--drywall-check/--no-drywall-check",
        help="Score val cracks transplanted onto drywall photos, for the new model and the one it replaces "
             "(where a crack and a taping dataset are given; a few minutes per model)."),
    accept_drywall_regression: bool = typer.Option(
        False, "--accept-drywall-regression",
        help="Replace the model in --out even where the new one finds clearly fewer cracks on drywall "
             "(otherwise it is left in OUT.candidate)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a model folder in --out that holds files ship "
                                   "does not write (notes, an eval/ report, an ONNX export of its old weights), deleting "
                                   "them (default: refuse, naming them)."),
    limit: Optional[int] = typer.Option(None, min=1, help="Use only the first N val photos of each dataset (smoke runs)."),
    timing_images: int = typer.Option(20, min=1, help="Val photos timed per option."),
    splits_dir: Optional[Path] = typer.Option(None, help=SPLITS_DIR_HELP),
    datasets_dir: Optional[Path] = typer.Option(None, help=DATASETS_DIR_HELP),
):
    """Choose a trained model's input size, mirror TTA, thresholds and post-processing on the group-clean val part
    (within the speed budget), calibrate its prompt gate and confidence there, check cracks on drywall against the
    model it replaces, and write it as a model folder."""
    from ..engine.shipping import CANDIDATE_SCALES, ShipRefused, check_destination, model_folder, parse_scales
    from ..engine.shipping import ship as run

    try:
        candidates = tuple(dict.fromkeys(parse_scales(s) for s in scales)) if scales else CANDIDATE_SCALES  # each once
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--scales") from None
    flips = {"both": (False, True), "on": (True,), "off": (False,)}
    if tta not in flips:
        raise typer.BadParameter("both, on or off", param_hint="--tta")
    check_output_path(Path(dest), "--out", folder=True)  # a link on the way that loops or leads nowhere: before resolve()
    check_output_path(Path(dest).resolve().parent, "--out", folder=True)  # where it is renamed in: before the sweep
    try:  # a file, a folder of other files or one holding SOURCE: a bad option (exit 2), as export onnx says it
        folder = model_folder(source)
        check_destination(folder, Path(dest), overwrite)
    except FileNotFoundError as exc:
        raise typer.BadParameter(str(exc), param_hint="SOURCE") from None
    except ValueError as exc:
        raise typer.BadParameter(str(exc).removeprefix("--out "), param_hint="--out") from None
    names, datasets_dir, splits_dir = val_data_of(folder, dataset, datasets_dir, splits_dir,
                                                  "SOURCE")  # said before the sweep
    try:
        out = run(source, dest, names, candidates, flips[tta], splits_dir, datasets_dir, limit,
                  timing_images, budget, gate, confidence, drywall_check="auto" if drywall_check else None,
                  accept_drywall_regression=accept_drywall_regression, overwrite=overwrite,
                  report=lambda entry: console.print(entry, soft_wrap=True))
    except ShipRefused as exc:  # before any work: a concept --dataset drops, a damaged source, too small a --limit
        raise typer.BadParameter(str(exc), param_hint=exc.option) from None
    except FileNotFoundError as exc:
        raise typer.BadParameter(str(exc), param_hint="SOURCE / --splits-dir / --datasets-dir") from None
    except KeyError as exc:  # a split manifest without a val part, or an unknown dataset
        raise typer.BadParameter(exc.args[0] if exc.args else str(exc), param_hint="--dataset / --splits-dir") from None
    except (OSError, ValueError) as exc:  # a folder that cannot be written, no option within the budget, a clear
        tagged("error:", "red", str(exc))  # regression on cracks on drywall
        raise typer.Exit(code=1)
    chosen = out["chosen"]
    console.print(f"wrote {out['dest']}: scales {chosen['scales']}, tta {chosen['tta']}, thresholds "
                  f"{chosen['dataset_thresholds']} (other prompts {chosen['threshold']}), post-processing "
                  f"{chosen['postprocess']}; val mIoU {chosen['val_mIoU']:.4f}", highlight=False, soft_wrap=True)


@app.command("calibrate-gate")
def calibrate_gate(
    model_path: Path = typer.Option(..., help="Model folder to give a prompt gate (writes prompt_gate.npz into it)."),
    dataset: Optional[List[str]] = typer.Option(None, "--dataset", "-d", help=DATASET_HELP),
):
    """Give a model a prompt gate: prompts far from its datasets' concepts then get an empty mask and a warning.
    The margin is chosen on the val part of generated paraphrase / unrelated lists (drywallqa.text.vocabulary)."""
    from ..engine.calibrate import FolderReplaced, check_keeps_concepts, folder_guard, folder_segmenter
    from ..text.gate import GATE_FILE
    from ..text.gate_calibration import calibrate_model_gate

    check_model_file(model_path, GATE_FILE)  # a folder: a shipped name is not resolved, calibration writes into it
    not_in_a_running_run(model_path)
    not_being_shipped(model_path)
    datasets, datasets_dir = trained_on(model_path, dataset, reads_data=False)
    names = tuple(dataset_names(datasets, datasets_dir))
    try:  # a folder whose weights are missing or damaged gets no gate: said now, not at its next load (its gate and
        folder_segmenter(model_path, prompt_gate=False, confidence=False)  # confidence, damaged or not, unread:
    except (OSError, ValueError, KeyError) as exc:  # a damaged gate is what this makes again)
        raise typer.BadParameter(error_message(exc), param_hint="--model-path") from None
    unchanged = folder_guard(model_path, f"{model_path} was written over while its gate was calibrated (a ship or train "
                             "into it, a copy): the gate was not written, the one written with it kept; calibrate it "
                             "again if it should be replaced")  # the folder whose concepts were checked
    try:  # a concept dropped, or without generated paraphrase lists, is refused before anything is written
        check_keeps_concepts(model_path, names)
        info = calibrate_model_gate(model_path, names, before_save=unchanged,
                                    report=lambda line: console.print(line, highlight=False, soft_wrap=True))
    except FolderReplaced as exc:  # a ship into it meanwhile wrote a gate of its own, maybe of more concepts
        tagged("error:", "red", str(exc))
        raise typer.Exit(code=1)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--dataset") from None
    except OSError as exc:  # the model's text encoder cannot be loaded, a file it cannot read
        raise typer.BadParameter(str(exc), param_hint="--model-path") from None
    console.print(f"min_margin {info['min_margin']:.4f}: on val, {info['positives_answered']:.1%} of {info['positives']} "
                  f"paraphrases answered, {info['negatives_answered']:.1%} of {info['negatives']} unrelated prompts answered")


@app.command("calibrate-confidence")
def calibrate_confidence(
    model_path: Path = typer.Option(..., help="Model folder, or an ONNX export of one, to calibrate (writes "
                                              "confidence.json into it)."),
    dataset: Optional[List[str]] = typer.Option(None, "--dataset", "-d", help=DATASET_HELP),
    limit: Optional[int] = typer.Option(None, min=10, help="Use only the first N val photos of each dataset: a quick look "
                                                           "at what the fit would choose, reported and not written."),
    splits_dir: Optional[Path] = typer.Option(None, help=SPLITS_DIR_HELP),
    datasets_dir: Optional[Path] = typer.Option(None, help=DATASETS_DIR_HELP),
):
    """Fit the model's mask confidence (the estimated IoU of each mask) on the group-clean val part: the
    statistics of its probability maps and how to combine them are chosen by cross-validation there."""
    from ..confidence import CONFIDENCE_FILE
    from ..engine.calibrate import (FolderReplaced, MapsNotFinite, calibrate_model_confidence, check_keeps_concepts,
                                    confidence_segmenter)

    target = check_model_file(model_path, CONFIDENCE_FILE)  # a folder (not a shipped name): it writes into it
    if limit is None:  # (a look with --limit writes nothing)
        not_in_a_running_run(model_path)
        not_being_shipped(model_path)
    names, datasets_dir, splits_dir = val_data_of(model_path, dataset, datasets_dir, splits_dir)
    try:  # a folder whose weights are missing or damaged: said of --model-path, before any data are read
        segmenter = confidence_segmenter(model_path)
    except (OSError, ValueError, KeyError) as exc:  # KeyError: a model type this version does not know
        raise typer.BadParameter(error_message(exc), param_hint="--model-path") from None
    if getattr(segmenter.model, "reports_confidence", False):  # sam_text: SAM's predicted IoU is its confidence
        raise typer.BadParameter(f"{model_path} is a {segmenter.model.model_type} model, which reports a confidence of its "
                                 "own with every mask; a calibration would not be used", param_hint="--model-path")
    try:
        check_keeps_concepts(model_path, names)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--dataset") from None
    try:
        model = calibrate_model_confidence(model_path, names, splits_dir, datasets_dir, limit, save=limit is None,
                                           segmenter=segmenter)
    except (FileNotFoundError, KeyError) as exc:  # no dataset or split manifest, or one without a val part
        raise typer.BadParameter(str(exc).strip("'\""), param_hint="--dataset / --splits-dir / --datasets-dir") from None
    except MapsNotFinite as exc:  # the model's maps hold NaN
        raise typer.BadParameter(str(exc), param_hint="--model-path") from None
    except FolderReplaced as exc:  # another command wrote the folder meanwhile
        tagged("error:", "red", str(exc))
        raise typer.Exit(code=1)
    except ValueError as exc:  # too few photos could be scored, or a folder whose config the model cannot take
        raise typer.BadParameter(str(exc), param_hint="--dataset / --limit") from None
    except OSError as exc:  # a file it cannot read
        raise typer.BadParameter(str(exc), param_hint="--model-path") from None
    sel = model.selection
    counts = sel["masks"]  # per concept (a number in files of earlier releases)
    masks = (", ".join(f"{n} of {c}" for c, n in counts.items()) if isinstance(counts, dict) else str(counts))
    fit = f"{sel['chosen']} (val cross-validated Spearman {sel['cv_spearman'][sel['chosen']]:.3f}, on masks: {masks})"
    if limit is None:
        console.print(f"wrote {target}: {fit}", highlight=False)
    else:
        console.print(f"a look on the first {limit} val photos of each dataset (--limit), {target} left as it was: {fit}",
                      highlight=False)
