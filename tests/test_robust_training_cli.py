"""Training from the command line and the scripts around a run (scripts/model_soup.py, scripts/export_checkpoint.py):
inputs that ended in a traceback, lost work or were taken without a word."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

from drywallqa.data import registry
from drywallqa.models import create_model


def _model(tmp_path, name, seed, **kwargs):
    torch.manual_seed(seed)
    return create_model("film_unet", **kwargs).save_pretrained(tmp_path / name, extra={"threshold": 0.4})


def _soup_main(soup, monkeypatch, *argv):
    monkeypatch.setattr(sys, "argv", ["model_soup.py", *map(str, argv)])
    soup.main()


# ------------------------------------------------------------------ scripts/model_soup.py
def test_a_soup_scored_on_datasets_it_cannot_read_is_refused_before_it_is_written(tmp_path, tiny_kwargs, load_script,
                                                                                   monkeypatch, capsys):
    """--datasets naming no dataset, or one whose photos are not here, was a traceback (UnknownNameError,
    NothingToScoreError) once the soup had replaced OUT/soup."""
    soup = load_script("model_soup")
    a, b = _model(tmp_path, "a", 0, **tiny_kwargs), _model(tmp_path, "b", 1, **tiny_kwargs)
    monkeypatch.setenv("DRYWALLQA_DATASETS", str(tmp_path / "no_datasets"))
    out = tmp_path / "out"
    for datasets, said in ((["nope"], "unknown dataset 'nope'"), (["cracks"], "no image to score")):
        with pytest.raises(SystemExit) as exc:
            _soup_main(soup, monkeypatch, a, b, "--out", out, "--datasets", *datasets)
        assert exc.value.code == 2 and said in capsys.readouterr().err, datasets
        assert not (out / "soup").exists()


def test_a_soup_is_scored_on_a_dataset_given_by_its_yaml_file(synthetic_datasets, tmp_path, tiny_kwargs, load_script,
                                                              monkeypatch, capsys):
    """A dataset given by its YAML file was scored under its registered name and looked up under the file's: a KeyError
    traceback, after the soup was written and every model scored."""
    from drywallqa.data.grouping import make_group_split

    soup = load_script("model_soup")
    a, b = _model(tmp_path, "a", 0, **tiny_kwargs), _model(tmp_path, "b", 1, **tiny_kwargs)
    declared = tmp_path / "walls.dataset.yaml"
    declared.write_text(f"name: walls_file\nfolder: {synthetic_datasets / 'crack'}\nprompts: [segment crack]\n"
                        "splits:\n  train: {kind: mask_folder, folder: train}\n")
    monkeypatch.chdir(tmp_path)  # the default split manifests: ./splits
    try:
        make_group_split(registry.resolve_dataset(str(declared)), None, {"train": 0.5, "val": 0.25, "test": 0.25}).to_json(
            tmp_path / "splits" / "walls_file.json")
        _soup_main(soup, monkeypatch, a, b, "--out", tmp_path / "out", "--datasets", declared, "--limit", "2")
    finally:
        if "walls_file" in registry.list_datasets():
            registry.DATASETS.remove("walls_file")
    report = (tmp_path / "out" / "soup.json").read_text()
    assert '"walls_file"' in report and (tmp_path / "out" / "soup" / "model.safetensors").is_file()
    assert np.isfinite(__import__("json").loads(report)["scores"]["soup"]["mean_mIoU"])


# ------------------------------------------------------------------ drywallqa train: data
def test_a_train_part_whose_photos_are_all_unreadable_is_not_said_to_be_missing(write_train_config, tiny_kwargs,
                                                                                 synthetic_datasets, syn_splits, caplog):
    """Photos that are there but cannot be read (damaged, without their mask) were said "not found" under the dataset
    folder, with the advice to point data.datasets_dir elsewhere."""
    import json

    from typer.testing import CliRunner

    from drywallqa.cli import app

    for name in json.loads((syn_splits / "syn_crack.json").read_text())["parts"]["train"]:
        (synthetic_datasets / "crack" / name).write_bytes(b"not a photo")
    with caplog.at_level("WARNING", logger="drywallqa.data.grouping"):
        res = CliRunner().invoke(app, ["train", str(write_train_config("film_unet", tiny_kwargs))], terminal_width=400)
    assert res.exit_code == 1, res.output
    said = " ".join(res.output.split())
    assert "has no images in part 'train'" in said and "none of them could be read" in said, said
    assert "were found" not in said and "data.datasets_dir" not in said
    assert "or are there and could not be read with their label" in caplog.text, caplog.text  # the warning before it


# ------------------------------------------------------------------ drywallqa train: overrides
@pytest.mark.parametrize("override, dropped, hint", [
    ("output_dir=runs/my run #2", "'#2'", "'output_dir=\"runs/my run #2\"'"),
    ("init_from=~/models/run #3/best", "'#3/best'", "YAML quotes"),
    ("optim.epochs=3  # three", "'# three'", "without it"),
])
def test_an_override_value_cut_short_by_a_yaml_comment_is_refused(override, dropped, hint):
    """YAML reads " #..." as a comment: output_dir=runs/my run #2 trained into "runs/my run", without a word."""
    from drywallqa.engine.config import TrainConfig

    with pytest.raises(ValueError, match="as a comment and drops it") as exc:
        TrainConfig().with_overrides([override])
    assert dropped in str(exc.value) and hint in str(exc.value)
    for kept in ('output_dir="runs/my run #2"', "output_dir='runs/my run #2'", "output_dir=runs/run#2"):
        assert TrainConfig().with_overrides([kept]).output_dir == kept.partition("=")[2].strip("'\"")


