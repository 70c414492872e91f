"""Found walking the "your own data" journey (docs/data.md, docs/training.md) with a Roboflow-style export of
train/valid/test splits and a mask-folder dataset."""

import json
from pathlib import Path

import cv2
import numpy as np
import yaml


def _export(root, rng):
    """A mask-folder export of train, valid and test splits: distinct photos, so data split puts photos of valid and
    test in its train and val parts."""
    for split, n in (("train", 8), ("valid", 4), ("test", 4)):
        (root / split / "_masks").mkdir(parents=True)
        for i in range(n):
            img = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
            cv2.imwrite(str(root / split / f"{split}{i}.png"), img)
            cv2.imwrite(str(root / split / "_masks" / f"{split}{i}.png"), (rng.random((64, 64)) > 0.9).astype(np.uint8) * 255)


def test_data_split_says_how_many_photos_of_its_train_and_val_parts_training_leaves_out(tmp_path):
    """data split printed 'train 12, val 3, test 3' for an export of train/valid/test: training then trained on 6 and
    validated on 2 (the photos of the published valid and test splits are left out of the train and val parts), and
    ship refused 'the group-clean val part holds 2' photos, numbers the split's line never gave."""
    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.data import registry
    from drywallqa.data.grouping import GROUP_LEFT_OUT

    _export(tmp_path / "mine", np.random.default_rng(0))
    decl = tmp_path / "mine.yaml"
    decl.write_text(yaml.safe_dump({"name": "h235_mine", "folder": "mine", "prompts": ["segment crack"]}))
    try:
        res = CliRunner().invoke(app, ["data", "split", "-d", str(decl), "--out", str(tmp_path / "splits")],
                                 terminal_width=400)
    finally:
        registry.DATASETS.remove("h235_mine")
    assert res.exit_code == 0, res.output
    parts = json.loads((tmp_path / "splits" / "h235_mine.json").read_text())["parts"]
    held = {part: sum(f.split("/")[0] in GROUP_LEFT_OUT[part] for f in files) for part, files in parts.items()}
    assert held["train"] and held["val"] + held["train"] < 16  # the export spreads: some of valid/test in train
    out = " ".join(res.output.split())
    want = ", ".join(f"{held[p]} of {p}" for p in ("train", "val") if held[p])
    assert f"of these, {want} are photos of the published split(s) valid, test" in out


def test_train_says_where_the_run_and_its_best_weights_are(write_train_config, tiny_kwargs, tmp_path, monkeypatch):
    """`drywallqa train CONFIG output_dir=runs/own` ended on the last epoch's numbers alone: nowhere did it say where
    the run went, that its best weights (of which epoch) are in best/, or what ships them."""
    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.engine import trainer as trainer_module

    def fake_train(self, **kw):
        best = Path(self.config.output_dir) / "best"
        best.mkdir(parents=True)
        (best / "config.json").write_text(json.dumps({"epoch": 2, "val": {"val_score": 0.5}}))
        return {"epoch": 3, "val_score": 0.25}

    monkeypatch.setattr(trainer_module.Trainer, "train", fake_train)
    run = tmp_path / "runs" / "own"
    res = CliRunner().invoke(app, ["train", str(write_train_config("film_unet", tiny_kwargs)), f"output_dir={run}"],
                             terminal_width=400)
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())
    assert f"best weights (epoch 2, val_score 0.5) in {run / 'best'}" in out, out
    assert f"drywallqa ship {run} --out" in out, out


