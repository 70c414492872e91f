"""Leftovers of helper 214: calibration targets, writer locks, soft-mask checks."""
import re

import pytest
from typer.testing import CliRunner

from drywallqa.cli import app


def _flat(text: str) -> str:
    return re.sub(r"[\s│]+", " ", text)


@pytest.mark.parametrize("command,name", [("calibrate-gate", "prompt_gate.npz"),
                                          ("calibrate-confidence", "confidence.json")])
def test_a_folder_named_as_the_calibration_file_is_said_to_be_moved_away(tiny_model_dir, command, name):
    (tiny_model_dir / name).mkdir()
    res = CliRunner().invoke(app, [command, "--model-path", str(tiny_model_dir)])
    out = _flat(res.output)
    assert res.exit_code == 2 and "is a folder" in out and "move it away" in out, out
    assert (tiny_model_dir / name).is_dir()
