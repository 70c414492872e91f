"""A third look at --splits all, the split reader registry and the plain help and errors of a log."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("group, command, first_paragraph", [
    ([], "train", "Train a model from a config file (checkpoints, metrics CSV/JSON and curves in output_dir)."),
    (["data"], "refine-masks", "Turn box annotations into pixel masks (the box stays where nothing credible is found): "
                               "a new image/mask-folder dataset; report.json says per file which way each box went."),
    (["export"], "onnx", "ONNX graphs of a film_unet model (default: the shipped one): the image encoder (once per "
                         "image) and the prompt decoder."),
])
def test_a_groups_plain_help_lists_each_command_whole(group, command, first_paragraph):
    """Where standard error is no terminal, click's help cut each command's line at about 45 characters ("Train a
    model from a config file (checkpoints,..."): what Rich's box showed whole was lost."""
    res = subprocess.run([sys.executable, "-m", "drywallqa", *group, "--help"], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    listed = " ".join(res.stdout.split("Commands:")[1].split())
    assert f"{command} {first_paragraph}" in listed, res.stdout
    assert "..." not in listed
