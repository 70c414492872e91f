"""A photo file of one dataset that is a link to another dataset's photo file is a photo both hold at evaluation
as at training; ship / calibrate without -d resolve the run's datasets against the run's own datasets folder; a run's
best/ reached by ``.`` or by a link is that run's."""

import math
import os
import shutil

import numpy as np

from drywallqa.data.grouping import load_all_splits
from test_photo_key_resolved_path import linked  # noqa: F401  (the fixture)


# ------------------------------------------------------------------ 1. engine/evaluator.photos_held: links to files
def test_photos_held_finds_a_dataset_whose_photo_files_link_to_another_datasets(linked):  # noqa: F811
    """h232_pointer's split folders are folders of its own, each photo a link to a file of h232_tape's (a DVC cache's
    way): the trainer names each one photo of both (test_photo_key_resolved_path), so evaluation asks neither's prompt on it as
    a negative; photos_held looked at split folders alone and returned {}."""
    from drywallqa.engine.evaluator import EvalSet, evaluate_set, photos_held
    from drywallqa.engine.segmenter import EncodedImage, SegmentationResult
    from drywallqa.engine.segmenter import Segmenter as Base

    datasets_dir, real = linked
    held = photos_held(["h232_tape", "h232_pointer"], datasets_dir)
    assert sorted(held) == ["h232_pointer", "h232_tape"]
    assert held["h232_pointer"] == held["h232_tape"] and len(held["h232_tape"]) == 10
    assert all(p.startswith(str(real / "tape") + os.sep) for p in held["h232_pointer"])
    assert sorted(photos_held(["h232_pointer", "h232_tape"], datasets_dir)) == ["h232_pointer", "h232_tape"]

    class Blank(Base):
        def decode(self, encoded: EncodedImage, prompts, threshold=None, label_shape=None):
            z = np.zeros(encoded.rgb.shape[:2], np.float32)
            return SegmentationResult(masks={p: z > 0 for p in prompts}, probabilities={p: z for p in prompts})

    samples = load_all_splits("h232_pointer", datasets_dir)[0]
    result = evaluate_set(Blank(), EvalSet("all photos", "h232_pointer", samples), ["h232_pointer", "h232_tape"],
                          progress=False, held=held)
    assert math.isnan({r["prompt"]: r["mean_foreground_fraction"] for r in result.cross_rows}["segment tape"])


def test_photos_held_still_reads_no_dataset_whose_files_link_nowhere_shared(linked, tmp_path, monkeypatch):  # noqa: F811
    """A copy of h232_tape's photos (files of its own, no link) shares no photo: neither is read."""
    import shutil

    from drywallqa.data import registry
    from drywallqa.data.registry import DatasetConfig, SplitSource
    from drywallqa.engine import evaluator

    datasets_dir, real = linked
    shutil.copytree(real / "tape", real / "copies")
    splits = {"train": SplitSource("coco", "train"), "valid": SplitSource("coco", "valid")}
    registry.register_dataset(DatasetConfig("h234_copy", "copies", ("segment copy",), splits))
    read = []
    monkeypatch.setattr(evaluator, "load_all_splits", lambda d, datasets_dir=None: (read.append(d), ([], []))[1])
    try:
        assert evaluator.photos_held(["h232_tape", "h234_copy"], datasets_dir) == {}
        assert read == []
        evaluator.photos_held(["h234_copy", "h232_pointer", "h232_tape"], datasets_dir)
        assert sorted(read) == ["h232_pointer", "h232_tape"]
    finally:
        registry.DATASETS.remove("h234_copy")


# ------------------------------------------------------------------ 2. cli/training: the run's data.datasets_dir
def _run_in(tmp_path, tiny_model_dir, datasets, datasets_dir):
    """A training run's folder trained on ``datasets`` in the datasets folder ``datasets_dir`` (its config.yaml's)."""
    import json
    import shutil

    import yaml

    run = tmp_path / "run"
    shutil.copytree(tiny_model_dir, run / "best")
    (run / "config.yaml").write_text(yaml.safe_dump({"data": {"datasets": datasets, "datasets_dir": datasets_dir}}))
    (run / "metrics.csv").write_text("epoch,val_score\n1,0.5\n")
    (run / "train_files.json").write_text(json.dumps({"train": [], "val": []}))
    return run


def _said(output: str) -> str:
    return " ".join(output.replace("│", " ").split())


