"""Every folder lock a command takes is released on every way out, an exception or a usage error included: a second
call in the same process (a notebook, a server, a test's CliRunner) is never refused as "in use" by the first's lock,
and no lock is left for the garbage collector to release."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from filelock import FileLock
from typer.testing import CliRunner

from conftest import write_photos
from drywallqa.cli import app
from drywallqa.utils import locks
from drywallqa.utils.locks import folder_lock, lock_held

runner = CliRunner()


class Boom(RuntimeError):
    """The work of a command failing once its lock is taken."""


def _boom(*args, **kwargs):
    raise Boom("the work failed")


@pytest.fixture
def made_locks(monkeypatch):
    """Every ``FileLock`` the code makes during the test, kept (so only an explicit release frees one: a lock left
    held, to be released by the garbage collector when its last reference goes, stays held here)."""
    from drywallqa.engine import batch, folder_writers
    from drywallqa.export import onnx_cache
    from drywallqa.utils import files

    made = []

    class Kept(FileLock):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    for module in (locks, folder_writers, onnx_cache, files, batch):
        monkeypatch.setattr(module, "FileLock", Kept)
    return made


def assert_released(made, *lock_paths):
    """No lock made is held any more, and each of ``lock_paths`` can be taken by another lock of this process."""
    assert made, "no lock was taken: the test does not reach the lock"
    held = [lock.lock_file for lock in made if lock.is_locked]
    assert not held, f"left held: {held}"
    for path in lock_paths:
        assert not lock_held(path), path
        other = FileLock(str(path), timeout=0.3)
        other.acquire()  # a Timeout: held by this process still
        other.release()
        Path(path).unlink(missing_ok=True)


def test_a_folder_lock_is_released_when_its_block_raises(tmp_path, made_locks):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(Boom):
        with folder_lock(out, ".x.lock", "thing", "choose another"):
            raise Boom("failed")
    assert_released(made_locks, out / ".x.lock")
    with folder_lock(out, ".x.lock", "thing", "choose another"):
        pass


# -- ship and export onnx (engine/folder_writers.py) ----------------------------------------------------------------


def test_a_ship_lock_is_released_when_the_ship_fails(tmp_path, made_locks):
    from drywallqa.engine.folder_writers import writer_in_progress, writer_lock_path
    from drywallqa.engine.shipping import ship_lock

    dest = tmp_path / "shipped" / "model"
    with pytest.raises(Boom):
        with ship_lock(dest):
            _boom()
    dest.parent.mkdir(parents=True, exist_ok=True)
    assert writer_in_progress(dest) is None
    assert_released(made_locks, writer_lock_path(dest, "ship"))
    with ship_lock(dest):  # a second ship in this process: not refused
        pass


def test_an_onnx_export_releases_its_lock_when_it_fails(tmp_path, tiny_model_dir, made_locks, monkeypatch):
    from drywallqa.engine.folder_writers import writer_in_progress, writer_lock_path
    from drywallqa.export import onnx

    out = tmp_path / "exported"
    monkeypatch.setattr(onnx, "_write_onnx", _boom)
    with pytest.raises(Boom) as first:  # (kept, as a notebook keeps the last exception)
        onnx.export_onnx(tiny_model_dir, out)
    assert writer_in_progress(out) is None
    assert_released(made_locks, writer_lock_path(out, "export"))
    with pytest.raises(Boom):  # the second export reaches its work: not refused as another export's folder
        onnx.export_onnx(tiny_model_dir, out)
    assert first.value is not None


# -- evaluate ---------------------------------------------------------------------------------------------------------


def test_an_evaluation_releases_its_lock_when_it_fails(tmp_path, synthetic_datasets, made_locks, monkeypatch):
    from drywallqa.engine import evaluator

    out = tmp_path / "ev"
    out.mkdir()  # (one it makes is removed again, its lock file with it)
    for error in (Boom("the work failed"), FileNotFoundError("no split manifest"), KeyError("valid"), KeyboardInterrupt()):
        def fail(*args, error=error, **kwargs):
            raise error

        monkeypatch.setattr(evaluator, "_evaluate", fail)
        with pytest.raises(type(error)):
            evaluator.evaluate(object(), out, datasets=["syn_tape"], which="published",
                               datasets_dir=synthetic_datasets, speed_images=0)
        assert evaluator.evaluation_in_use(out) is None
        assert_released(made_locks, out / evaluator.EVAL_LOCK)
    monkeypatch.setattr(evaluator, "_evaluate", lambda *args: {"done": True})
    assert evaluator.evaluate(object(), out, datasets=["syn_tape"], which="published", datasets_dir=synthetic_datasets,
                              speed_images=0) == {"done": True}


def test_evaluate_after_a_usage_error_in_the_same_process_is_not_refused(tmp_path, synthetic_datasets, tiny_model_dir,
                                                                          made_locks, monkeypatch):
    """A CliRunner (one process): an evaluation that ended with a usage error (exit 2) after its lock was taken (one
    its work raises: a missing split manifest is now said before the lock), then a model folder that is none, then an
    unknown dataset: the next evaluation into the same --out is not refused as "in use by another evaluation"."""
    import typer

    from drywallqa.engine import evaluator

    def usage_error(*args, **kwargs):
        raise typer.BadParameter("no such part", param_hint="--splits")

    out = tmp_path / "ev"
    base = ["evaluate", "--datasets-dir", str(synthetic_datasets), "--out", str(out), "--speed-images", "0",
            "--limit", "1"]
    first = runner.invoke(app, [*base, "--model-path", str(tiny_model_dir), "-d", "syn_tape", "--splits", "group",
                                "--splits-dir", str(tmp_path / "no_splits")])
    assert first.exit_code == 2 and "no split manifest" in first.output, first.output  # before the lock
    with monkeypatch.context() as m:
        m.setattr(evaluator, "_evaluate", usage_error)
        inside = runner.invoke(app, [*base, "--model-path", str(tiny_model_dir), "-d", "syn_tape", "--splits",
                                     "published"])
    assert inside.exit_code == 2 and "no such part" in inside.output, inside.output
    assert_released(made_locks, out / evaluator.EVAL_LOCK)
    for args in (["--model-path", str(tmp_path / "no_model"), "-d", "syn_tape"],
                 ["--model-path", str(tiny_model_dir), "-d", "no_such_dataset"]):
        assert runner.invoke(app, [*base, *args, "--splits", "published"]).exit_code == 2
    monkeypatch.setattr(evaluator, "_evaluate", _boom)
    again = runner.invoke(app, [*base, "--model-path", str(tiny_model_dir), "-d", "syn_tape", "--splits", "published"])
    assert isinstance(again.exception, Boom), again.output  # reached its work: not refused
    assert "in use" not in again.output
    assert_released(made_locks, out / evaluator.EVAL_LOCK)


# -- data split, data refine-masks ------------------------------------------------------------------------------------


def test_data_split_after_a_usage_error_or_a_failure_in_the_same_process_is_not_refused(tmp_path, synthetic_datasets,
                                                                                        made_locks, monkeypatch):
    from drywallqa.data import grouping

    out = tmp_path / "splits"
    base = ["data", "split", "-d", "syn_tape", "--datasets-dir", str(synthetic_datasets), "--out", str(out)]
    assert runner.invoke(app, base).exit_code == 0
    exists = runner.invoke(app, base)  # the manifest is there: a usage error, with the folder's lock taken
    assert exists.exit_code == 2 and "exists" in exists.output
    assert_released(made_locks, out / grouping.SPLIT_LOCK)
    monkeypatch.setattr(grouping, "make_group_split", _boom)
    failed = runner.invoke(app, [*base, "--overwrite"])
    assert isinstance(failed.exception, Boom), failed.output
    assert_released(made_locks, out / grouping.SPLIT_LOCK)
    monkeypatch.undo()
    again = runner.invoke(app, [*base, "--overwrite"])
    assert again.exit_code == 0, again.output


def test_a_refine_run_releases_its_lock_when_it_fails(tmp_path, synthetic_datasets, made_locks, monkeypatch):
    from drywallqa.data import refine

    out = tmp_path / "refined"
    monkeypatch.setattr(refine, "_refine_into", _boom)
    for _ in range(2):  # the second reaches its work too: not refused as another run's folder
        with pytest.raises(Boom):
            refine.refine_box_masks("syn_tape", out, datasets_dir=synthetic_datasets, refiner=lambda *a: None,
                                    progress=False)
        assert refine.refine_in_use(out) is None
    assert_released(made_locks)


# -- zeroshot, predict --------------------------------------------------------------------------------------------------


def test_a_zeroshot_job_releases_its_lock_when_it_fails(tmp_path, made_locks, monkeypatch):
    from drywallqa.zeroshot import pipeline

    photos = write_photos(tmp_path / "photos", 1)
    out = tmp_path / "zs"
    segmenter = SimpleNamespace(config=SimpleNamespace(max_box_fraction=0.5))
    monkeypatch.setattr(pipeline, "_run_zeroshot", _boom)
    for _ in range(2):
        with pytest.raises(Boom):
            pipeline.run_zeroshot(segmenter, [photos], out, progress=False)
        assert pipeline.zeroshot_in_use(out) is None
    assert_released(made_locks)


def test_predict_releases_the_folder_lock_of_a_photo_whose_writing_failed(tmp_path, tiny_model_dir, made_locks,
                                                                         monkeypatch):
    from drywallqa.engine import batch

    photos = write_photos(tmp_path / "photos", 2)
    out = tmp_path / "pred"
    args = ["predict", str(photos), "-p", "segment crack", "--out", str(out), "--model-path", str(tiny_model_dir),
            "--no-report", "--no-table"]

    def fail(*a, **k):
        raise OSError(28, "No space left on device")

    real = batch.save_png_atomic
    monkeypatch.setattr(batch, "save_png_atomic", fail)
    failed = runner.invoke(app, args)
    assert failed.exit_code != 0
    assert_released(made_locks, out / batch.RESULTS_LOCK)
    monkeypatch.setattr(batch, "save_png_atomic", real)
    again = runner.invoke(app, [*args, "--overwrite"])
    assert again.exit_code == 0, again.output


# -- the ONNX cache, training run folders ------------------------------------------------------------------------------


def test_the_onnx_cache_lock_is_released_when_an_export_into_it_fails(tmp_path, tiny_model_dir, made_locks,
                                                                     monkeypatch):
    from drywallqa.export import onnx_cache

    cache = tmp_path / "cache"
    monkeypatch.setattr(onnx_cache, "_export_copy", _boom)
    for _ in range(2):
        with pytest.raises(Boom):
            onnx_cache.exported_onnx_dir(tiny_model_dir, cache)
    assert_released(made_locks, cache / "onnx" / onnx_cache.CACHE_LOCK)


def test_a_training_run_releases_its_folder_lock_when_it_fails(tmp_path, synthetic_datasets, tiny_kwargs, made_locks,
                                                               monkeypatch):
    from drywallqa.data.grouping import make_group_split
    from drywallqa.engine import trainer as trainer_mod
    from drywallqa.engine.config import TrainConfig
    from drywallqa.engine.run_folder import RUN_LOCK, run_in_use

    splits = tmp_path / "splits"
    make_group_split("syn_tape", synthetic_datasets, {"train": 0.5, "val": 0.25, "test": 0.25}, seed=0).to_json(
        splits / "syn_tape.json")
    run = tmp_path / "run"
    run.mkdir()
    cfg = TrainConfig.from_dict({
        "model_config": tiny_kwargs, "output_dir": str(run), "device": "cpu", "bf16": False,
        "data": {"datasets": ["syn_tape"], "datasets_dir": str(synthetic_datasets), "splits_dir": str(splits),
                 "cache_size": 72, "cache_dir": None}})
    monkeypatch.setattr(trainer_mod.Trainer, "_train", _boom)
    for _ in range(2):
        with pytest.raises(Boom):
            trainer_mod.Trainer(cfg, progress=False).train()
        assert not run_in_use(run)
    assert_released(made_locks, run / RUN_LOCK)