def test_a_composite_pair_of_one_dataset_is_named_before_the_photos_are_decoded(write_train_config, tiny_kwargs):
    """[[syn_crack, syn_crack]] passed the config's checks and was refused by the dataset as "composite pair (0, 0)",
    once every training photo had been decoded."""
    from typer.testing import CliRunner

    from drywallqa.cli import app

    res = CliRunner().invoke(app, ["train", str(write_train_config("film_unet", tiny_kwargs)),
                                   "data.composite_pairs=[[syn_crack, syn_crack]]", "data.composite_ratio=0.5"],
                             terminal_width=400)
    said = " ".join(res.output.split())
    assert res.exit_code == 2 and "names one dataset twice" in said and "decoding" not in said, said


def test_an_empty_override_says_null_only_where_the_key_takes_it():
    """data.val_part= (an unset shell variable) said "write data.val_part=null to unset it", which was then refused as
    "must be text, got None"."""
    from drywallqa.engine.config import TrainConfig

    for key in ("data.val_part", "optim.epochs", "output_dir"):
        with pytest.raises(ValueError, match="no value") as exc:
            TrainConfig().with_overrides([f"{key}="])
        assert f"give {key} a value" in str(exc.value) and "null" in str(exc.value).partition("no value")[2]
        assert f"{key}=null" not in str(exc.value)
        with pytest.raises(ValueError, match="got None"):  # what the advice it gave led to
            TrainConfig().with_overrides([f"{key}=null"])
    for key in ("init_from", "data.splits_dir", "optim.ema_decay", "threads"):
        with pytest.raises(ValueError, match=f"write {key}=null to unset it"):
            TrainConfig().with_overrides([f"{key}="])
        TrainConfig().with_overrides([f"{key}=null"])


def test_a_dotted_override_reaches_into_model_config_s_own_mappings():
    """model_config.encoder_options.stages=3 (docs/training.md sets encoder_options whole) was refused as
    "has no keys (known at the top: bf16, ...)" where the config had no encoder_options, and
    model_config.encoder_options.frozen_stages=2 as an unknown key where it had; a key below a plain value was
    answered with the top-level keys."""
    from drywallqa.engine.config import TrainConfig

    cfg = TrainConfig().with_overrides(["model_config.encoder_options.stages=3"])
    assert cfg.model_config["encoder_options"] == {"stages": 3}
    cfg = cfg.with_overrides(["model_config.encoder_options.frozen_stages=2"])
    assert cfg.model_config["encoder_options"] == {"stages": 3, "frozen_stages": 2}
    for override, said in (("optim.lr.x=1", "optim.lr has no keys (it is 0.002, not a mapping of keys)"),
                           ("distill.teacher.x=1", "distill.teacher has no keys (it is None, not a mapping of keys)"),
                           ("data.nope.x=1", "data.nope has no keys (known in data: cache_dir")):
        with pytest.raises(ValueError) as exc:
            TrainConfig().with_overrides([override])
        assert said in str(exc.value) and "known at the top" not in str(exc.value), exc.value


