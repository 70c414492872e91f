"""``train --model`` applied before the ``key=value`` overrides (its model_config keys are that model's); ``ship``,
``calibrate-gate`` and ``calibrate-confidence`` default ``-d`` to the datasets the model was trained on."""

from __future__ import annotations

import yaml
from test_plugins_model_path_and_ship_datasets import _train_yaml  # a one-epoch YAML naming no model


def test_model_option_takes_the_model_config_overrides_of_its_model(tiny_clipseg_dir, tmp_path, monkeypatch,
                                                                    synthetic_datasets, syn_splits):
    """``train YAML model_config.freeze_backbone=true --model clipseg`` with a YAML that names no model was refused
    ("no key freeze_backbone for model film_unet"): --model was applied after the overrides were checked, and then
    threw them away with the YAML's model options. Now --model comes first: the overrides are its model's keys, kept;
    a key it has not is still refused, naming it."""
    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.engine.trainer import Trainer

    config = _train_yaml(tmp_path, synthetic_datasets, syn_splits)
    seen = []
    monkeypatch.setattr(Trainer, "__init__", lambda self, cfg, **kwargs: seen.append(cfg))
    monkeypatch.setattr(Trainer, "train", lambda self, **kwargs: {"trained": True})
    offline = f"model_config.pretrained={tiny_clipseg_dir}"  # (nothing downloaded)
    res = CliRunner().invoke(app, ["train", str(config), "model_config.freeze_backbone=true", offline,
                                   "--model", "clipseg"], terminal_width=400)
    assert res.exit_code == 0, res.output
    assert seen[0].model == "clipseg", seen[0]
    assert seen[0].model_config == {"freeze_backbone": True, "pretrained": str(tiny_clipseg_dir)}, seen[0]
    bad = CliRunner().invoke(app, ["train", str(config), "model_config.freeze_backbones=true", offline,
                                   "--model", "clipseg"], terminal_width=400)
    said = " ".join(bad.output.replace("│", " ").split())
    assert bad.exit_code == 2 and "freeze_backbones" in said and "clipseg" in said, bad.output
    assert "Traceback" not in bad.output and len(seen) == 1
    both = CliRunner().invoke(app, ["train", str(config), "model=film_unet", "--model", "clipseg"], terminal_width=400)
    assert both.exit_code == 2 and "both set model" in " ".join(both.output.replace("│", " ").split()), both.output


def _fake_run(folder, tiny_model_dir, datasets, dataset_files=None):
    """A training run's folder (best/, config.yaml, metrics.csv, train_files.json) trained on ``datasets``."""
    import json
    import shutil

    shutil.copytree(tiny_model_dir, folder / "best")
    (folder / "config.yaml").write_text(yaml.safe_dump({"data": {"datasets": datasets}}))
    (folder / "metrics.csv").write_text("epoch,val_score\n1,0.5\n")
    record = {"train": [], "val": [], **({"dataset_files": dataset_files} if dataset_files else {})}
    (folder / "train_files.json").write_text(json.dumps(record))
    (folder / "best" / "train_files.json").write_text(json.dumps(record))
    return folder


def _strips_yaml(folder, synthetic_datasets):
    """``folder/own/strips.yaml``: the synthetic crack photos declared as a region-labelled taping dataset (as the
    refined taping strips beside the taping boxes)."""
    (folder / "own").mkdir(parents=True, exist_ok=True)
    path = folder / "own" / "strips.yaml"
    path.write_text(f"name: syn_strips\nfolder: {synthetic_datasets / 'crack'}\nprompts: [segment taping area]\n"
                    "label_shape: region\nconcept: taping\nmanifest: syn_crack\n")
    return path


def _said(output: str) -> str:
    return " ".join(output.replace("│", " ").split())


def test_ship_without_d_takes_the_datasets_the_run_was_trained_on(tiny_model_dir, synthetic_datasets, tmp_path,
                                                                  monkeypatch):
    """``ship RUN`` without -d chose on cracks and taping, whatever the run was trained on: a run trained on cracks, the
    taping strips and the taping boxes (configs/gpu_accurate_*.yaml) had taping's threshold and post-processing chosen
    again on the plain box labels. Now -d defaults to the run's config.yaml data.datasets (a dataset YAML file where the
    run read it, from any folder), said in an info line; -d given is taken as it is."""
    import drywallqa.engine.shipping as shipping
    from typer.testing import CliRunner

    from drywallqa.cli import app

    trained_in, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    elsewhere.mkdir()
    strips = _strips_yaml(trained_in, synthetic_datasets)
    run = _fake_run(tmp_path / "run", tiny_model_dir, ["syn_crack", "own/strips.yaml", "syn_tape"],
                    {"own/strips.yaml": str(strips)})
    asked = []

    def shipped(source, dest, datasets, *args, **kwargs):
        asked.append(tuple(datasets))
        return {"dest": str(dest), "chosen": {"scales": [64], "tta": False, "dataset_thresholds": {}, "threshold": 0.5,
                                              "postprocess": {}, "val_mIoU": 0.5}}

    monkeypatch.setattr(shipping, "ship", shipped)
    monkeypatch.chdir(elsewhere)  # the YAML file's relative path: where the run read it
    res = CliRunner().invoke(app, ["ship", str(run), "--out", str(tmp_path / "out")], terminal_width=400)
    assert res.exit_code == 0, res.output
    assert asked == [("syn_crack", "syn_strips", "syn_tape")], asked
    said = _said(res.output)
    assert "info:" in said and "-d not given" in said and "config.yaml's data.datasets" in said, res.output
    given = CliRunner().invoke(app, ["ship", str(run), "--out", str(tmp_path / "out"), "-d", "syn_crack", "-d",
                                     "syn_tape"], terminal_width=400)
    assert given.exit_code == 0 and asked[-1] == ("syn_crack", "syn_tape"), (given.output, asked)
    assert "-d not given" not in _said(given.output)


