"""Write the weights held in a training run's ``last.pt`` as a model folder, beside the run's
``train_files.json`` and ``metrics.csv``, so that ``drywallqa ship`` (or ``drywallqa
evaluate --model-path``) can take them.

A run's ``best/`` holds the checkpoint its trainer chose (with ``optim.ema_decay``, the EMA copy); the
final weights of the run, or its final EMA copy, live only in ``last.pt``:

    python scripts/export_checkpoint.py runs/gpu_ft_448 runs/gpu_ft_448_final          # final weights
    python scripts/export_checkpoint.py runs/gpu_ft_448 runs/gpu_ft_448_ema --ema      # final EMA copy
    drywallqa ship runs/gpu_ft_448_final --out src/drywallqa/weights/fast
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path


from drywallqa.engine.run_folder import read_checkpoint
from drywallqa.models.base import PromptedSegmentationModel, is_drywallqa_model_dir
from drywallqa.utils.files import replace_dir, temp_dir, write_atomic
from drywallqa.utils.paths import check_replaceable_dir, check_writable_path


def export(run: Path, dest: Path, ema: bool = False) -> dict:
    """``dest/best`` = the model of ``run/best`` (architecture, stored settings) with the weights of
    ``run/last.pt``; returns the checkpoint's step and epoch."""
    for need in (run / "last.pt", run / "best" / "config.json"):
        if need.parent.name == "best" and not need.parent.exists() and (run / "last.pt").is_file():  # it said RUN was
            # no training run: one stopped (Ctrl-C, --max-minutes) before its first epoch ended has no best/ yet
            raise SystemExit(f"{run} has no best/ yet, whose model the weights of last.pt are written as: the run stopped "
                             "before its first epoch ended; continue it (drywallqa train ... --resume) past an epoch")
        if not need.is_file():
            raise SystemExit(f"{need}: not found; RUN must be a drywallqa train output folder")
    if dest.resolve() == run.resolve():  # its best/ replaced by last.pt's weights: the run's chosen model lost
        raise SystemExit(f"DEST {dest} is the run itself, whose best/ would be replaced; give another folder")
    if (dest / "last.pt").exists():  # another run: its best/ and metrics replaced by this run's
        raise SystemExit(f"DEST {dest} holds a training run (its last.pt), whose best/ and metrics would be replaced; "
                         "give a new folder (or an earlier export's)")
    try:  # DEST/best is replaced whole: new, empty, or a model folder (an earlier export), never a folder of other files
        check_writable_path(dest, folder=True)
        check_replaceable_dir(dest / "best", "the exported model", is_drywallqa_model_dir, run / "best")
    except ValueError as exc:
        raise SystemExit(f"DEST: {exc}") from None
    try:
        state = read_checkpoint(run / "last.pt", "cpu")  # tensors and numpy's random state only: nothing is run
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    if ema:
        if state.get("ema") is None:
            raise SystemExit(f"{run / 'last.pt'} holds no EMA copy (the run had no optim.ema_decay)")
        weights = {k[len("module."):]: v for k, v in state["ema"].items() if k.startswith("module.")}
    else:
        weights = state["model"]
    try:
        model = PromptedSegmentationModel.from_pretrained(run / "best")  # any registered model type
    except (OSError, ValueError, KeyError) as exc:  # a damaged best/ (its config.json, its weights)
        raise SystemExit(f"{run / 'best'} cannot be loaded: {exc.args[0] if isinstance(exc, KeyError) and exc.args else exc}") from None
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:  # missing keys, other shapes: last.pt is not of the model in best/
        said = next((line.strip() for line in str(exc).splitlines()[1:] if line.strip()), str(exc))  # the first misfit
        raise SystemExit(f"{run / 'last.pt'} does not hold weights of the model in {run / 'best'} ({said[:200]}); "
                         "was the run folder written by two runs?") from None
    meta = json.loads((run / "best" / "config.json").read_text())
    extra = {k: v for k, v in meta.items() if k not in ("model_type", "config")}
    extra.update(epoch=state["epoch"], weights=f"{'EMA copy' if ema else 'final weights'} of {run / 'last.pt'} (step {state['step']})")
    dest.mkdir(parents=True, exist_ok=True)
    with temp_dir(dest, ".best-") as tmp:  # replaced whole: an earlier export's calibrations describe other weights
        model.save_pretrained(tmp, extra=extra)
        replace_dir(tmp, dest / "best")
    for name in ("train_files.json", "metrics.csv", "curves.png", "config.yaml"):
        if (run / name).is_file():
            write_atomic(dest / name, lambda tmp: shutil.copyfile(run / name, tmp))  # whole or not at all
        elif (dest / name).is_file():  # an earlier export's, of another run
            (dest / name).unlink()
    return {"step": state["step"], "epoch": state["epoch"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a drywallqa train output folder (with last.pt and best/)")
    parser.add_argument("dest", type=Path, help="written as DEST/best plus the run's file lists and metrics")
    parser.add_argument("--ema", action="store_true", help="the EMA copy of last.pt instead of its weights")
    args = parser.parse_args()
    print(json.dumps({"dest": str(args.dest / "best"), **export(args.run, args.dest, args.ema)}))


if __name__ == "__main__":
    from drywallqa.utils.signals import run_main

    run_main(main)  # Ctrl-C: one line and exit 130, as a drywallqa command
