"""ship and the calibrate commands: what an adversarial pass found (each test failed before its fix)."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from conftest import says
from drywallqa.cli import app
from drywallqa.engine import shipping
from drywallqa.models.shipped import shipped_model_dir

runner = CliRunner()


@pytest.mark.parametrize("command", ["calibrate-gate", "calibrate-confidence"])
def test_calibrations_never_write_into_the_installed_shipped_model_given_by_its_path(command):
    folder = shipped_model_dir("fast")
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    res = runner.invoke(app, [command, "--model-path", str(folder)])
    assert res.exit_code == 2 and "shipped model" in res.output and "cp -r" in res.output
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before


def test_calibrate_gate_names_a_text_encoder_it_cannot_load(tiny_model_dir):
    config = tiny_model_dir / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "text_encoder": "no-such-encoder"}))
    res = runner.invoke(app, ["calibrate-gate", "--model-path", str(tiny_model_dir)])
    assert res.exit_code == 2 and "Traceback" not in res.output and "--model-path" in res.output


def test_a_dataset_given_twice_is_refused(synthetic_datasets, tiny_model_dir, tmp_path):
    import typer

    from drywallqa.cli.common import dataset_names

    with pytest.raises(typer.BadParameter, match="dataset 'syn_crack' is listed twice"):
        dataset_names(["syn_crack", "syn_tape", "syn_crack"])
    res = runner.invoke(app, ["ship", str(tiny_model_dir), "--out", str(tmp_path / "shipped"), "-d", "syn_crack",
                              "-d", "syn_tape", "-d", "syn_crack"])
    assert res.exit_code == 2 and "'syn_crack' is listed twice" in res.output and not (tmp_path / "shipped").exists()


def test_shipping_on_concepts_without_a_gate_leaves_out_the_sources_gate(tiny_model_dir, synthetic_datasets, syn_splits,
                                                                         tmp_path):
    """The source's gate knows other concepts: copied, it refused the new model's own prompts."""
    source = tmp_path / "gated"
    shutil.copytree(tiny_model_dir, source)
    (source / "prompt_gate.npz").write_bytes(b"a gate made for cracks and taping")
    said = []
    shipping.ship(source, tmp_path / "new", datasets=("syn_crack", "syn_tape"), scales=((64,),), tta=(False,),
                  splits_dir=syn_splits, datasets_dir=synthetic_datasets, timing_images=0, budget=False, gate=True,
                  confidence=False, drywall_check=None, progress=False, report=said.append)
    assert not (tmp_path / "new" / "prompt_gate.npz").exists()
    assert any("no prompt gate" in str(s) for s in said)


def test_a_replaced_model_that_cannot_be_loaded_is_not_compared(tiny_model_dir, tmp_path, monkeypatch):
    """ship stopped after all its work, the new model thrown away, when the folder it replaces was damaged."""
    damaged = tmp_path / "damaged"
    shutil.copytree(tiny_model_dir, damaged)
    (damaged / "confidence.json").write_text('{"calibration": "x"}')
    monkeypatch.setattr(shipping.drywall, "transplant_pairs", lambda *a, **k: [])
    monkeypatch.setattr(shipping.drywall, "score_cracks_on_drywall",
                        lambda models, pairs, progress=True: ([{"model": m} for m in models], None))
    said = []
    check = shipping.check_drywall(tiny_model_dir, damaged, ("syn_crack", "syn_tape"), progress=False, report=said.append)
    assert set(check["rows"]) == {"new"} and check["worse"] is False
    assert any("cannot be loaded" in s for s in said)


def test_ship_with_a_limit_too_small_for_the_confidence_is_a_bad_option(tiny_model_dir, tmp_path):
    res = runner.invoke(app, ["ship", str(tiny_model_dir), "--out", str(tmp_path / "x"), "--limit", "3"])
    assert res.exit_code == 2 and "--limit" in res.output and "--no-confidence" in res.output


def test_calibrate_confidence_refuses_a_model_that_reports_its_own(tiny_sam_dir, tmp_path):
    from drywallqa.models import create_model

    folder = create_model("sam_text", pretrained=str(tiny_sam_dir)).save_pretrained(tmp_path / "sam_model")
    res = runner.invoke(app, ["calibrate-confidence", "--model-path", str(folder)])
    assert res.exit_code == 2 and "confidence of its own" in " ".join(res.output.split())
    assert not (folder / "confidence.json").exists()


def test_a_calibration_removes_what_a_killed_one_left(tiny_model_dir):
    from drywallqa.cli.common import check_model_file

    left = tiny_model_dir / ".prompt_gate.npz.999999999-abc.tmp"  # a process that no longer runs
    left.write_bytes(b"half a gate")
    check_model_file(tiny_model_dir, "prompt_gate.npz")
    assert not left.exists()


@pytest.mark.parametrize("command", [["calibrate-gate"], ["calibrate-confidence"], ["export", "onnx", "--out", "{o}"],
                                     ["predict", "{o}", "-p", "segment crack", "--out", "{o}/m"]])
def test_a_training_run_or_a_damaged_config_given_as_the_model_is_named_as_such(tiny_model_dir, tmp_path, command):
    """'run is not a drywallqa model folder' said neither that its model is run/best (train said so) nor, for a
    config.json that is no JSON, which file was damaged."""
    shutil.copytree(tiny_model_dir, tmp_path / "run" / "best")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_bytes(b"\xff\xfe not json")
    args = [a.replace("{o}", str(tmp_path / "o")) for a in command]
    for model, words in ((tmp_path / "run", f"a training run's model is its best/: --model-path {tmp_path / 'run' / 'best'}"),
                         (tmp_path / "bad", "config.json")):  # and why: its bytes are no UTF-8 JSON
        res = runner.invoke(app, [*args, "--model-path", str(model)])
        said = "".join(res.output.replace("│", " ").split())  # long paths wrap mid-word in the error box
        assert res.exit_code == 2 and "".join(words.split()) in said, res.output
        assert str(model).replace(" ", "") in said and ("utf-8" in said or model.name == "run"), res.output


def _wide_val_splits(synthetic_datasets, folder):
    from drywallqa.data.grouping import make_group_split

    for ds in ("syn_crack", "syn_tape"):
        make_group_split(ds, synthetic_datasets, {"train": 0.2, "val": 0.6, "test": 0.2}, seed=0).to_json(folder / f"{ds}.json")
    return folder


def test_a_model_whose_maps_hold_nan_is_named_not_fitted(tiny_model_dir, synthetic_datasets, tmp_path):
    """Finite weights that overflow (a run that diverged slowly) make maps of NaN: the fit stopped with scipy's
    "Residuals are not finite in the initial point", said of --dataset / --limit."""
    import numpy as np
    from safetensors.torch import load_file, save_file

    from drywallqa.confidence import STATISTICS, fit_confidence_model

    weights = load_file(str(tiny_model_dir / "model.safetensors"))
    save_file({k: v * 1e8 if v.is_floating_point() and "running_var" not in k else v for k, v in weights.items()},
              str(tiny_model_dir / "model.safetensors"))
    splits = _wide_val_splits(synthetic_datasets, tmp_path / "wide")
    res = runner.invoke(app, ["calibrate-confidence", "--model-path", str(tiny_model_dir), "-d", "syn_crack", "-d",
                              "syn_tape", "--splits-dir", str(splits), "--datasets-dir", str(synthetic_datasets)])
    said = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 2 and "--model-path" in said and "holds NaN or infinity" in said, res.output
    assert not (tiny_model_dir / "confidence.json").exists()
    records = [{"concept": c, "stats": {k: 0.5 + i / 10 for k in STATISTICS}, "iou": i / 10} for c in "ab" for i in range(5)]
    records[3]["stats"]["band"] = np.nan
    with pytest.raises(ValueError, match=r"1 of 10 masks have statistics or an IoU that are NaN.*a mask of 'a'"):
        fit_confidence_model(records)


def test_a_model_folder_written_over_during_the_calibration_gets_no_confidence_of_the_weights_before(
        tiny_model_dir, synthetic_datasets, tmp_path, monkeypatch):
    """A ship (or train) into the folder while calibrate-confidence ran: the fit of the old weights' maps was written
    into the new model, silently."""
    import os

    from drywallqa.engine import calibrate

    splits = _wide_val_splits(synthetic_datasets, tmp_path / "wide")
    records = calibrate.confidence_records

    def meanwhile_shipped(*args, **kwargs):
        out = records(*args, **kwargs)
        shutil.copytree(tiny_model_dir, tmp_path / "new")  # ship writes beside and renames into place
        os.rename(tiny_model_dir, tmp_path / "old")
        os.rename(tmp_path / "new", tiny_model_dir)
        return out

    monkeypatch.setattr(calibrate, "confidence_records", meanwhile_shipped)
    res = runner.invoke(app, ["calibrate-confidence", "--model-path", str(tiny_model_dir), "-d", "syn_crack", "-d",
                              "syn_tape", "--splits-dir", str(splits), "--datasets-dir", str(synthetic_datasets)])
    said = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 1 and "was written over while it was calibrated" in said, res.output
    assert not (tiny_model_dir / "confidence.json").exists() and not (tmp_path / "old" / "confidence.json").exists()
    monkeypatch.setattr(calibrate, "confidence_records", records)  # left alone, it is written
    res = runner.invoke(app, ["calibrate-confidence", "--model-path", str(tiny_model_dir), "-d", "syn_crack", "-d",
                              "syn_tape", "--splits-dir", str(splits), "--datasets-dir", str(synthetic_datasets)])
    assert res.exit_code == 0 and (tiny_model_dir / "confidence.json").is_file(), res.output


@pytest.mark.parametrize("command", ["calibrate-confidence", "calibrate-gate", "ship"])
def test_a_model_type_this_version_does_not_know_is_a_model_path_error(tiny_model_dir, tmp_path, command):
    """calibrate-confidence let the registry's KeyError through as a traceback (calibrate-gate named it)."""
    config = tiny_model_dir / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "model_type": "film_unet_v9"}))
    args = ["ship", str(tiny_model_dir), "--out", str(tmp_path / "x")] if command == "ship" else \
        [command, "--model-path", str(tiny_model_dir)]
    res = runner.invoke(app, args)
    said = " ".join(res.output.replace("│", " ").split())
    assert isinstance(res.exception, SystemExit) and res.exit_code in (1, 2), res.output  # no traceback
    assert "names the model type 'film_unet_v9', which this version does not have" in said, res.output
    assert "Traceback" not in res.output, res.output


