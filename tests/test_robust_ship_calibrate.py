"""ship, calibrate-gate and calibrate-confidence: what an adversarial pass found (each test failed before its fix)."""

from __future__ import annotations

import shutil

from typer.testing import CliRunner

from conftest import says
from drywallqa.cli import app

runner = CliRunner()


def test_ship_refuses_another_training_run_s_best_or_a_folder_in_it(tiny_model_dir, tmp_path):
    """``ship MODEL --out runs/x/best`` replaced that run's trained weights with another model (its record then
    described weights no longer there), and ``--out runs/x/best/shipped`` was written where the run's trainer replaces
    it whole at its next better epoch: both refused as a bad --out, the run left as it was."""
    for record in ("last.pt", "metrics.csv"):  # a run going on from its checkpoint, or one ended and trimmed
        run = tmp_path / f"run_{record}"
        shutil.copytree(tiny_model_dir, run / "best")
        (run / record).write_bytes(b"x")
        before = {p.name: p.read_bytes() for p in (run / "best").iterdir()}
        for out in (run / "best", run / "best" / "shipped"):
            if record == "metrics.csv" and out.name == "shipped":
                continue  # no checkpoint: the run is not resumed, nothing replaces best/
            res = runner.invoke(app, ["ship", str(tiny_model_dir), "--out", str(out), "--limit", "1"], terminal_width=400)
            assert res.exit_code == 2 and says(res.output, "of the training run", "outside the run"), res.output
            assert {p.name: p.read_bytes() for p in (run / "best").iterdir()} == before
