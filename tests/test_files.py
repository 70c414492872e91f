"""utils/files: folders filled and then renamed into place (``ship``, ``export onnx``): what a killed run left is
swept by the next run, what a running one is filling is left alone; reports written as standard JSON."""

import os

from drywallqa.export.onnx import export_onnx
from drywallqa.utils.files import make_temp_dir

DEAD_PID = 2 ** 31 - 2  # above any pid_max: no such process


def test_leftovers_of_dead_processes_are_removed_live_ones_kept(tmp_path):
    dead = tmp_path / f".model.shipping.{DEAD_PID}-abc"
    live = tmp_path / f".model.shipping.{os.getppid()}-def"  # a running process (pytest's parent)
    other = tmp_path / f".other.shipping.{DEAD_PID}-ghi"  # another destination's: not this prefix
    for d in (dead, live, other):
        (d / "sub").mkdir(parents=True)
        (d / "sub" / "weights.bin").write_bytes(b"x" * 10)
    new = make_temp_dir(tmp_path, ".model.shipping.")
    assert new.is_dir() and new.name.startswith(f".model.shipping.{os.getpid()}-")
    assert not dead.exists() and live.is_dir() and other.is_dir()


def test_export_sweeps_what_a_killed_export_left(tiny_model_dir, tmp_path):
    left = tmp_path / f".onnx.{DEAD_PID}-xyz"
    left.mkdir()
    (left / "encoder.onnx").write_bytes(b"half")
    export_onnx(tiny_model_dir, tmp_path / "onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["onnx", "tiny_model"]


def test_strict_json_writes_null_for_what_json_cannot_hold():
    import json

    import numpy as np

    from drywallqa.utils.files import strict_json

    text = strict_json({"AUROC": float("nan"), "rows": [1.5, float("inf"), np.float32(0.25), (np.int64(3),)]})
    assert json.loads(text, parse_constant=lambda c: 1 / 0) == {"AUROC": None, "rows": [1.5, None, 0.25, [3]]}