def test_calibrations_without_d_take_the_datasets_a_model_folder_records(tiny_model_dir, synthetic_datasets, tmp_path,
                                                                         monkeypatch):
    """calibrate-gate / calibrate-confidence without -d: a shipped folder's training_config.yaml (its run's config.yaml,
    which ship copies) names its datasets; a model folder that records none is calibrated on cracks and taping, as
    before, with an info line saying so; a dataset YAML file of a relative path not found from here (no record of
    where the run read it) is a usage error naming it, not the default taken without a word."""
    import shutil

    import drywallqa.engine.calibrate as calibrate
    import drywallqa.text.gate_calibration as gate_calibration
    from typer.testing import CliRunner

    from drywallqa.cli import app

    class Calibrated(Exception):
        pass

    asked = []

    def calibrated(model_dir, datasets, *args, **kwargs):
        asked.append(tuple(datasets))
        raise Calibrated

    monkeypatch.setattr(gate_calibration, "calibrate_model_gate", calibrated)
    monkeypatch.setattr(calibrate, "calibrate_model_confidence", calibrated)
    monkeypatch.chdir(tmp_path)
    _strips_yaml(tmp_path, synthetic_datasets)
    shipped = tmp_path / "shipped"
    shutil.copytree(tiny_model_dir, shipped)
    (shipped / "training_config.yaml").write_text(yaml.safe_dump({"data": {"datasets": ["syn_crack", "own/strips.yaml"]}}))
    for command in ("calibrate-gate", "calibrate-confidence"):
        res = CliRunner().invoke(app, [command, "--model-path", str(shipped)], terminal_width=400)
        assert isinstance(res.exception, Calibrated), res.output
        assert asked[-1] == ("syn_crack", "syn_strips"), (command, asked)
        assert "training_config.yaml's data.datasets" in _said(res.output), res.output
    bare = tmp_path / "bare"
    shutil.copytree(tiny_model_dir, bare)
    res = CliRunner().invoke(app, ["calibrate-confidence", "--model-path", str(bare)], terminal_width=400)
    assert asked[-1] == ("cracks", "taping"), asked
    said = _said(res.output)
    assert "info:" in said and "records no datasets" in said and "-d cracks -d taping" in said, res.output
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    calls = len(asked)
    res = CliRunner().invoke(app, ["calibrate-gate", "--model-path", str(shipped)], terminal_width=400)
    said = _said(res.output)
    assert res.exit_code == 2 and "own/strips.yaml" in said and "-d" in said, res.output
    assert "Traceback" not in res.output and len(asked) == calls


def test_an_export_records_the_datasets_of_the_model_folder_it_was_made_of(tiny_model_dir, synthetic_datasets, tmp_path):
    """An ONNX export carries no training record of its own: its datasets are those of the model folder its config.json
    says it was exported from (a run's best/: the run's config.yaml), where that is still there; none otherwise."""
    import json

    from drywallqa.engine.shipping import trained_datasets

    strips = _strips_yaml(tmp_path / "project", synthetic_datasets)
    run = _fake_run(tmp_path / "run", tiny_model_dir, ["syn_crack", "own/strips.yaml"], {"own/strips.yaml": str(strips)})
    export = tmp_path / "export"
    export.mkdir()
    meta = {**json.loads((run / "best" / "config.json").read_text()), "runtime": "onnx",
            "exported_from": {"folder": str(run / "best")}}
    (export / "config.json").write_text(json.dumps(meta))
    names, where, not_found = trained_datasets(export)
    assert names == ["syn_crack", str(strips)] and not not_found, names
    assert str(run / "config.yaml") in where and str(export) in where, where
    meta["exported_from"]["folder"] = str(tmp_path / "gone")
    (export / "config.json").write_text(json.dumps(meta))
    assert trained_datasets(export) is None
