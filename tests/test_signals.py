"""Stop signals (SIGTERM, SIGHUP) handled as Ctrl-C in every command, and held back while a state changes."""

import os
import signal

import pytest
from typer.testing import CliRunner

from drywallqa.cli import app
from drywallqa.utils.signals import InterruptOnStop, deferred_interrupt, stop_signals_as_interrupt


@pytest.fixture
def default_stop_signals():
    """SIGTERM and SIGHUP at their default handlers for the test, whatever ran pytest (nohup ignores SIGHUP)."""
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}
    for sig in before:
        signal.signal(sig, signal.SIG_DFL)
    yield
    for sig, handler in before.items():
        signal.signal(sig, handler)


def test_a_stop_signal_raises_keyboard_interrupt_and_the_handler_is_put_back(default_stop_signals):
    with pytest.raises(KeyboardInterrupt):
        with stop_signals_as_interrupt() as stop:
            os.kill(os.getpid(), signal.SIGTERM)
    assert stop.received == [signal.SIGTERM] and stop.name == "SIGTERM"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL and signal.getsignal(signal.SIGHUP) is signal.SIG_DFL


def test_a_handler_someone_else_set_is_left_alone(default_stop_signals):
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    with stop_signals_as_interrupt():
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        assert isinstance(signal.getsignal(signal.SIGTERM), InterruptOnStop)
        os.kill(os.getpid(), signal.SIGHUP)  # ignored, as before
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN


def test_a_stop_signal_in_a_step_s_updates_waits_for_their_end(default_stop_signals, python_sigint):
    done = []
    with pytest.raises(KeyboardInterrupt):
        with stop_signals_as_interrupt() as stop:
            with deferred_interrupt():
                os.kill(os.getpid(), signal.SIGTERM)
                done.append("after the signal")
            done.append("not reached")
    assert done == ["after the signal"] and stop.received == [signal.SIGTERM]


