"""Grow a trained ``film_unet`` model without changing what it computes: residual blocks added to its
encoder (``--depths``) and/or a refinement level at stride 2 (``--refine-channels``).

Every new :class:`BasicBlock` is appended at the end of its stage with the scale of its last batch norm
set to zero, so it starts as the identity (``relu(x + 0) = x`` on the non-negative features of the block
before it): the deeper model gives the same masks as the original until fine-tuning moves the new
blocks. Used to test whether encoder capacity limits the shipped model
(``docs/experiments/gpu_448_and_deeper/``). The refinement level (``FilmUNetConfig.refine_channels``)
starts with a zero output convolution, so it adds nothing to the logits until it is trained.

    python scripts/deepen_model.py src/drywallqa/weights/fast runs/init_deeper --depths 2,3,8,4
    python scripts/deepen_model.py src/drywallqa/weights/fast runs/init_refine --refine-channels 16
    # then fine-tune with init_from: runs/init_deeper (or runs/init_refine)
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import torch

from drywallqa.models import FilmUNetModel
from drywallqa.models.base import is_drywallqa_model_dir
from drywallqa.models.shipped import resolve_model_dir
from drywallqa.utils.argtypes import positive_int
from drywallqa.utils.files import replace_dir, temp_dir
from drywallqa.utils.paths import check_replaceable_dir, check_writable_path


def deepen(model: FilmUNetModel, depths: tuple[int, ...] | None = None, refine_channels: int | None = None) -> FilmUNetModel:
    """A copy of ``model`` with ``depths`` residual blocks per encoder stage (each >= the current) and a
    stride-2 refinement level of ``refine_channels`` (for a model that has none); None keeps either."""
    old = tuple(model.config.encoder_depths)
    depths = old if depths is None else tuple(depths)
    if len(depths) != len(old) or any(n < o for n, o in zip(depths, old)):
        raise ValueError(f"depths {depths} must have {len(old)} entries, none below the current {old}")
    if refine_channels is not None and (refine_channels < 1 or model.config.refine_channels):
        raise ValueError(f"refine_channels must be positive and the model must have no refinement level yet "
                         f"(it has {model.config.refine_channels})")
    config = dataclasses.replace(model.config, encoder_depths=depths,
                                 refine_channels=refine_channels or model.config.refine_channels)
    deeper = FilmUNetModel(config)
    missing, unexpected = deeper.load_state_dict(model.state_dict(), strict=False)
    assert not unexpected, unexpected
    for stage, n_old in zip(deeper.encoder.stages, old):
        for block in list(stage)[1 + n_old :]:  # stage = [downsampling conv, blocks...]
            torch.nn.init.zeros_(block.bn2.weight)
    return deeper.train(model.training)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a film_unet model folder (or a shipped model's name)")
    parser.add_argument("dest", type=Path)
    parser.add_argument("--depths", default=None, help="blocks per encoder stage, e.g. 2,3,8,4")
    parser.add_argument("--refine-channels", type=positive_int, default=None, help="add a stride-2 refinement level this wide, e.g. 16")
    args = parser.parse_args()
    if args.depths is None and args.refine_channels is None:
        parser.error("nothing to add: give --depths and/or --refine-channels")
    try:
        depths = tuple(int(d) for d in args.depths.split(",")) if args.depths else None
    except ValueError:
        parser.error(f"--depths {args.depths!r}: whole numbers separated by commas, one per encoder stage, e.g. 2,3,8,4")
    try:  # a folder that is no film_unet model, depths it cannot take, a DEST that cannot be written: named, no traceback
        check_writable_path(args.dest, folder=True)
        source = resolve_model_dir(args.model)
        if args.dest.resolve() == source.resolve():  # its threshold, prompt settings and calibrations were lost
            raise ValueError(f"DEST {args.dest} is the model folder itself, whose settings and calibrations would be "
                             "lost; give another folder")
        # replaced whole: new, empty, or a model folder (an earlier DEST), never a folder of other files (a run)
        check_replaceable_dir(args.dest, "the grown model", is_drywallqa_model_dir, source)
        model = FilmUNetModel.from_pretrained(source)
        if not isinstance(model, FilmUNetModel):
            raise ValueError(f"{args.model} is a {model.model_type} model; this script grows film_unet models")
        deeper = deepen(model, depths, args.refine_channels)
    except (OSError, ValueError, KeyError) as exc:
        parser.error(str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc))
    args.dest.parent.mkdir(parents=True, exist_ok=True)
    with temp_dir(args.dest.parent, f".{args.dest.name}-") as tmp:  # nothing of an earlier DEST stays (its calibrations)
        deeper.save_pretrained(tmp, dtype=torch.float16)
        replace_dir(tmp, args.dest)
    print(f"{args.dest}: encoder_depths {model.config.encoder_depths} -> {deeper.config.encoder_depths}, "
          f"refine_channels {model.config.refine_channels} -> {deeper.config.refine_channels}, "
          f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M -> {sum(p.numel() for p in deeper.parameters()) / 1e6:.2f} M parameters")


if __name__ == "__main__":
    from drywallqa.utils.signals import run_main

    run_main(main)  # Ctrl-C: one line and exit 130, as a drywallqa command
