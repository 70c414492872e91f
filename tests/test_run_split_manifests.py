"""A training run records the split manifests it read (train_files.json ``split_manifests``); ``ship``,
``calibrate-confidence`` and ``evaluate`` without ``--splits-dir`` read those, from whatever folder they run in."""

from __future__ import annotations

import json
import shutil

import pytest


def _said(output: str) -> str:
    return " ".join(output.replace("│", " ").split())


class Stop(Exception):
    pass


@pytest.fixture
def trained_run(synthetic_datasets, syn_splits, tmp_path, tiny_kwargs):
    """A one-epoch run trained with data.splits_dir (the synthetic manifests), and another working folder whose
    ./splits holds manifests of other parts (drawn with another seed), as a ``data split`` run there would."""
    from drywallqa.data.grouping import make_group_split
    from drywallqa.engine.config import TrainConfig
    from drywallqa.engine.trainer import Trainer

    cfg = TrainConfig.from_dict({
        "model_config": tiny_kwargs,
        "data": {"datasets": ["syn_crack", "syn_tape"], "datasets_dir": str(synthetic_datasets),
                 "splits_dir": str(syn_splits), "cache_size": 72, "cache_dir": None},
        "optim": {"lr": 1e-3, "batch_size": 4, "epochs": 1, "warmup_steps": 1},
        "output_dir": str(tmp_path / "run"), "bf16": False, "device": "cpu"})
    Trainer(cfg, progress=False).train()
    elsewhere = tmp_path / "elsewhere"
    for ds in ("syn_crack", "syn_tape"):
        make_group_split(ds, synthetic_datasets, {"train": 0.5, "val": 0.25, "test": 0.25},
                         seed=7).to_json(elsewhere / "splits" / f"{ds}.json")
    return tmp_path / "run", elsewhere


def test_the_trainer_records_the_split_manifests_it_read(trained_run, syn_splits):
    run, _ = trained_run
    want = {ds: str(syn_splits / f"{ds}.json") for ds in ("syn_crack", "syn_tape")}
    for record in (run / "train_files.json", run / "best" / "train_files.json"):
        assert json.loads(record.read_text())["split_manifests"] == want, record


def test_ship_and_calibrate_confidence_read_the_manifests_the_run_was_trained_with(trained_run, syn_splits, tmp_path,
                                                                                   monkeypatch):
    """Shipped from another folder without --splits-dir, the options and the confidence were chosen on the val part of
    ./splits there (or the package's manifests): other parts, photos the model trained on. Now on the recorded
    manifests' folder, said in an info line; --splits-dir given is taken as it is."""
    import drywallqa.engine.calibrate as calibrate
    import drywallqa.engine.shipping as shipping
    from typer.testing import CliRunner

    from drywallqa.cli import app

    run, elsewhere = trained_run
    asked = []

    def shipped(source, dest, datasets, candidates, flips, splits_dir, *args, **kwargs):
        asked.append(splits_dir)
        raise Stop

    def calibrated(model_dir, datasets, splits_dir, *args, **kwargs):
        asked.append(splits_dir)
        raise Stop

    monkeypatch.setattr(shipping, "ship", shipped)
    monkeypatch.setattr(calibrate, "calibrate_model_confidence", calibrated)
    monkeypatch.chdir(elsewhere)
    res = CliRunner().invoke(app, ["ship", str(run), "--out", str(tmp_path / "out")], terminal_width=400)
    assert isinstance(res.exception, Stop), res.output
    assert asked[-1] == syn_splits, asked
    said = _said(res.output)
    assert "info:" in said and "--splits-dir not given" in said and str(syn_splits) in said, res.output
    assert "val part holds photos the model was trained on" not in said, res.output  # the run's own val part

    res = CliRunner().invoke(app, ["calibrate-confidence", "--model-path", str(run / "best")], terminal_width=400)
    assert isinstance(res.exception, Stop), res.output
    assert asked[-1] == syn_splits, asked
    assert "--splits-dir not given" in _said(res.output), res.output

    given = elsewhere / "splits"  # an explicit --splits-dir wins (the warning then counts its val photos trained on)
    res = CliRunner().invoke(app, ["ship", str(run), "--out", str(tmp_path / "out"), "--splits-dir", str(given)],
                             terminal_width=400)
    assert isinstance(res.exception, Stop), res.output
    assert asked[-1] == given and "--splits-dir not given" not in _said(res.output), (asked, res.output)


