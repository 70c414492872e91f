"""ship, calibrate-gate and calibrate-confidence: what an adversarial pass found (each test failed before its fix)."""

from __future__ import annotations

import shutil

import pytest
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


def test_ship_never_replaces_an_onnx_export(tiny_model_dir, tmp_path):
    """An ONNX export (export onnx never writes over a torch model folder) was replaced whole by the torch folder,
    with the TensorRT engine built beside its graphs: refused as a bad --out, the export left as it was."""
    from drywallqa.export.onnx import export_onnx

    export = export_onnx(tiny_model_dir, tmp_path / "onnx")
    (export / "model.engine").write_bytes(b"a TensorRT engine, built in an hour")
    before = {p.name: p.read_bytes() for p in export.iterdir()}
    res = runner.invoke(app, ["ship", str(tiny_model_dir), "--out", str(export), "--limit", "1"], terminal_width=400)
    assert res.exit_code == 2 and says(res.output, "is an ONNX export", "--out"), res.output
    assert {p.name: p.read_bytes() for p in export.iterdir()} == before


def test_ship_of_a_run_whose_best_holds_a_link_to_nowhere(tiny_model_dir, synthetic_datasets, syn_splits, tmp_path):
    """A link to nowhere in a run's best/ (a note linked from elsewhere, moved since) stopped the copy of best/ taken
    before the sweep: exit 1 with shutil's list of errors. Nothing of the model is there: it is shipped without it."""
    from drywallqa.engine.shipping import ship

    run = tmp_path / "run"
    shutil.copytree(tiny_model_dir, run / "best")
    (run / "metrics.csv").write_text("epoch,val_score\n1,0.5\n")
    (run / "best" / "notes.txt").symlink_to(tmp_path / "moved_away.txt")
    ship(run, tmp_path / "out", datasets=("syn_crack", "syn_tape"), scales=((64,),), tta=(False,), splits_dir=syn_splits,
         datasets_dir=synthetic_datasets, timing_images=0, budget=False, gate=False, confidence=False, drywall_check=None,
         progress=False, report=lambda *_: None)
    assert (tmp_path / "out" / "model.safetensors").is_file() and not (tmp_path / "out" / "notes.txt").exists()


@pytest.mark.parametrize("limit", [0, -3, 2.5, "5"])
def test_the_python_api_refuses_a_limit_the_cli_would(tiny_model_dir, synthetic_datasets, syn_splits, tmp_path, limit):
    """``ship(limit=-3)`` wrote a model chosen on all but the last 3 val photos, recorded as chosen on "only the first -3
    photos"; ``calibrate_model_confidence(limit=0)`` fitted on every photo and said "only the first 0"; ship(limit=0)
    failed as "none of the photos could be read". The CLI's --limit takes at least 1 (10): so does the API."""
    from drywallqa.engine.calibrate import calibrate_model_confidence
    from drywallqa.engine.shipping import ship

    with pytest.raises(ValueError, match="limit must be a whole number of at least 1"):
        ship(tiny_model_dir, tmp_path / "out", datasets=("syn_crack", "syn_tape"), scales=((64,),), tta=(False,),
             splits_dir=syn_splits, datasets_dir=synthetic_datasets, limit=limit, timing_images=0, budget=False,
             gate=False, confidence=False, drywall_check=None, progress=False, report=lambda *_: None)
    with pytest.raises(ValueError, match="limit must be a whole number of at least 1"):
        calibrate_model_confidence(tiny_model_dir, ("syn_crack", "syn_tape"), syn_splits, synthetic_datasets, limit,
                                   progress=False)
    assert not (tmp_path / "out").exists() and not (tiny_model_dir / "confidence.json").exists()
    with pytest.raises(ValueError, match="timing_images must be a whole number of at least 0"):
        ship(tiny_model_dir, tmp_path / "out", datasets=("syn_crack",), splits_dir=syn_splits,
             datasets_dir=synthetic_datasets, timing_images=-1, budget=False)