def test_ship_and_calibrations_without_d_read_the_datasets_in_the_runs_datasets_folder(
        tiny_model_dir, synthetic_datasets, tmp_path, monkeypatch):
    """A run trained with data.datasets_dir (not the default folder) on a dataset YAML file of a ``{datasets}/``
    folder: ship / calibrate-confidence without -d took its datasets but read them in the CLI's default datasets
    folder (the YAML's photos looked for there, the registered datasets' photos too). Now the run's datasets_dir,
    said in the info line; an explicit --datasets-dir wins; one not found here is a usage error saying what to give."""
    from typer.testing import CliRunner

    import drywallqa.engine.calibrate as calibrate
    import drywallqa.engine.shipping as shipping
    from drywallqa.cli import app
    from drywallqa.data import registry

    default = tmp_path / "default_datasets"
    default.mkdir()
    monkeypatch.setenv("DRYWALLQA_DATASETS", str(default))
    own = tmp_path / "project" / "walls.yaml"
    own.parent.mkdir()
    own.write_text("name: h234_walls\nfolder: '{datasets}/crack'\nprompts: [segment wall crack]\nconcept: wall crack\n"
                   "manifest: syn_crack\n")
    run = _run_in(tmp_path, tiny_model_dir, ["syn_tape", str(own)], str(synthetic_datasets))
    asked = []

    def shipped(source, dest, datasets, candidates, tta, splits_dir, datasets_dir, *args, **kwargs):
        asked.append((tuple(datasets), datasets_dir))
        return {"dest": str(dest), "chosen": {"scales": [64], "tta": False, "dataset_thresholds": {}, "threshold": 0.5,
                                              "postprocess": {}, "val_mIoU": 0.5}}

    class Calibrated(Exception):
        pass

    def calibrated(model_dir, datasets, splits_dir, datasets_dir, *args, **kwargs):
        asked.append((tuple(datasets), datasets_dir))
        raise Calibrated

    monkeypatch.setattr(shipping, "ship", shipped)
    monkeypatch.setattr(calibrate, "calibrate_model_confidence", calibrated)
    try:
        res = CliRunner().invoke(app, ["ship", str(run), "--out", str(tmp_path / "out")], terminal_width=400)
        assert res.exit_code == 0, res.output
        assert asked[-1] == (("syn_tape", "h234_walls"), synthetic_datasets), asked
        assert registry.get_dataset_config("h234_walls").root() == (synthetic_datasets / "crack").resolve()
        assert f"in its data.datasets_dir {synthetic_datasets}" in _said(res.output), res.output
        res = CliRunner().invoke(app, ["calibrate-confidence", "--model-path", str(run / "best")], terminal_width=400)
        assert isinstance(res.exception, Calibrated), res.output
        assert asked[-1] == (("syn_tape", "h234_walls"), synthetic_datasets), asked
    finally:
        registry.DATASETS.remove("h234_walls")
    # an explicit --datasets-dir wins: the run's YAML file read there (no photos in it: refused, naming that folder)
    res = CliRunner().invoke(app, ["ship", str(run), "--out", str(tmp_path / "out"), "--datasets-dir", str(default)],
                             terminal_width=400)
    assert res.exit_code == 2 and "no split folders found under" in _said(res.output), res.output
    assert str(default / "crack") in "".join(line.strip(" │") for line in res.output.splitlines()), res.output
    assert len(asked) == 2 and "h234_walls" not in registry.DATASETS
    # the run's datasets folder not here: said, with what to give (exit 2, nothing done)
    gone = _run_in(tmp_path / "b", tiny_model_dir, ["syn_tape", "syn_crack"], str(tmp_path / "gone"))
    for command in (["ship", str(gone), "--out", str(tmp_path / "out2")],
                    ["calibrate-confidence", "--model-path", str(gone / "best")]):
        res = CliRunner().invoke(app, command, terminal_width=400)
        said = _said(res.output)
        unwrapped = "".join(line.strip(" │") for line in res.output.splitlines())  # a long path wraps in the box
        assert res.exit_code == 2 and str(tmp_path / "gone") in unwrapped and "--datasets-dir" in said, res.output
        assert "Traceback" not in res.output and len(asked) == 2
    res = CliRunner().invoke(app, ["ship", str(gone), "--out", str(tmp_path / "out2"), "--datasets-dir",
                                   str(synthetic_datasets)], terminal_width=400)
    assert res.exit_code == 0 and asked[-1] == (("syn_tape", "syn_crack"), synthetic_datasets), res.output
    # calibrate-gate reads the datasets' prompts alone: registered datasets need no datasets folder (no error)
    import drywallqa.text.gate_calibration as gate_calibration

    def gated(model_dir, datasets, **kwargs):
        asked.append(tuple(datasets))
        raise Calibrated

    monkeypatch.setattr(gate_calibration, "calibrate_model_gate", gated)
    res = CliRunner().invoke(app, ["calibrate-gate", "--model-path", str(gone / "best")], terminal_width=400)
    assert isinstance(res.exception, Calibrated) and asked[-1] == ("syn_tape", "syn_crack"), res.output