# ------------------------------------------------------------------ scripts/export_checkpoint.py
def test_export_of_a_run_stopped_before_its_first_epoch_ended_says_so(tmp_path, tiny_kwargs, load_script):
    """A run stopped by Ctrl-C or --max-minutes in its first epoch (last.pt, no best/ yet) was called no training run
    ("RUN must be a drywallqa train output folder")."""
    import shutil

    export = load_script("export_checkpoint").export
    torch.manual_seed(0)
    run = tmp_path / "run"
    create_model("film_unet", **tiny_kwargs).save_pretrained(run / "best")
    torch.save({"model": {}}, run / "last.pt")
    shutil.rmtree(run / "best")
    with pytest.raises(SystemExit) as exc:
        export(run, tmp_path / "dest")
    assert "has no best/ yet" in str(exc.value) and "--resume" in str(exc.value)
    assert "must be a drywallqa train output folder" not in str(exc.value)
    with pytest.raises(SystemExit, match="RUN must be a drywallqa train output folder"):  # no run at all: as before
        export(tmp_path / "nowhere", tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def test_a_config_file_in_another_encoding_is_named_as_such(tmp_path):
    """A config saved in Latin-1 (a comment with an accent) was refused in Python's codec words ("'utf-8' codec can't
    decode byte 0xe9 in position 21"), where a dataset file in the same state is said not to be UTF-8."""
    from drywallqa.engine.config import TrainConfig

    path = tmp_path / "latin.yaml"
    path.write_bytes("optim:\n  lr: 0.001  # été\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin\.yaml: not UTF-8 text .*save it as UTF-8"):
        TrainConfig.from_yaml(path)


def test_a_soup_takes_the_datasets_and_splits_folders_its_error_names(synthetic_datasets, syn_splits, tmp_path,
                                                                      tiny_kwargs, load_script, monkeypatch, capsys):
    """model_soup's "no image to score" advised --datasets-dir, an option the script did not have (only
    $DRYWALLQA_DATASETS reached it); it takes --datasets-dir and --splits-dir as evaluate does."""
    soup = load_script("model_soup")
    a, b = _model(tmp_path, "a", 0, **tiny_kwargs), _model(tmp_path, "b", 1, **tiny_kwargs)
    monkeypatch.setenv("DRYWALLQA_DATASETS", str(tmp_path / "no_datasets"))
    _soup_main(soup, monkeypatch, a, b, "--out", tmp_path / "out", "--datasets", "syn_crack", "--limit", "2",
               "--datasets-dir", synthetic_datasets, "--splits-dir", syn_splits)
    report = json.loads((tmp_path / "out" / "soup.json").read_text())
    assert np.isfinite(report["scores"]["soup"]["syn_crack"]["mIoU"])


@pytest.mark.parametrize("inside", ["best", "best/nested"])
def test_a_run_is_not_started_inside_another_runs_model_folder(tmp_path, inside, monkeypatch):
    """--out in another run's best/ was taken: that run replaces best/ whole at its next better epoch, and the new
    run's checkpoints went with it."""
    from pathlib import Path

    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.engine.trainer import Trainer

    monkeypatch.setattr(Trainer, "train", lambda self, **kwargs: {"trained": True})  # let through: no run to wait for
    other = tmp_path / "other_run"
    (other / "best").mkdir(parents=True)
    (other / "last.pt").write_bytes(b"")
    config = Path(__file__).parents[1] / "configs" / "default.yaml"
    res = CliRunner().invoke(app, ["train", str(config), "--out", str(other / inside)])
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit), (res.output, res.exception)
    flat = " ".join(res.output.replace("│", " ").split())
    assert "the model folder of the training run" in flat and "--out" in flat, flat
    assert sorted(p.name for p in other.rglob("*")) == ["best", "last.pt"]  # nothing made


def test_a_trainer_from_python_refuses_an_output_dir_inside_another_runs_model_folder(write_train_config, tiny_kwargs,
                                                                                        tmp_path):
    """The CLI refused it; ``Trainer(cfg).train()`` trained into the other run's best/, replaced at its next epoch."""
    from drywallqa.engine.config import TrainConfig
    from drywallqa.engine.trainer import Trainer

    other = tmp_path / "other_run"
    (other / "best").mkdir(parents=True)
    (other / "last.pt").write_bytes(b"")
    cfg = TrainConfig.from_yaml(write_train_config("film_unet", tiny_kwargs))
    cfg.output_dir = str(other / "best" / "mine")
    trainer = Trainer(cfg, progress=False)
    trainer.build_data = lambda: pytest.fail("the data were read for a run that cannot be kept")
    with pytest.raises(ValueError, match="the model folder of the training run"):
        trainer.train()
    assert sorted(p.name for p in other.rglob("*")) == ["best", "last.pt"]