def test_ship_refuses_a_val_part_too_small_for_the_confidence_before_the_sweep(tiny_model_dir, synthetic_datasets,
                                                                               syn_splits, tmp_path, monkeypatch):
    """Two val photos of cracks: ship swept every candidate (an hour for a real model) and then ended with 'too few
    scored masks to fit a confidence model', writing nothing."""
    def no_sweep(*args, **kwargs):
        raise AssertionError("the sweep ran")

    monkeypatch.setattr(shipping, "select", no_sweep)
    res = runner.invoke(app, ["ship", str(tiny_model_dir), "--out", str(tmp_path / "x"), "-d", "syn_crack", "-d",
                              "syn_tape", "--splits-dir", str(syn_splits), "--datasets-dir", str(synthetic_datasets),
                              "--no-gate", "--no-budget"], terminal_width=400)
    assert res.exit_code == 2 and says(res.output, "--dataset", "2 of syn_crack", "--no-confidence"), res.output
    assert not (tmp_path / "x").exists()


def test_a_second_ship_into_one_folder_at_once_is_refused(tiny_model_dir, synthetic_datasets, syn_splits, tmp_path,
                                                          monkeypatch):
    """Two ships into one --out at once each printed 'wrote': the first's model was replaced by the second's unsaid,
    and the second's cracks-on-drywall check had compared it with the model the first replaced."""
    from filelock import FileLock

    dest = tmp_path / "models" / "fast"
    kwargs = dict(datasets=("syn_crack", "syn_tape"), scales=((64,),), tta=(False,), splits_dir=syn_splits,
                  datasets_dir=synthetic_datasets, timing_images=0, budget=False, gate=False, confidence=False,
                  drywall_check=None, progress=False, report=lambda *_: None)
    ran = []
    monkeypatch.setattr(shipping, "select", lambda *a, **k: ran.append(1) or (_ for _ in ()).throw(AssertionError))
    dest.parent.mkdir()
    with FileLock(str(tmp_path / "models" / ".fast.ship.lock")):  # another ship, choosing and writing fast/
        with pytest.raises(ValueError, match="another ship is writing"):
            shipping.ship(tiny_model_dir, dest, **kwargs)
        res = runner.invoke(app, ["ship", str(tiny_model_dir), "--out", str(dest), "-d", "syn_crack", "-d", "syn_tape",
                                  "--splits-dir", str(syn_splits), "--datasets-dir", str(synthetic_datasets),
                                  "--no-gate", "--no-confidence", "--no-budget"])
        assert res.exit_code == 1 and says(res.output, "another ship is writing") and not ran and not dest.exists()
    monkeypatch.undo()
    shipping.ship(tiny_model_dir, dest, **kwargs)  # once it has ended: shipped, and no lock file left beside it
    assert sorted(p.name for p in dest.parent.iterdir()) == ["fast"]
    def no_val_part(*args, **kwargs):
        raise ValueError("no val part")

    monkeypatch.setattr(shipping.Validator, "from_parts", no_val_part)
    with pytest.raises(ValueError, match="no val part"):  # a ship that fails leaves no folder made for its lock
        shipping.ship(tiny_model_dir, tmp_path / "new" / "deeper" / "fast", **kwargs)
    assert not (tmp_path / "new").exists()