# ------------------------------------------------------------------ 3. engine/shipping.run_of: where the path leads
def test_a_runs_best_reached_by_dot_or_by_a_link_is_that_runs(tiny_model_dir, synthetic_datasets, tmp_path,
                                                              monkeypatch):
    """``--model-path .`` in a run's best/, or a link to best/ (``latest -> run/best``), was a plain model folder:
    run_of went by the path as given (its name not "best"), so the run's config.yaml was not read (-d fell back to
    cracks and taping) and ship took it for a model folder shipped again. Now the path is resolved first."""
    from typer.testing import CliRunner

    import drywallqa.engine.calibrate as calibrate
    import drywallqa.engine.shipping as shipping
    from drywallqa.cli import app
    from drywallqa.engine.shipping import run_of, trained_datasets

    run = _run_in(tmp_path, tiny_model_dir, ["syn_tape", "syn_crack"], str(synthetic_datasets))
    os.symlink(run / "best", tmp_path / "latest")
    assert run_of(tmp_path / "latest") == run.resolve()
    monkeypatch.chdir(run / "best")
    assert run_of(".") == run_of(os.curdir) == run.resolve() == run_of(run / "best")
    assert trained_datasets(".")[0] == trained_datasets(tmp_path / "latest")[0] == ["syn_tape", "syn_crack"]
    # still none: a folder merely named best, a run folder itself, a model folder
    (tmp_path / "shipped" / "best").mkdir(parents=True)
    assert run_of(tmp_path / "shipped" / "best") is None and run_of(run) is None and run_of(tiny_model_dir) is None
    os.symlink(tiny_model_dir, tmp_path / "best")  # a link named best to a model folder: where it leads
    assert run_of(tmp_path / "best") is None

    class Calibrated(Exception):
        pass

    asked = []

    def calibrated(model_dir, datasets, splits_dir, datasets_dir, *args, **kwargs):
        asked.append((tuple(datasets), datasets_dir))
        raise Calibrated

    monkeypatch.setattr(calibrate, "calibrate_model_confidence", calibrated)
    res = CliRunner().invoke(app, ["calibrate-confidence", "--model-path", "."], terminal_width=400)
    assert isinstance(res.exception, Calibrated), res.output
    assert asked[-1] == (("syn_tape", "syn_crack"), synthetic_datasets), asked
    # ship of the link: the run's best/ as a run's (taken as one epoch's, its run's record beside it)
    snapped = []
    monkeypatch.setattr(shipping, "snapshot_run", lambda run_dir, into, *a, **k: (snapped.append(run_dir),
                                                                                 (_ for _ in ()).throw(Calibrated()))[1])
    res = CliRunner().invoke(app, ["ship", str(tmp_path / "latest"), "--out", str(tmp_path / "out"), "--limit", "10",
                                   "--no-drywall-check"], terminal_width=400)
    assert snapped == [run.resolve()], res.output


def test_an_error_of_the_datasets_default_says_no_dataset_was_given(tmp_path, tiny_model_dir, monkeypatch):
    """A run whose dataset YAML (a relative path) is not found from here: the error blamed "--dataset", an option
    the user never typed; it now says that -d was not given and what its default is."""
    import yaml
    from typer.testing import CliRunner

    from drywallqa.cli import app

    run = tmp_path / "run"
    shutil.copytree(tiny_model_dir, run / "best")
    (run / "config.yaml").write_text(yaml.safe_dump({"data": {"datasets": ["walls/walls.dataset.yaml"]}}))
    (run / "metrics.csv").write_text("epoch\n1\n")
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["calibrate-gate", "--model-path", str(run / "best")], terminal_width=400)
    said = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 2 and "not given: the datasets the model was trained on" in said, res.output