def test_evaluate_of_a_run_reads_the_manifests_it_was_trained_with(trained_run, syn_splits, synthetic_datasets,
                                                                  monkeypatch):
    """evaluate --model-path RUN/best --splits group from another folder scored the group-clean test part of ./splits
    there: photos the model trained on, reported as held out."""
    import drywallqa.engine.evaluator as evaluator
    from typer.testing import CliRunner

    from drywallqa.cli import app

    run, elsewhere = trained_run
    asked = []

    def scored(seg, out, datasets, which, splits_dir, *args, **kwargs):
        asked.append(splits_dir)
        raise Stop

    monkeypatch.setattr(evaluator, "evaluate", scored)
    monkeypatch.chdir(elsewhere)
    res = CliRunner().invoke(app, ["evaluate", "--model-path", str(run / "best"), "--splits", "group", "-d", "syn_crack",
                                   "-d", "syn_tape", "--datasets-dir", str(synthetic_datasets), "--speed-images", "0",
                                   "--out", str(elsewhere / "eval")], terminal_width=400)
    assert isinstance(res.exception, Stop), res.output
    assert asked == [syn_splits], asked
    assert "--splits-dir not given" in _said(res.output), res.output


@pytest.fixture
def ship_asked(monkeypatch):
    """The --splits-dir each ``ship`` asks engine.shipping.ship with (which then stops: :class:`Stop`)."""
    import drywallqa.engine.shipping as shipping

    asked = []

    def shipped(source, dest, datasets, candidates, flips, splits_dir, *args, **kwargs):
        asked.append(splits_dir)
        raise Stop

    monkeypatch.setattr(shipping, "ship", shipped)
    return asked


def test_a_recorded_manifest_gone_is_said_and_the_default_lookup_read(trained_run, syn_splits, tmp_path, monkeypatch,
                                                                     ship_asked):
    """A run whose manifests were moved away (or trained on another machine): a warning naming the one gone, and the
    manifests found as before (./splits of the folder it runs in); a model that records none: as before, unsaid."""
    from typer.testing import CliRunner

    from drywallqa.cli import app

    run, elsewhere = trained_run
    asked = ship_asked
    monkeypatch.chdir(elsewhere)
    shutil.move(str(syn_splits), str(tmp_path / "moved"))
    res = CliRunner().invoke(app, ["ship", str(run), "--out", str(tmp_path / "out")], terminal_width=400)
    assert isinstance(res.exception, Stop), res.output
    assert asked[-1] is None, asked
    said = _said(res.output)
    assert "warning:" in said and str(syn_splits / "syn_crack.json") in said and "no longer there" in said, res.output

    for record in (run / "best" / "train_files.json",):  # a run of an earlier release: no record
        files = json.loads(record.read_text())
        del files["split_manifests"]
        record.write_text(json.dumps(files))
    res = CliRunner().invoke(app, ["ship", str(run), "--out", str(tmp_path / "out")], terminal_width=400)
    assert isinstance(res.exception, Stop) and asked[-1] is None, res.output
    said = _said(res.output)
    assert "--splits-dir not given" not in said and "no longer there" not in said, res.output


def test_manifests_gone_but_found_here_byte_for_byte_are_read_without_a_word(trained_run, syn_splits, tmp_path,
                                                                             monkeypatch, ship_asked):
    """A run trained on another machine (gpu_run: its paths are not here), or a model shipped from one, on the
    manifests the default lookup finds here (the package's, a copy in ./splits): read so without a warning, which
    every evaluate of a shipped model would have repeated. Other contents there: warned of, as a manifest gone."""
    from typer.testing import CliRunner

    from drywallqa.cli import app

    run, elsewhere = trained_run
    asked = ship_asked
    here = tmp_path / "here"
    shutil.copytree(syn_splits, here / "splits")  # the very manifests, in ./splits of the folder ship runs in
    shutil.move(str(syn_splits), str(tmp_path / "moved"))
    monkeypatch.chdir(here)
    res = CliRunner().invoke(app, ["ship", str(run), "--out", str(tmp_path / "out")], terminal_width=400)
    assert isinstance(res.exception, Stop) and asked[-1] is None, res.output
    assert "warning:" not in _said(res.output) and "no longer there" not in _said(res.output), res.output
    monkeypatch.chdir(elsewhere)  # ./splits of other parts (another seed): not the manifests it was trained with
    res = CliRunner().invoke(app, ["ship", str(run), "--out", str(tmp_path / "out")], terminal_width=400)
    assert isinstance(res.exception, Stop) and asked[-1] is None, res.output
    assert "no longer there" in _said(res.output), res.output