def test_a_kept_gate_that_does_not_know_a_dataset_shipped_on_is_refused(tiny_model_dir, synthetic_datasets, syn_splits,
                                                                        tmp_path):
    """A model folder whose gate knows cracks, shipped again on cracks and taping with --no-gate: its thresholds were
    chosen on taping, and the shipped model refused 'segment taping area' (an empty mask, 'not something this model was
    trained to find')."""
    from drywallqa.text.encoder import get_text_encoder
    from drywallqa.text.gate import PromptGate

    encode = lambda ps: get_text_encoder().encode(ps).numpy()  # noqa: E731
    PromptGate.build({"syn_crack": ["segment crack"]}, ["segment a person"], encode, min_margin=0.0).save(tiny_model_dir)
    args = ["ship", str(tiny_model_dir), "--out", str(tmp_path / "x"), "-d", "syn_crack", "-d", "syn_tape", "--splits-dir",
            str(syn_splits), "--datasets-dir", str(synthetic_datasets), "--no-gate", "--no-confidence", "--no-budget",
            "--scales", "64", "--tta", "off", "--timing-images", "1"]
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and says(res.output, "--no-gate", "knows syn_crack only", "syn_tape"), res.output
    assert not (tmp_path / "x").exists()
    res = runner.invoke(app, args[:6] + args[8:])  # -d syn_crack alone
    assert res.exit_code == 0, res.output  # shipped on what its gate knows: its gate goes with it
    assert (tmp_path / "x" / "prompt_gate.npz").read_bytes() == (tiny_model_dir / "prompt_gate.npz").read_bytes()


