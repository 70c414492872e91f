"""Add residual blocks to the encoder of a trained ``film_unet`` model without changing what it computes.

Every new :class:`BasicBlock` is appended at the end of its stage with the scale of its last batch norm
set to zero, so it starts as the identity (``relu(x + 0) = x`` on the non-negative features of the block
before it): the deeper model gives the same masks as the original until fine-tuning moves the new
blocks. Used to test whether encoder capacity limits the shipped model
(``docs/experiments/gpu_448_and_deeper/``).

    python scripts/deepen_model.py src/drywallqa/weights/default runs/init_deeper --depths 2,3,8,4
    # then fine-tune with init_from: runs/init_deeper
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import torch

from drywallqa.models import FilmUNetModel


def deepen(model: FilmUNetModel, depths: tuple[int, ...]) -> FilmUNetModel:
    """A copy of ``model`` with ``depths`` residual blocks per encoder stage (each >= the current)."""
    old = tuple(model.config.encoder_depths)
    if len(depths) != len(old) or any(n < o for n, o in zip(depths, old)):
        raise ValueError(f"depths {depths} must have {len(old)} entries, none below the current {old}")
    deeper = FilmUNetModel(dataclasses.replace(model.config, encoder_depths=tuple(depths)))
    missing, unexpected = deeper.load_state_dict(model.state_dict(), strict=False)
    assert not unexpected, unexpected
    for stage, n_old in zip(deeper.encoder.stages, old):
        for block in list(stage)[1 + n_old :]:  # stage = [downsampling conv, blocks...]
            torch.nn.init.zeros_(block.bn2.weight)
    return deeper.train(model.training)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, help="a film_unet model folder")
    parser.add_argument("dest", type=Path)
    parser.add_argument("--depths", required=True, help="blocks per encoder stage, e.g. 2,3,8,4")
    args = parser.parse_args()
    model = FilmUNetModel.from_pretrained(args.model)
    deeper = deepen(model, tuple(int(d) for d in args.depths.split(",")))
    deeper.save_pretrained(args.dest, dtype=torch.float16)
    print(f"{args.dest}: encoder_depths {model.config.encoder_depths} -> {deeper.config.encoder_depths}, "
          f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M -> {sum(p.numel() for p in deeper.parameters()) / 1e6:.2f} M parameters")


if __name__ == "__main__":
    main()
