"""Average the weights of models fine-tuned from one starting point (a "model soup", Wortsman et al. 2022)
and score the result on the group-clean **val** part, beside each ingredient.

    python scripts/model_soup.py MODEL_DIR MODEL_DIR [...] --out out/soup [--settings-from DIR] [--mix 0.3,0.7]

Every ``MODEL_DIR`` is a drywallqa model folder (``runs/<run>/best``, or a shipped model by name or folder:
``fast``) of one architecture; another folder is refused, naming it. The soup is written to ``OUT/soup`` with the
config (and so the input scales, flip TTA, thresholds and post-processing) of ``--settings-from``
(default: the first folder); every model is scored with those same settings. Per model and dataset:
the canonical prompt's val mIoU at the stored thresholds and at the best single threshold of the sweep.
Writes ``soup.json`` and ``soup.md``. The soup is a candidate, not a release: ship it with
``drywallqa ship`` only if it beats the shipped model on val by more than noise.

``--mix`` weighs the models (one weight per folder, summing to 1; default: equal). Two models with weights
``a, 1 - a`` interpolate between a fine-tuned model and the model it was fine-tuned from (WiSE-FT, Wortsman
et al. 2022): some of what fine-tuning gained, with less of what it lost elsewhere. ``--no-score`` writes the
soup only (e.g. to give it to ``drywallqa ship``, which scores it on the datasets it was trained on).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from drywallqa import Segmenter
from drywallqa.data.registry import resolve_dataset, unique_datasets
from drywallqa.engine.evaluator import build_eval_sets, evaluate_set
from drywallqa.models.base import PromptedSegmentationModel, is_drywallqa_model_dir, not_a_model_folder
from drywallqa.models.shipped import resolve_model_dir
from drywallqa.utils.argtypes import positive_int
from drywallqa.utils.files import replace_dir, temp_dir, write_text_atomic
from drywallqa.utils.formats import strict_json
from drywallqa.utils.locks import folder_lock
from drywallqa.utils.paths import check_replaceable_dir, check_writable_path

WEIGHTS = "model.safetensors"
LOCK = ".model_soup.lock"  # in --out while a soup is made and scored there


def parse_mix(text: str, n: int) -> list[float]:
    """``"0.3,0.7"`` -> ``[0.3, 0.7]``: ``n`` non-negative weights summing to 1 (ValueError otherwise)."""
    try:
        mix = [float(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"--mix {text!r}: numbers separated by commas, e.g. 0.3,0.7") from None
    if len(mix) != n or any(not 0 <= w <= 1 for w in mix) or abs(sum(mix) - 1) > 1e-6:
        raise ValueError(f"--mix {text!r}: one weight in [0, 1] per model ({n}), summing to 1")
    return mix


def average_weights(model_dirs, mix=None) -> dict:
    """Mean of the floating-point tensors of several ``model.safetensors``, weighted by ``mix`` (default: equal;
    other tensors, e.g. BatchNorm's step counters, are taken from the first); in the first model's dtypes.

    Raises:
        ValueError: the models do not have the same tensor names and shapes, or ``mix`` does not fit them.
    """
    mix = [1 / len(model_dirs)] * len(model_dirs) if mix is None else list(mix)
    if len(mix) != len(model_dirs) or abs(sum(mix) - 1) > 1e-6:
        raise ValueError(f"mix {mix}: one weight per model ({len(model_dirs)}), summing to 1")
    dicts = [load_file(str(Path(d) / WEIGHTS)) for d in model_dirs]
    first = dicts[0]
    for d, sd in zip(model_dirs[1:], dicts[1:]):
        if sd.keys() != first.keys() or any(sd[k].shape != first[k].shape for k in first):
            raise ValueError(f"{d}: not the same architecture as {model_dirs[0]} (tensor names or shapes differ)")
    return {k: sum(w * sd[k].float() for w, sd in zip(mix, dicts)).to(v.dtype) if v.is_floating_point() else v
            for k, v in first.items()}


def check_models(model_dirs, settings_dir) -> None:
    """Refuse, naming it, a folder that is no drywallqa model folder (missing, a file, a training run, an ONNX export,
    damaged weights), and a ``settings_dir`` whose model the weights of ``model_dirs`` do not fit (another
    architecture or model type): the soup would be written as a folder no loader can read.

    Raises:
        ValueError: naming the folder and why.
    """
    for d in [*model_dirs, settings_dir]:
        if not is_drywallqa_model_dir(d):
            raise ValueError(not_a_model_folder(d))
    try:
        model = PromptedSegmentationModel.from_pretrained(settings_dir)  # its config, weights of its own kind
    except (OSError, ValueError, KeyError) as exc:  # KeyError: a model type this version has not
        said = str(exc.args[0] if exc.args else exc)
        raise ValueError(said if str(settings_dir) in said else f"{settings_dir}: {said}") from None
    for d in model_dirs:
        try:
            with safe_open(str(Path(d) / WEIGHTS), framework="pt") as f:
                shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
                aliases = json.loads((f.metadata() or {}).get("aliases", "{}"))
            shapes.update({alias: shapes[kept] for alias, kept in aliases.items()})
        except Exception as exc:  # no such file, not a safetensors file, a damaged alias list
            raise ValueError(f"{d}: its {WEIGHTS} cannot be read ({type(exc).__name__}: {str(exc)[:200]})") from None
        if shapes != {k: tuple(v.shape) for k, v in model.state_dict().items()}:
            raise ValueError(f"{d}: its weights are not those of the model of {settings_dir} (another architecture or "
                             "model type); give models of one architecture")


def write_model(weights: dict, settings_dir: Path, out: Path, aliases: dict | None = None) -> Path:
    """A model folder: ``weights`` (tied ones stored once: ``aliases``, as ``save_pretrained`` writes them) plus the
    ``config.json`` of ``settings_dir``; written beside and replaced whole, so nothing of an earlier soup stays (a
    confidence.json calibrated on its weights)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with temp_dir(out.parent, f".{out.name}-") as tmp:
        save_file(weights, str(tmp / WEIGHTS), metadata={"aliases": json.dumps(aliases or {})})
        shutil.copyfile(Path(settings_dir) / "config.json", tmp / "config.json")
        replace_dir(tmp, out)
    return out


def read_aliases(model_dir) -> dict:
    """The tied weights of a model folder's ``model.safetensors`` (alias -> the name stored)."""
    with safe_open(str(Path(model_dir) / WEIGHTS), framework="pt") as f:
        return json.loads((f.metadata() or {}).get("aliases", "{}"))


def score_on_val(model_dir: Path, sets, datasets, progress: bool = True) -> dict:
    """Canonical-prompt val mIoU per dataset at the stored thresholds and at the best single threshold (``progress``: a
    bar per set, on standard error: each model's val photos took minutes with nothing on screen)."""
    seg = Segmenter.load(model_dir)
    res = {}
    for es in sets:
        room = evaluate_set(seg, es, datasets, progress=progress).headroom
        res[es.dataset] = {"mIoU": room["mIoU"], "mIoU_best_threshold": room["mIoU_best_single_threshold"],
                           "best_threshold": room["best_single_threshold"]}
    res["mean_mIoU"] = sum(res[d]["mIoU"] for d in datasets) / len(datasets)
    res["mean_mIoU_best_threshold"] = sum(res[d]["mIoU_best_threshold"] for d in datasets) / len(datasets)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=Path("out/soup"))
    ap.add_argument("--settings-from", type=Path, default=None)
    ap.add_argument("--datasets", nargs="+", default=["cracks", "taping"])
    ap.add_argument("--datasets-dir", type=Path, default=None, help="default: $DRYWALLQA_DATASETS, else ../shared/datasets")
    ap.add_argument("--splits-dir", type=Path, default=None, help="default: ./splits, else the shipped manifests")
    ap.add_argument("--limit", type=positive_int, default=None, help="val images per dataset (smoke runs only)")
    ap.add_argument("--mix", default=None, help="one weight per model, summing to 1 (default: equal)")
    ap.add_argument("--no-score", action="store_true", help="write the soup only")
    args = ap.parse_args()
    if len(args.models) < 2:
        ap.error("give at least two model folders")
    try:
        mix = parse_mix(args.mix, len(args.models)) if args.mix else None
        args.models = [resolve_model_dir(str(d)) for d in args.models]  # a shipped name too (fast)
        settings = resolve_model_dir(str(args.settings_from)) if args.settings_from else args.models[0]
        check_writable_path(args.out, folder=True)
        check_models(args.models, settings)
        if (args.out / "soup").resolve() in {Path(d).resolve() for d in [*args.models, settings]}:
            raise ValueError(f"--out {args.out}: its soup/ is one of the models given, which the soup would replace "
                             "(and then be scored as that model); give another --out")
        for source in dict.fromkeys([*args.models, settings]):  # OUT/soup is replaced whole: a model folder or new
            check_replaceable_dir(args.out / "soup", "the soup", is_drywallqa_model_dir, source)
        soup = average_weights(args.models, mix)
        # the photos it is scored on, before the soup is written: an unknown --datasets, no photo read (a wrong
        # DRYWALLQA_DATASETS) were a traceback once OUT/soup had replaced the earlier soup; a YAML file's scores are
        # keyed by the dataset's name (a KeyError traceback, named by its file)
        sets = None
        if not args.no_score:
            args.datasets = unique_datasets([resolve_dataset(d, args.datasets_dir) for d in args.datasets])
            sets = build_eval_sets(args.datasets, ("val",), args.splits_dir, args.datasets_dir, limit=args.limit)
    except (OSError, ValueError, KeyError) as exc:
        ap.error(str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc))
    with contextlib.ExitStack() as held:
        try:  # two soups into one --out: each scored whichever soup the other had just written there
            held.enter_context(folder_lock(args.out, LOCK, "model soup", "choose another --out"))
        except ValueError as exc:
            ap.error(str(exc))
        make_and_score(args, soup, settings, mix, sets)