def test_a_model_left_as_candidate_replaces_a_file_or_a_link_of_that_name(tiny_model_dir, tmp_path):
    """A clear cracks-on-drywall regression leaves the new model in OUT.candidate: a file or a link of that name
    failed the rename after all the work ("Not a directory"), the new model thrown away. A link's target is kept."""
    from drywallqa.engine import shipping

    row = {"missed_on_drywall": 3, "crack_photos": 4, "crack_mIoU_on_drywall": 0.1}
    check = {"part": "val", "crack_dataset": "syn_crack", "drywall_dataset": "syn_tape", "worse": True,
             "rows": {"new": row, "replaced": row}}
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "keep.txt").write_text("kept")
    dest = tmp_path / "dest"
    shutil.copytree(tiny_model_dir, dest)
    for there in ("file", "link"):
        candidate = tmp_path / "dest.candidate"
        if there == "file":
            candidate.write_text("a file")
        else:
            shutil.rmtree(candidate)
            candidate.symlink_to(tmp_path / "elsewhere")
        new = tmp_path / "new"
        shutil.copytree(tiny_model_dir, new)
        (new / "selection.json").write_text("{}")
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(shipping, "check_drywall", lambda *a, **k: check)
            mp.setattr(shipping.drywall, "summary", lambda *a: "fewer")
            with pytest.raises(shipping.DrywallRegression):
                shipping.drywall_step(new, dest, ("syn_crack", "syn_tape"), False, None, None, None, False, lambda *_: None)
        assert (candidate / "model.safetensors").is_file() and not candidate.is_symlink() and not new.exists()
    assert (tmp_path / "elsewhere" / "keep.txt").read_text() == "kept"


def _wide_val_splits(synthetic_datasets, folder):
    from drywallqa.data.grouping import make_group_split

    for ds in ("syn_crack", "syn_tape"):
        make_group_split(ds, synthetic_datasets, {"train": 0.2, "val": 0.6, "test": 0.2}, seed=0).to_json(folder / f"{ds}.json")
    return folder


def test_a_calibration_into_a_folder_a_ship_is_writing_is_not_written(tiny_model_dir, synthetic_datasets, tmp_path,
                                                                      monkeypatch):
    """A calibration that ended while a ship into the same folder ran (begun after the calibration began) wrote its
    file and said "wrote"; the ship then replaced the folder whole (with the calibration it had copied, or made,
    before): the new one silently gone."""
    from contextlib import ExitStack

    from drywallqa.engine import calibrate
    from drywallqa.engine.shipping import ship_lock
    from drywallqa.text import gate, gate_calibration

    splits = _wide_val_splits(synthetic_datasets, tmp_path / "wide")
    ship_begins = ExitStack()
    records = calibrate.confidence_records

    def ship_begun_meanwhile(*args, **kwargs):
        out = records(*args, **kwargs)
        ship_begins.enter_context(ship_lock(tiny_model_dir.resolve()))
        return out

    def gate_of(model_dir, datasets, before_save=None, report=None):  # the real one encodes for a minute
        ship_begins.enter_context(ship_lock(tiny_model_dir.resolve()))
        before_save()
        (model_dir / gate.GATE_FILE).write_bytes(b"a gate")
        return {"min_margin": 0.1, "positives_answered": 1.0, "positives": 1, "negatives_answered": 0.0, "negatives": 1}

    monkeypatch.setattr(gate_calibration, "calibrate_model_gate", gate_of)
    monkeypatch.setattr(calibrate, "confidence_records", ship_begun_meanwhile)
    confidence = ["calibrate-confidence", "--model-path", str(tiny_model_dir), "-d", "syn_crack", "-d", "syn_tape",
                  "--splits-dir", str(splits), "--datasets-dir", str(synthetic_datasets)]
    for args in (confidence, ["calibrate-gate", "--model-path", str(tiny_model_dir)]):
        with ship_begins:
            res = runner.invoke(app, args, terminal_width=400)
            assert res.exit_code == 1 and says(res.output, "a ship is writing", "nothing was written"), res.output
        assert sorted(p.name for p in tiny_model_dir.iterdir()) == ["config.json", "model.safetensors"]
    monkeypatch.setattr(calibrate, "confidence_records", records)
    res = runner.invoke(app, confidence, terminal_width=400)  # with no ship under way
    assert res.exit_code == 0 and (tiny_model_dir / "confidence.json").is_file(), res.output


def test_a_source_written_over_during_the_sweep_is_not_shipped(tiny_model_dir, synthetic_datasets, syn_splits, tmp_path,
                                                               monkeypatch):
    """A model folder shipped while another ship (or a train) wrote over it: the options were chosen on its earlier
    weights and written with the later ones, silently (a run's best/ is copied first; a model folder was not)."""
    import os

    from drywallqa.engine import shipping

    source = tmp_path / "source"
    shutil.copytree(tiny_model_dir, source)
    select = shipping.select

    def meanwhile_written_over(*args, **kwargs):
        out = select(*args, **kwargs)
        shutil.copytree(tiny_model_dir, tmp_path / "new")  # a ship writes beside and renames into place
        os.rename(source, tmp_path / "old")
        os.rename(tmp_path / "new", source)
        return out

    monkeypatch.setattr(shipping, "select", meanwhile_written_over)
    with pytest.raises(ValueError, match="was written over while it was shipped"):
        shipping.ship(source, tmp_path / "out", datasets=("syn_crack", "syn_tape"), scales=((64,),), tta=(False,),
                      splits_dir=syn_splits, datasets_dir=synthetic_datasets, timing_images=0, budget=False, gate=False,
                      confidence=False, drywall_check=None, progress=False, report=lambda *_: None)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("candidates", [{"scales": ()}, {"tta": ()}, {"scales": (64,)}, {"scales": ("64",)}])