def test_sigterm_during_training_saves_the_checkpoint_and_exits_143(synthetic_datasets, syn_splits, tmp_path, tiny_kwargs,
                                                                    write_train_config, monkeypatch, default_stop_signals):
    """SIGTERM (``docker stop``, a scheduler) killed a training run at once: the steps since the last checkpoint were
    lost. Now it stops as Ctrl-C does: last.pt holds the step reached, and the exit code is SIGTERM's."""
    import torch

    from drywallqa.engine.trainer import Trainer

    step, calls = Trainer.train_step, []

    def stopped(self, batch):
        calls.append(1)
        losses = step(self, batch)
        if len(calls) == 3:  # once the third step is whole
            os.kill(os.getpid(), signal.SIGTERM)
        return losses

    monkeypatch.setattr(Trainer, "train_step", stopped)
    res = CliRunner().invoke(app, ["train", str(write_train_config("film_unet", tiny_kwargs)), "--overwrite"],
                             terminal_width=300)
    assert res.exit_code == 143 and "holds step 3" in res.output and "--resume" in res.output, res.output
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=False)["step"] == 3  # the step it was in, whole
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_ctrl_c_in_a_command_without_its_own_handling_is_one_line_not_aborted(tiny_model_dir, tmp_path, monkeypatch):
    """A Ctrl-C that a command does not handle itself ended with click's bare "Aborted!" and exit code 1."""
    import drywallqa.export.onnx as onnx_module

    def pressed(model_dir, out, opset=17, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(onnx_module, "_write_onnx", pressed)
    res = CliRunner().invoke(app, ["export", "onnx", "--model-path", str(tiny_model_dir), "--out", str(tmp_path / "onnx")],
                             terminal_width=300)
    assert res.exit_code == 130 and "Aborted" not in res.output, res.output
    assert "interrupted: stopped (Ctrl-C); the files finished are kept" in res.output


@pytest.mark.parametrize("moment", ["ray.init", "job"])
def test_sigterm_during_a_ray_job_stops_it_as_ctrl_c_does(tiny_model_dir, tmp_path, monkeypatch, default_stop_signals,
                                                          moment):
    """``ray.init`` sets a SIGTERM handler of its own (``sys.exit``): a ``predict --executor ray`` stopped by SIGTERM
    (while Ray started, or while the actors segmented) ended with exit code 15 and no results.json; and
    ``ray.shutdown`` left SIGTERM at its default, so one while the report was written ended the process at once. Ray
    is stood in for by what it does to the handlers."""
    import json
    import sys

    import ray
    import ray.data

    from drywallqa.engine import batch_ray
    from conftest import write_photos

    state = {"up": False}

    def init(*args, **kwargs):  # as Ray's: a SIGTERM ends the process with sys.exit
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(signum))
        if moment == "ray.init":
            os.kill(os.getpid(), signal.SIGTERM)
        state["up"] = True

    def shutdown():  # as Ray's leaves it: the system's default
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        state["up"] = False

    def job(items):  # SIGTERM while the actors segment
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("not stopped")

    handlers, finish = [], batch_ray.finish_job
    monkeypatch.setattr(ray, "init", init)
    monkeypatch.setattr(ray, "is_initialized", lambda: state["up"])
    monkeypatch.setattr(ray, "shutdown", shutdown)
    monkeypatch.setattr(ray.data, "from_items", job)
    monkeypatch.setattr(batch_ray, "finish_job",
                        lambda *a, **k: handlers.append(signal.getsignal(signal.SIGTERM)) or finish(*a, **k))
    photos = write_photos(tmp_path / "imgs", 2)
    res = CliRunner().invoke(app, ["predict", str(photos), "-p", "segment crack", "--out", str(tmp_path / "o"),
                                   "--model-path", str(tiny_model_dir), "--executor", "ray"], terminal_width=300)
    assert res.exit_code == 143 and "2 not done" in res.output, res.output
    assert len(json.loads((tmp_path / "o" / "results.json").read_text())["failed"]) == 2
    assert [type(h) for h in handlers] == [InterruptOnStop]  # the report written under the handler, not the default
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_the_command_starts_without_torch_and_the_package_names_load_on_first_use():
    """`import drywallqa` imported torch (seconds): `drywallqa --help` and each shell-completion TAB waited for it, and
    a Ctrl-C while any command started was a traceback (before the command's own clean stop). Now torch loads inside
    the command; `drywallqa.Segmenter` and the rest are imported on first use, as before for the user."""
    import subprocess
    import sys

    code = """
import sys, warnings
import drywallqa.cli
assert "torch" not in sys.modules, "torch imported by the command line's start"
import drywallqa
assert {"Segmenter", "TorchSegmenter", "SegmentationResult", "EncodedImage"} <= set(dir(drywallqa))
from drywallqa import Segmenter, TorchSegmenter
assert issubclass(TorchSegmenter, Segmenter) and drywallqa.Segmenter is Segmenter
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    assert drywallqa.EmbeddedSegmenter is TorchSegmenter
assert caught and issubclass(caught[0].category, DeprecationWarning)
try:
    drywallqa.NoSuchName
except AttributeError:
    pass
else:
    raise AssertionError("an unknown name was found")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_a_deprecated_package_name_warns_at_the_readers_line_under_the_default_filters():
    """With the package's names loaded on first use, the deprecation warning of `drywallqa.EmbeddedSegmenter` was
    attributed to drywallqa/__init__.py, and Python's default filters (DeprecationWarning shown for __main__ only)
    hid it from the script that read the name."""
    import subprocess
    import sys

    code = "import drywallqa\nx = drywallqa.EmbeddedSegmenter\n"
    done = subprocess.run([sys.executable, "-W", "default::DeprecationWarning:__main__", "-c", code],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "<string>:2: DeprecationWarning: drywallqa.EmbeddedSegmenter is deprecated" in done.stderr, done.stderr


def test_engine_predictor_names_still_read_with_a_warning():
    """engine/predictor.py moved to engine/torch_runtime.py in 0.6.29: its names (0.4's deprecated ones too) still
    read, with a DeprecationWarning naming the new home, for one more release."""
    import importlib

    from drywallqa.engine.segmenter import register_runtime
    from drywallqa.engine.torch_runtime import TorchSegmenter
    old = importlib.import_module("drywallqa.engine.predictor")
    for name, new in (("TorchSegmenter", TorchSegmenter), ("EmbeddedSegmenter", TorchSegmenter),
                      ("register_backend", register_runtime)):
        with pytest.warns(DeprecationWarning, match=f"drywallqa.engine.predictor.{name} is deprecated"):
            assert getattr(old, name) is new
    with pytest.raises(AttributeError):
        old.no_such_name


def test_utils_files_moved_names_still_read_with_a_warning():
    """0.6.29 split utils/files.py by concern: a name it held (strict_json, file_digest, lock_held, ...) still reads
    from it, with a DeprecationWarning naming its new module, for one more release."""
    from drywallqa.utils import files, formats, locks, stamps
    for name, new in (("strict_json", formats.strict_json), ("file_digest", stamps.file_digest),
                      ("lock_held", locks.lock_held)):
        with pytest.warns(DeprecationWarning, match=f"drywallqa.utils.files.{name} is deprecated: use drywallqa.utils"):
            assert getattr(files, name) is new
    with pytest.raises(AttributeError):
        files.no_such_name