def test_a_model_folder_written_over_during_the_gate_calibration_keeps_the_gate_written_with_it(tiny_model_dir, tmp_path,
                                                                                               monkeypatch):
    """A ship into the folder while calibrate-gate -d cracks ran: the ship's own gate (of cracks and taping) was written
    over with one of cracks alone, and the new model refused its taping prompts."""
    import os

    from drywallqa.text import encoder, gate_calibration

    margin = gate_calibration.calibrate_margin

    def meanwhile_shipped(*args, **kwargs):
        shutil.copytree(tiny_model_dir, tmp_path / "new")  # ship writes beside and renames into place
        (tmp_path / "new" / "prompt_gate.npz").write_bytes(b"the ship's gate")
        os.rename(tiny_model_dir, tmp_path / "old")
        os.rename(tmp_path / "new", tiny_model_dir)
        return margin(*args, **kwargs)

    class Encoder:  # a quick stand-in of the model's text encoder: one fixed random unit vector per prompt
        def encode(self, prompts):
            import zlib

            import numpy as np
            import torch

            e = np.stack([np.random.default_rng(zlib.crc32(p.encode())).standard_normal(384) for p in prompts])
            return torch.from_numpy((e / np.linalg.norm(e, axis=1, keepdims=True)).astype(np.float32))

    monkeypatch.setattr(encoder, "get_text_encoder", lambda *a, **k: Encoder())
    monkeypatch.setattr(gate_calibration, "calibrate_margin", meanwhile_shipped)
    res = runner.invoke(app, ["calibrate-gate", "--model-path", str(tiny_model_dir), "-d", "cracks"])
    assert res.exit_code == 1 and says(res.output, "was written over while its gate was calibrated"), res.output
    assert (tiny_model_dir / "prompt_gate.npz").read_bytes() == b"the ship's gate"
    assert not (tmp_path / "old" / "prompt_gate.npz").exists()