def test_the_python_api_refuses_no_candidates_or_a_size_given_bare(tiny_model_dir, synthetic_datasets, syn_splits,
                                                                   tmp_path, candidates):
    """No candidate was said as "no candidate fits the speed budget: " (none listed); ``scales=(64,)`` (for
    ``((64,),)``) failed once the val photos were read, with "TypeError: 'int' object is not iterable"."""
    from drywallqa.engine import shipping

    def no_photos_read(*args, **kwargs):
        raise AssertionError("the val photos were read")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(shipping.Validator, "from_parts", no_photos_read)
        with pytest.raises(ValueError, match="a tuple of input sizes per scales candidate"):
            shipping.ship(tiny_model_dir, tmp_path / "out", datasets=("syn_crack", "syn_tape"),
                          **{"scales": ((64,),), "tta": (False,), **candidates}, splits_dir=syn_splits,
                          datasets_dir=synthetic_datasets, timing_images=0, budget=False, gate=False, confidence=False,
                          drywall_check=None, progress=False, report=lambda *_: None)


def test_a_drywall_check_without_labelled_val_cracks_is_refused_before_the_sweep(tiny_model_dir, synthetic_datasets,
                                                                                 tmp_path, monkeypatch):
    """A crack dataset whose val photos hold no labelled crack failed the cracks-on-drywall check at the very end
    ("no labelled crack photos in the val part", exit 1), the sweep and calibrations thrown away."""
    import json

    import numpy as np
    from PIL import Image

    from drywallqa.data import registry
    from drywallqa.data.grouping import make_group_split
    from drywallqa.data.registry import DatasetConfig, SplitSource
    from drywallqa.engine import shipping

    empty = synthetic_datasets / "crack_empty"
    shutil.copytree(synthetic_datasets / "crack", empty)
    for mask in (empty / "train" / "_masks").iterdir():
        Image.fromarray(np.zeros((64, 64), np.uint8)).save(mask)
    coco = json.loads((empty / "valid" / "_annotations.coco.json").read_text())
    (empty / "valid" / "_annotations.coco.json").write_text(json.dumps({**coco, "annotations": []}))
    sources = {"train": SplitSource("mask_folder", "train"), "valid": SplitSource("coco", "valid")}
    registry.register_dataset(DatasetConfig("syn_no_cracks", "crack_empty", ("segment crack",), sources, concept="cracks"))
    registry.register_dataset(DatasetConfig("syn_walls", "tape", ("segment taping area",), {
        "train": SplitSource("coco", "train"), "valid": SplitSource("coco", "valid")}, label_shape="box", concept="taping"))
    splits = tmp_path / "splits"
    for ds in ("syn_no_cracks", "syn_walls"):
        make_group_split(ds, synthetic_datasets, {"train": 0.2, "val": 0.6, "test": 0.2}, seed=0).to_json(splits / f"{ds}.json")
    monkeypatch.setattr(shipping, "select", lambda *a, **k: (_ for _ in ()).throw(AssertionError("the sweep began")))
    res = runner.invoke(app, ["ship", str(tiny_model_dir), "--out", str(tmp_path / "out"), "-d", "syn_no_cracks", "-d",
                              "syn_walls", "--splits-dir", str(splits), "--datasets-dir", str(synthetic_datasets),
                              "--no-gate", "--no-confidence"], terminal_width=400)
    assert res.exit_code == 2 and says(res.output, "no labelled crack photos", "--no-drywall-check"), res.output
    assert not (tmp_path / "out").exists()