def test_a_manifest_not_found_in_the_folder_a_command_runs_in_says_where_it_looked_and_splits_dir(tmp_path, monkeypatch):
    """calibrate-confidence of a model fine-tuned on one's own dataset, run from another folder than the one `data
    split` wrote its splits/ in, said only 'run `drywallqa data split` first': a new split (of photos added since,
    other parts) whose val photos the model may have trained on. It names the folder looked in and --splits-dir."""
    import pytest

    from drywallqa.data import registry
    from drywallqa.data.grouping import check_split_manifest

    _export(tmp_path / "mine", np.random.default_rng(0))
    decl = tmp_path / "mine.yaml"
    decl.write_text(yaml.safe_dump({"name": "h235_far", "folder": "mine", "prompts": ["segment crack"]}))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    try:
        with pytest.raises(FileNotFoundError) as exc:
            check_split_manifest(str(decl))
        with pytest.raises(FileNotFoundError) as given:  # a folder given: it is where it looked, said as before
            check_split_manifest(str(decl), tmp_path / "nope")
    finally:
        registry.DATASETS.remove("h235_far")
    said = str(exc.value)
    assert str(elsewhere) in said and "--splits-dir" in said and "data.splits_dir" in said, said
    assert "drywallqa data split" in said, said
    assert "--splits-dir" not in str(given.value) and "no split manifest" in str(given.value)


def _split_and_record(tmp_path, model_dir, name):
    """A dataset of one's own, its manifest, and a model whose train_files.json names two photos of the val part
    (as after `data split --overwrite` of other parts): the photos named as the trainer names them."""
    from drywallqa.cli import app  # noqa: F401  (the registries)
    from drywallqa.data.grouping import make_group_split, split_manifest_path
    from drywallqa.data.registry import get_dataset_config

    _export(tmp_path / name, np.random.default_rng(1))
    decl = tmp_path / f"{name}.yaml"
    decl.write_text(yaml.safe_dump({"name": name, "folder": name, "prompts": ["segment crack"]}))
    get_dataset_config(str(decl))  # registered by its name, which the manifest records (as data split writes it)
    split = make_group_split(name, None, {"train": 0.5, "val": 0.4, "test": 0.1}, 0)
    split.to_json(split_manifest_path(tmp_path / "splits", name))
    val = [f for f in split.parts["val"] if f.split("/")[0] == "train"]
    (Path(model_dir) / "train_files.json").write_text(json.dumps({"train": [[f"{name}/{f}" for f in val[:2]]],
                                                                   "val": [[]]}))
    return decl, min(2, len(val))


def test_val_photos_the_model_trained_on_are_counted(tmp_path, tiny_model_dir):
    """ship and calibrate-confidence chose options and fitted the confidence on the val part of whatever manifest
    they found (./splits drawn again after training, another --splits-dir) without a word where the model had
    trained on its photos: the confidence fitted on trained photos, ranked by nothing, was written as calibrated."""
    from drywallqa.data import registry
    from drywallqa.engine.shipping import val_photos_trained_on

    try:
        decl, n = _split_and_record(tmp_path, tiny_model_dir, "h235_seen")
        assert n
        assert val_photos_trained_on(tiny_model_dir, [str(decl)], tmp_path / "splits") == {"h235_seen": n}
        (Path(tiny_model_dir) / "train_files.json").write_text(json.dumps({"train": [["h235_seen/elsewhere.png"]]}))
        assert val_photos_trained_on(tiny_model_dir, [str(decl)], tmp_path / "splits") == {}
        (Path(tiny_model_dir) / "train_files.json").unlink()  # none recorded: nothing to say
        assert val_photos_trained_on(tiny_model_dir, [str(decl)], tmp_path / "splits") == {}
    finally:
        registry.DATASETS.remove("h235_seen")


def test_calibrate_confidence_warns_of_val_photos_the_model_trained_on(tmp_path, tiny_model_dir):
    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.data import registry

    try:
        decl, n = _split_and_record(tmp_path, tiny_model_dir, "h235_seen2")
        res = CliRunner().invoke(app, ["calibrate-confidence", "--model-path", str(tiny_model_dir), "-d", str(decl),
                                       "--splits-dir", str(tmp_path / "splits"), "--limit", "10"], terminal_width=400)
    finally:
        registry.DATASETS.remove("h235_seen2")
    out = " ".join(res.output.split())
    assert f"the val part holds photos the model was trained on (its train_files.json): {n} of h235_seen2" in out, out