def make_and_score(args, soup: dict, settings: Path, mix, sets=None) -> None:
    """Write the soup into ``args.out/soup``; unless ``--no-score``, score it and each model on ``sets`` (default: the
    group-clean val part of ``args.datasets``), and write the reports."""
    torch.set_num_threads(2)
    soup_dir = write_model(soup, settings, args.out / "soup", read_aliases(args.models[0]))
    for stale in (args.out / "soup.json", args.out / "soup.md"):  # an earlier run's scores of the soup replaced (kept
        if stale.is_file():                                          # by --no-score, or a run stopped while scoring)
            stale.unlink()
            print(f"removed {stale}: it scored the soup this one replaced", file=sys.stderr)
    if args.no_score:
        print(soup_dir)
        return
    if sets is None:
        sets = build_eval_sets(args.datasets, ("val",), args.splits_dir, args.datasets_dir, limit=args.limit)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, d in enumerate(args.models):  # each ingredient with the same inference settings as the soup
            rows[str(d)] = score_on_val(write_model(load_file(str(d / WEIGHTS)), settings, Path(tmp) / str(i),
                                                    read_aliases(d)), sets, args.datasets)
            print(d, json.dumps(rows[str(d)]), flush=True)
    rows["soup"] = score_on_val(soup_dir, sets, args.datasets)
    print("soup", json.dumps(rows["soup"]), flush=True)
    report = {"models": [str(d) for d in args.models], "mix": mix, "settings_from": str(settings), "split": "group-clean val",
              "scores": rows}
    write_text_atomic(strict_json(report), args.out / "soup.json")
    md = ["| model | " + " | ".join(f"{d} val mIoU (best threshold)" for d in args.datasets) + " | mean |",
          "|---|" + "---|" * (len(args.datasets) + 1)]
    md += [f"| {name} | " + " | ".join(f"{r[d]['mIoU']:.4f} ({r[d]['mIoU_best_threshold']:.4f})" for d in args.datasets)
           + f" | {r['mean_mIoU']:.4f} ({r['mean_mIoU_best_threshold']:.4f}) |" for name, r in rows.items()]
    write_text_atomic("\n".join(md) + "\n", args.out / "soup.md")
    print("\n".join(md))


if __name__ == "__main__":
    from drywallqa.utils.signals import run_main

    run_main(main)  # Ctrl-C: one line and exit 130, as a drywallqa command