def test_a_damaged_model_folder_as_out_is_named_as_such(tiny_model_dir, tmp_path):
    """A model folder whose config.json is damaged (or gone) was said to hold "other files" when given as --out, which
    read as wrong to whoever shipped there to mend it: the damage is named, and the folder still left as it is."""
    for damage in ("truncated", "gone"):
        dest = tmp_path / damage
        shutil.copytree(tiny_model_dir, dest)
        if damage == "gone":
            (dest / "config.json").unlink()
        else:
            (dest / "config.json").write_text('{"model_type": "film_unet", "conf')
        before = {p.name: p.read_bytes() for p in dest.iterdir()}
        res = runner.invoke(app, ["ship", str(tiny_model_dir), "--out", str(dest), "--limit", "1"], terminal_width=400)
        said = "config.json is damaged" if damage == "truncated" else "(no config.json)"
        assert res.exit_code == 2 and says(res.output, said, "move it away"), res.output
        assert {p.name: p.read_bytes() for p in dest.iterdir()} == before
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("x")  # any other folder: as before
    res = runner.invoke(app, ["ship", str(tiny_model_dir), "--out", str(tmp_path / "notes"), "--limit", "1"])
    assert res.exit_code == 2 and says(res.output, "holds other files"), res.output


def test_the_python_api_refuses_one_dataset_given_as_text(tiny_model_dir, synthetic_datasets, syn_splits, tmp_path):
    """``datasets="syn_crack"`` (for ``("syn_crack",)``) was read letter by letter: "dataset 'c' is listed twice"."""
    from drywallqa.engine.calibrate import calibrate_model_confidence
    from drywallqa.engine.shipping import ship
    from drywallqa.text.gate_calibration import calibrate_model_gate

    calls = [lambda: ship(tiny_model_dir, tmp_path / "out", datasets="syn_crack", splits_dir=syn_splits,
                          datasets_dir=synthetic_datasets, progress=False, report=lambda *_: None),
             lambda: calibrate_model_confidence(tiny_model_dir, "syn_crack", syn_splits, synthetic_datasets, progress=False),
             lambda: calibrate_model_gate(tiny_model_dir, "cracks", encode=lambda ps: None)]
    for call in calls:
        with pytest.raises(ValueError, match=r"a list of dataset names or YAML files, e.g. \['(syn_crack|cracks)'\]"):
            call()
    assert sorted(p.name for p in tiny_model_dir.iterdir()) == ["config.json", "model.safetensors"]
    assert not (tmp_path / "out").exists()


def test_a_calibration_into_a_folder_a_ship_is_writing_is_refused_before_its_work(tiny_model_dir, monkeypatch):
    """It was refused only once made (minutes of a real model's, the gate's encodings too): said before any load."""
    from drywallqa.engine import calibrate
    from drywallqa.engine.shipping import ship_lock

    monkeypatch.setattr(calibrate, "folder_segmenter", lambda *a, **k: pytest.fail("the model was loaded"))
    with ship_lock(tiny_model_dir.resolve()):
        for command in ("calibrate-gate", "calibrate-confidence"):
            res = runner.invoke(app, [command, "--model-path", str(tiny_model_dir)], terminal_width=400)
            assert res.exit_code == 1 and says(res.output, "a ship is writing", "once it has ended"), res.output


def test_a_gate_of_another_text_encoder_or_unlike_counts_is_damaged_at_load(tiny_model_dir, tmp_path):
    """A prompt gate of 512-d embeddings (copied from a model with another text encoder) in a model of 384-d ones, or
    one with fewer prompts than embeddings, loaded; then every prompt failed in numpy (matmul's "mismatch in its core
    dimension", an IndexError), and ``ship --no-gate`` shipped it. Named as damaged when the folder loads."""
    import numpy as np

    from drywallqa.engine.segmenter import Segmenter
    from drywallqa.text.gate import PromptGate

    rng = np.random.default_rng(0)
    prompts, concepts = ["segment crack", "segment taping area"], ["cracks", "taping"]
    for width, known in ((512, prompts), (384, prompts[:1])):
        model = tmp_path / f"model_{width}_{len(known)}"
        shutil.copytree(tiny_model_dir, model)
        PromptGate(known, concepts, rng.normal(size=(2, width)), rng.normal(size=(3, width)),
                   {"cracks": prompts[0], "taping": prompts[1]}, 0.1).save(model)
        with pytest.raises(ValueError, match="prompt_gate.npz is damaged"):
            Segmenter.load(model)
        res = runner.invoke(app, ["ship", str(model), "--out", str(tmp_path / "out"), "--no-gate", "--limit", "1",
                                  "--no-confidence"], terminal_width=400)
        assert res.exit_code == 2 and says(res.output, "prompt_gate.npz is damaged", "SOURCE"), res.output
    PromptGate(prompts, concepts, rng.normal(size=(2, 384)), rng.normal(size=(3, 384)),
               {"cracks": prompts[0], "taping": prompts[1]}, 0.1).save(tiny_model_dir)
    Segmenter.load(tiny_model_dir)  # one that fits loads
