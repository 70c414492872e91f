"""Error paths the coverage run left unrun: each reached the way a user or a program reaches it, and its answer
checked to be the clean one intended."""
import errno
import io
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from drywallqa.cli import app
from drywallqa.utils import image_io
from drywallqa.utils.image_io import ImageReadError, find_images, read_image, read_mask, to_rgb_array


# ---------------------------------------------------------------- utils/image_io.py

def test_heif_plugin_absent_is_no_heif_not_an_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # an install without the optional package
    assert image_io._heif_plugin.__wrapped__() is False  # uncached: an earlier test of this worker may have asked


def test_cmyk_mask_reads_by_its_colour(tmp_path):
    path = tmp_path / "mask.tif"
    cmyk = np.zeros((6, 8, 4), np.uint8)
    cmyk[..., 3] = 255  # black background (K)
    cmyk[2:4, 3:6] = 0  # white (no ink): the foreground
    Image.fromarray(cmyk, "CMYK").save(path)  # a mask exported from an editor in CMYK
    mask = read_mask(path)
    assert mask.shape == (6, 8) and mask.sum() == 6 and mask[2:4, 3:6].all()


def test_truncated_photo_opened_lazily_is_an_image_read_error(tmp_path):
    path = tmp_path / "cut.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:200])
    img = Image.open(path)  # lazily: not decoded yet
    with pytest.raises(ImageReadError, match="cut.png: cannot be decoded"):
        to_rgb_array(img)


def test_a_pipe_in_a_folder_is_listed_as_skipped(tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "a.png")
    os.mkfifo(tmp_path / "pipe.jpg")
    listing = find_images([tmp_path])
    assert listing.images == [tmp_path / "a.png"]
    assert (str(tmp_path / "pipe.jpg"), "not a regular file") in listing.skipped


def test_a_folder_that_cannot_be_read_is_listed_as_skipped(tmp_path, monkeypatch):
    sub = tmp_path / "locked"
    sub.mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "a.png")
    real = os.scandir

    def scandir(folder):  # chmod 000 (this test may run as root, who reads it anyway)
        if os.fspath(folder) == os.fspath(sub):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(folder))
        return real(folder)

    monkeypatch.setattr(image_io.os, "scandir", scandir)
    listing = find_images([tmp_path])
    assert listing.images == [tmp_path / "a.png"]
    assert (str(sub), "folder cannot be read (Permission denied)") in listing.skipped


def test_a_path_that_cannot_be_looked_at_is_read_and_its_reason_named(tmp_path, monkeypatch):
    path = tmp_path / "x.jpg"
    real = image_io.Path.is_dir

    def is_dir(self):  # a path below a folder not entered (as no root): PermissionError from is_dir
        if self == path:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(image_io.Path, "is_dir", is_dir)
    listing = find_images([path])
    assert listing.images == [path] and listing.skipped == []


# ---------------------------------------------------------------- cli/common.py

def _one_line_error(res, *words):
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert "Traceback" not in res.output
    for word in words:
        assert word in res.output, res.output


def test_unknown_command_with_an_underscored_number_is_clicks_no_such_command():
    res = CliRunner().invoke(app, ["predictt", "--mm-per-px", "1_0", "x.jpg"])
    assert res.exit_code == 2
    _one_line_error(res, "No such command")
    res = CliRunner().invoke(app, ["data", "nosuch", "--val", "0_5"])
    assert res.exit_code == 2
    _one_line_error(res, "No such command")


def test_underscored_number_after_double_dash_is_a_photo_name_not_a_number(tmp_path):
    res = CliRunner().invoke(app, ["predict", "--out", str(tmp_path / "o"), "--", "--mm-per-px", "1_0"])
    assert "without '_'" not in res.output, res.output  # after "--" both are photo names
    assert res.exit_code in (1, 2) and "Traceback" not in res.output


def test_underscore_in_what_is_no_number_is_clicks_invalid_value(tmp_path):
    res = CliRunner().invoke(app, ["predict", "--mm-per-px", "1_x", "--out", str(tmp_path / "o"), "a.jpg"])
    assert res.exit_code == 2
    assert "without '_'" not in res.output and "Invalid value for '--mm-per-px'" in res.output, res.output


def test_a_disk_full_mid_command_is_one_line_and_exit_1(tiny_model_dir, monkeypatch):
    from drywallqa.cli import training

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tiny_model_dir / "prompt_gate.npz"))

    monkeypatch.setattr(training, "check_model_file", full)
    res = CliRunner().invoke(app, ["calibrate-gate", "--model-path", str(tiny_model_dir)])
    assert res.exit_code == 1
    _one_line_error(res, "cannot write: No space left on device", "prompt_gate.npz", "free some space")


def test_a_host_program_with_plain_streams_runs_a_command(monkeypatch):
    """A program calling the app itself with sys.stdout a StringIO (no reconfigure: contextlib.redirect_stdout, a
    notebook) and sys.stderr an object with no isatty: help is plain text, no AttributeError."""

    class Writer:
        def __init__(self):
            self.text = []

        def write(self, s):
            self.text.append(s)

        def flush(self):
            pass

    out, err = io.StringIO(), Writer()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    with pytest.raises(SystemExit) as stop:
        app(["data", "--help"], prog_name="drywallqa")
    assert stop.value.code == 0
    shown = out.getvalue()
    assert "stats" in shown and "╭" not in shown, shown  # click's plain help: Rich's box left out
    with pytest.raises(SystemExit) as stop:  # the callback reconfigures the streams: a StringIO has no reconfigure
        app(["data", "split", "--val", "2", "--out", "/nonexistent-h280"], prog_name="drywallqa")
    assert stop.value.code == 2


def test_calibrating_into_a_folder_not_writable_is_a_usage_error(tiny_model_dir, monkeypatch):
    from drywallqa.cli import common

    real = os.access
    monkeypatch.setattr(common.os, "access", lambda p, mode, *a, **k: False if (  # chmod a-w (as root: no use)
        os.fspath(p) == os.fspath(tiny_model_dir) and mode == os.W_OK) else real(p, mode, *a, **k))
    res = CliRunner().invoke(app, ["calibrate-gate", "--model-path", str(tiny_model_dir)])
    assert res.exit_code == 2
    _one_line_error(res, "is not writable")


def test_a_shipped_model_folder_absent_does_not_stop_a_calibration_check(tiny_model_dir, monkeypatch, tmp_path):
    from drywallqa.cli import common
    from drywallqa.models import shipped

    monkeypatch.setattr(shipped, "shipped_model_dir", lambda name=None: tmp_path / "not-installed" / str(name))
    target = common.check_model_file(tiny_model_dir, "prompt_gate.npz")  # samefile's FileNotFoundError: not it
    assert target == tiny_model_dir / "prompt_gate.npz"


# ---------------------------------------------------------------- cli/evaluation.py

@pytest.mark.parametrize("option, value, words", [("--limit", "0", "must be at least 1, got 0"),
                                                   ("--speed-images", "-1", "must be 0 (skip) or more, got -1")])
def test_evaluate_refuses_a_limit_below_one_and_negative_speed_images(tmp_path, option, value, words):
    res = CliRunner().invoke(app, ["evaluate", option, value, "--out", str(tmp_path / "e")])
    assert res.exit_code == 2
    _one_line_error(res, option, words)


def _evaluate_with(monkeypatch, tiny_model_dir, synthetic_datasets, out, run):
    from drywallqa.engine import evaluator

    monkeypatch.setattr(evaluator, "evaluate", run)
    return CliRunner().invoke(app, ["evaluate", "--model-path", str(tiny_model_dir), "-d", "syn_crack", "--splits",
                                    "published", "--out", str(out), "--speed-images", "0"])


def test_evaluate_stopped_after_its_report_is_written_says_the_report_is_whole(monkeypatch, tiny_model_dir,
                                                                                 synthetic_datasets, tmp_path):
    out = tmp_path / "e"

    def run(seg, out_dir, **kwargs):  # Ctrl-C between report.json's write and the command's end
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "report.json").write_text("{}")
        raise KeyboardInterrupt

    res = _evaluate_with(monkeypatch, tiny_model_dir, synthetic_datasets, out, run)
    assert res.exit_code == 130, res.output
    _one_line_error(res, "after the report was written", "report.json is whole")


def test_evaluate_says_each_warning_of_its_report(monkeypatch, tiny_model_dir, synthetic_datasets, tmp_path):
    out = tmp_path / "e"

    def run(seg, out_dir, **kwargs):
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "report.md").write_text("# report\n")
        return {"warnings": ["a prompt the model never learnt scores 0"], "failures": []}

    res = _evaluate_with(monkeypatch, tiny_model_dir, synthetic_datasets, out, run)
    assert res.exit_code == 0, res.output
    assert "warning:" in res.output and "never learnt scores 0" in res.output, res.output


def test_a_hub_model_named_by_its_id_has_no_folder_of_its_own_in_the_report(tmp_path, monkeypatch):
    from drywallqa.cli.evaluation import _scored_model_dir

    monkeypatch.chdir(tmp_path)
    assert _scored_model_dir("CIDAS/clipseg-rd64-refined", "clipseg", None) is None  # no such folder here
    assert _scored_model_dir("clipseg-rd64-refined", "clipseg", None) is None  # a bare name: FileNotFoundError


@pytest.mark.parametrize("error, code, words", [
    ("in_use", 1, "another export writes it"),
    ("oserror", 1, "cannot write"),
])
def test_export_onnx_ending_on_a_folder_in_use_or_unwritable_is_one_line(monkeypatch, tiny_model_dir, tmp_path,
                                                                         error, code, words):
    from drywallqa.engine.folder_writers import FolderInUse
    from drywallqa.export import onnx

    def export(source, out):
        if error == "in_use":
            raise FolderInUse(f"{out}: another export writes it now")
        raise OSError(errno.EACCES, "Permission denied", str(out))

    monkeypatch.setattr(onnx, "export_onnx", export)
    res = CliRunner().invoke(app, ["export", "onnx", "--model-path", str(tiny_model_dir), "--out", str(tmp_path / "x")])
    assert res.exit_code == code, res.output
    _one_line_error(res, "error:", words)


def test_an_animation_whose_later_frame_is_damaged_reads_its_first_frame_with_a_note(tmp_path):
    rng = np.random.default_rng(0)
    frames = [Image.fromarray(rng.integers(0, 255, (64, 64, 3), np.uint8)).convert("P") for _ in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    data = buffer.getvalue()
    path = tmp_path / "cut.gif"
    for cut in range(len(data) * 2 // 3, len(data)):  # cut inside a later frame: counting the frames fails
        probe = Image.open(io.BytesIO(data[:cut]))
        try:
            probe.n_frames
        except Exception:  # noqa: BLE001
            path.write_bytes(data[:cut])
            break
    assert path.exists()
    notes = []
    arr = read_image(path, notes=notes)
    assert arr.shape == (64, 64, 3)
    assert np.array_equal(arr, np.asarray(frames[0].convert("RGB")))
    assert any("several frames, of which only the first is read" in n for n in notes), notes


@pytest.mark.parametrize("opencv", ["none", "error", "other pixels"])
def test_sixteen_bit_colour_opencv_cannot_match_reads_8_bits_with_a_note(tmp_path, monkeypatch, opencv):
    import cv2

    rng = np.random.default_rng(1)
    deep = rng.integers(0, 65535, (12, 16, 3), np.uint16)
    path = tmp_path / "deep.png"
    assert cv2.imwrite(str(path), deep)

    def imdecode(data, flags):  # an OpenCV built without the codec, that fails, or that reads other pixels
        if opencv == "none":
            return None
        if opencv == "error":
            raise cv2.error("imdecode: no decoder")
        return np.zeros((12, 16, 3), np.uint16)

    monkeypatch.setattr(cv2, "imdecode", imdecode)
    notes = []
    arr = read_image(path, notes=notes)
    assert np.array_equal(arr, (deep[..., ::-1] >> 8).astype(np.uint8))  # Pillow's high bytes
    assert any("16-bit colour read as 8 bits only" in n for n in notes), notes


# ---------------------------------------------------------------- engine/batch_ray.py

def test_markers_of_a_folder_gone_or_a_marker_unreadable_name_no_photo(tmp_path):
    from drywallqa.engine.batch_ray import _marked

    assert _marked(tmp_path / "gone") == set()  # the job's markers folder removed (a second job's cleanup)
    (tmp_path / "1-abc").write_text("/photos/a.jpg")
    (tmp_path / "2-def").mkdir()  # not a file: read_text's IsADirectoryError
    assert _marked(tmp_path) == {"/photos/a.jpg"}


def test_an_actor_whose_marker_cannot_be_written_goes_on_with_a_warning(tmp_path, caplog):
    from drywallqa.engine.batch_ray import _RayPredictor

    actor = object.__new__(_RayPredictor)  # (its model is not needed to mark a photo)
    actor.marker = None
    actor._mark("/photos/a.jpg")  # a job without markers: nothing written
    assert list(tmp_path.iterdir()) == []
    actor.marker = tmp_path / "gone" / "1-abc"  # its folder removed
    with caplog.at_level("WARNING"):
        actor._mark("/photos/a.jpg")
    assert "could not write" in caplog.text and "1-abc" in caplog.text


def _one_connection_server(behaviour):
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def serve():
        conn, _ = server.accept()
        with conn:
            behaviour(conn)
        server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server.getsockname()[1], thread


def test_a_tls_ray_address_is_left_to_ray(monkeypatch):
    from drywallqa.engine.batch_ray import check_ray_reachable

    port, thread = _one_connection_server(lambda conn: conn.recv(64))  # takes the connection, says nothing
    monkeypatch.setenv("RAY_USE_TLS", "1")
    check_ray_reachable(f"127.0.0.1:{port}")  # not read: a TLS server answers to a TLS hello only
    thread.join(10)


def test_a_ray_address_that_resets_the_connection_is_no_ray_cluster(monkeypatch):
    import socket
    import struct

    from drywallqa.engine.batch_ray import check_ray_reachable

    def reset(conn):
        conn.recv(64)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with RST

    port, thread = _one_connection_server(reset)
    monkeypatch.delenv("RAY_USE_TLS", raising=False)
    with pytest.raises(ConnectionError, match="is no Ray cluster \\(it closes the connection\\)"):
        check_ray_reachable(f"127.0.0.1:{port}")
    thread.join(10)


# ---------------------------------------------------------------- engine/calibrate.py

def test_confidence_records_skip_a_damaged_photo_and_a_label_of_another_size_naming_each(synthetic_datasets,
                                                                                        tiny_model_dir):
    from drywallqa import Segmenter
    from drywallqa.data.sample import load_split
    from drywallqa.engine.calibrate import confidence_records
    from drywallqa.engine.evaluator import EvalSet

    samples = load_split("syn_crack", "train", synthetic_datasets)[0][:4]
    damaged, other_size = samples[0], samples[1]
    damaged.image_path.write_bytes(b"not a jpeg")  # damaged after the split was listed (a sync, a disk)
    Image.fromarray(np.zeros((40, 64, 3), np.uint8)).save(other_size.image_path)  # cropped after it was listed
    records, failures = confidence_records(Segmenter.load(tiny_model_dir), [EvalSet("train", "syn_crack", samples)],
                                           progress=False)
    assert len(records) == 2, failures
    assert len(failures) == 2 and str(damaged.image_path) in failures[0] and "not a readable image" in failures[0]
    assert failures[1] == f"{other_size.image_path}: image and label differ in size; skipped"


def test_a_model_folder_gone_has_no_stamp(tmp_path):
    from drywallqa.engine.calibrate import folder_stamp

    assert folder_stamp(tmp_path / "gone") == []  # removed meanwhile: no folder like the one calibrated


# ---------------------------------------------------------------- text/encoder.py

def _unit(dim=4, seed=0):
    v = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return v / np.linalg.norm(v)


def test_an_embedding_cache_held_by_another_writer_is_passed_over_for_the_call(tmp_path, caplog):
    import sqlite3

    from drywallqa.text.encoder import EmbeddingStore

    path = tmp_path / "e.sqlite"
    store = EmbeddingStore(path, timeout=0.05)
    store.put({"segment crack": _unit()})
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another process writes it (a long transaction)
    try:
        with caplog.at_level("WARNING"):
            assert store.get(["segment crack"]) == {}
        assert "is busy" in caplog.text and store.enabled  # this call only
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert set(store.get(["segment crack"])) == {"segment crack"}


def test_a_folder_in_place_of_the_embedding_cache_turns_it_off_with_a_warning(tmp_path, caplog):
    from drywallqa.text.encoder import EmbeddingStore

    path = tmp_path / "e.sqlite"
    path.mkdir()  # not a database file: sqlite3's "unable to open database file", an OperationalError
    store = EmbeddingStore(path)
    with caplog.at_level("WARNING"):
        store.put({"segment crack": _unit()})
        assert store.get(["segment crack"]) == {}
    assert not store.enabled and "cannot be used" in caplog.text and "encoded without it" in caplog.text
    assert path.is_dir() and not list(tmp_path.glob("*.broken"))  # the user's folder is not set aside


def test_a_damaged_embedding_cache_that_cannot_be_set_aside_is_turned_off(tmp_path, caplog, monkeypatch):
    from drywallqa.text import encoder
    from drywallqa.text.encoder import EmbeddingStore

    path = tmp_path / "e.sqlite"
    path.write_bytes(b"this is no database, it is text" * 100)

    def no_lock(*args, **kwargs):  # a read-only cache folder: its lock cannot be made (as root: chmod is no use)
        raise PermissionError(errno.EACCES, "Permission denied", str(path) + ".lock")

    monkeypatch.setattr(encoder, "FileLock", no_lock)
    store = EmbeddingStore(path)
    with caplog.at_level("WARNING"):
        assert store.get(["segment crack"]) == {}
    assert not store.enabled and "cannot be used" in caplog.text
    assert path.read_bytes().startswith(b"this is no database")  # left as it was


def test_an_embedding_cache_with_a_disk_io_error_is_set_aside_once_and_rebuilt(tmp_path, caplog, monkeypatch):
    import sqlite3

    from drywallqa.text import encoder
    from drywallqa.text.encoder import EmbeddingStore

    path = tmp_path / "e.sqlite"
    store = EmbeddingStore(path)
    store.put({"segment crack": _unit()})
    real, calls = sqlite3.connect, []

    def connect(*args, **kwargs):  # the first read meets a disk I/O error (SQLITE_IOERR: an OperationalError)
        calls.append(1)
        if len(calls) == 1:
            raise sqlite3.OperationalError("disk I/O error")
        return real(*args, **kwargs)

    monkeypatch.setattr(encoder.sqlite3, "connect", connect)
    with caplog.at_level("WARNING"):
        assert store.get(["segment crack"]) == {}  # the rebuilt store holds nothing yet: encoded again
    assert store.enabled and "is damaged" in caplog.text and len(list(tmp_path.glob("e.sqlite.*.broken"))) == 1
    store.put({"segment crack": _unit()})
    assert set(store.get(["segment crack"])) == {"segment crack"}


def test_an_embedding_store_asked_for_nothing_touches_no_file(tmp_path):
    from drywallqa.text.encoder import EmbeddingStore

    store = EmbeddingStore(tmp_path / "sub" / "e.sqlite")
    assert store.get([]) == {} and store.put({}) is None
    assert not (tmp_path / "sub").exists()


def test_an_encoder_without_a_disk_cache_lists_the_prompts_it_remembers():
    from drywallqa.text.encoder import TextEncoder

    enc = TextEncoder(cache_dir=False)
    assert enc.store is None and enc.cached_prompts() == []
    enc._remember({"segment crack": _unit(), "segment tape": _unit(seed=1)})
    assert enc.cached_prompts() == ["segment crack", "segment tape"]


# ---------------------------------------------------------------- models/hub.py

def test_a_hub_that_takes_the_connection_is_reachable():
    import socket

    from drywallqa.models.hub import hub_unreachable

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        endpoint = f"http://127.0.0.1:{server.getsockname()[1]}"
        try:
            assert hub_unreachable(endpoint) is None
        finally:
            hub_unreachable.cache_clear()


def test_a_cached_hub_model_whose_files_do_not_load_is_said_damaged_with_how_to_fetch_it_again(monkeypatch, tmp_path):
    from drywallqa.models.hub import load_hub_or_local

    monkeypatch.chdir(tmp_path)  # (no folder of that name here)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    class Loader:
        @staticmethod
        def from_pretrained(name, **kwargs):  # weights cut short in the cache: safetensors' own error kind
            raise RuntimeError("Error while deserializing header: MetadataIncompleteBuffer")

    with pytest.raises(OSError, match="from the Hugging Face cache: its files there are damaged") as info:
        load_hub_or_local(Loader, "owner/some-model", "the test model")
    assert "hf download owner/some-model --force-download" in str(info.value)
    assert "MetadataIncompleteBuffer" in str(info.value)


def test_a_model_without_a_prompt_length_limit_checks_no_prompt():
    from drywallqa.models.hub import check_prompt_lengths

    def tokenizer(text):
        raise AssertionError("not asked")

    for limit in (None, 0, True, "77"):
        check_prompt_lengths(tokenizer, {"segment crack": "a photo of crack"}, limit, "the model")


def test_the_weights_stamp_of_a_hub_id_is_read_from_its_snapshot_in_the_cache(monkeypatch, tmp_path):
    from huggingface_hub import constants

    from drywallqa.models.hub import weights_stamp

    cache = tmp_path / "hub"
    repo = cache / "models--owner--some-model"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    snapshot = repo / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (snapshot / "model.safetensors").write_bytes(b"weights")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.chdir(tmp_path)
    stamp = weights_stamp("owner/some-model")
    assert [name for name, _ in stamp] == ["model.safetensors"] and stamp[0][1]
    assert weights_stamp("owner/not-cached") == []
    assert weights_stamp("owner/no good id!") == []  # an id the client refuses: nothing cached


# ---------------------------------------------------------------- export/onnx.py

def test_check_exportable_leaves_a_folder_gone_or_damaged_to_the_loading(tmp_path):
    from drywallqa.export.onnx import check_exportable

    assert check_exportable(tmp_path / "gone") is None
    (tmp_path / "config.json").write_text("{ not json")
    assert check_exportable(tmp_path) is None


@pytest.mark.parametrize("config", [None, "{ cut", '["a list"]', '{"exported_from": ["a list"]}',
                                    '{"exported_from": {"folder": 3}}'])
def test_retrained_source_of_an_export_it_cannot_read_is_none(tmp_path, config):
    from drywallqa.export.onnx import retrained_source

    if config is not None:  # none, cut short, not an object, a record that is not one, a folder that is no path
        (tmp_path / "config.json").write_text(config)
    assert retrained_source(tmp_path) is None


def test_an_earlier_exports_config_damaged_meanwhile_carries_nothing(tmp_path, monkeypatch):
    from drywallqa.export import onnx

    earlier, new = tmp_path / "earlier", tmp_path / "new"
    earlier.mkdir()
    (earlier / "config.json").write_text("{ cut short")  # rewritten between the two reads
    monkeypatch.setattr(onnx, "is_onnx_export_dir", lambda path: True)
    assert onnx._carry_calibrations(earlier, new) == ([], [])


def test_an_earlier_exports_damaged_settings_are_dropped_with_a_warning_not_carried(tmp_path, caplog):
    import json

    from drywallqa.export import onnx

    earlier, new = tmp_path / "earlier", tmp_path / "new"
    earlier.mkdir()
    new.mkdir()
    record = {"settings": "not these", "weights": "w", "copied": {}}
    (earlier / "config.json").write_text(json.dumps({"runtime": "onnx", "threshold": "high", "exported_from": record}))
    (new / "config.json").write_text(json.dumps({"runtime": "onnx", "threshold": 0.5,
                                                 "exported_from": {"settings": "s", "weights": "w", "copied": {}}}))
    with caplog.at_level("WARNING"):
        kept, dropped = onnx._carry_calibrations(earlier, new)
    assert kept == [] and dropped == ["config.json's settings"]
    assert "dropped config.json's settings, damaged" in caplog.text
    assert json.loads((new / "config.json").read_text())["threshold"] == 0.5  # the new export's own


# ---------------------------------------------------------------- export/onnx_cache.py

def test_a_read_only_export_cache_is_used_without_its_lock(tmp_path, monkeypatch):
    import contextlib

    from drywallqa.export import onnx_cache

    monkeypatch.setattr(onnx_cache.os, "access", lambda path, mode: False)  # a read-only copy (as root: chmod no use)
    lock = onnx_cache._cache_lock(tmp_path)
    assert isinstance(lock, contextlib.nullcontext)
    with lock:
        pass
    assert list(tmp_path.iterdir()) == []  # no lock file made


# ---------------------------------------------------------------- cli/serving.py

def test_serve_on_a_host_name_that_cannot_be_encoded_is_a_usage_error(tiny_model_dir, monkeypatch):
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("the server must not start"))
    res = CliRunner().invoke(app, ["serve", "--model-path", str(tiny_model_dir), "--host", "a..b", "--port", "0"])
    assert res.exit_code == 2, res.output
    _one_line_error(res, "cannot resolve 'a..b'", "--host")


def test_serve_stopped_by_ctrl_c_ends_normally(tiny_model_dir, monkeypatch):
    import uvicorn

    def run(*args, **kwargs):  # uvicorn raises the Ctrl-C again once it has shut down
        raise KeyboardInterrupt

    monkeypatch.setattr(uvicorn, "run", run)
    res = CliRunner().invoke(app, ["serve", "--model-path", str(tiny_model_dir), "--host", "127.0.0.1", "--port", "0"])
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output


# ---------------------------------------------------------------- utils/files.py

def test_a_folder_replace_whose_new_folder_cannot_be_moved_in_puts_the_old_one_back(tmp_path):
    from drywallqa.utils.files import replace_dir

    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "kept.txt").write_text("earlier")
    with pytest.raises(OSError):
        replace_dir(tmp_path / "gone", dest)  # the new folder removed meanwhile (a cleaning): ENOENT
    assert (dest / "kept.txt").read_text() == "earlier"
    assert not (tmp_path / ".out.replaced").exists()


def test_ctrl_c_while_a_temporary_file_is_locked_leaves_no_temporary(tmp_path, monkeypatch):
    from drywallqa.utils import files

    def flock(fd, how):
        raise KeyboardInterrupt

    monkeypatch.setattr(files.fcntl, "flock", flock)
    with pytest.raises(KeyboardInterrupt):
        files.write_text_atomic("x", tmp_path / "a.txt")
    assert list(tmp_path.iterdir()) == []


def test_a_temporary_gone_before_it_is_cleaned_is_not_counted(tmp_path):
    from drywallqa.utils.files import _remove_abandoned

    assert _remove_abandoned(tmp_path / ".a.txt.123-abc.tmp") is False


# ---------------------------------------------------------------- utils/formats.py

def test_strict_json_of_an_array_of_several_values(tmp_path):
    from drywallqa.utils.formats import strict_json

    with pytest.raises(ValueError, match=r"config\.sizes: ndarray of shape \(2,\) cannot be written as JSON"):
        strict_json({"config": {"sizes": np.array([1, 2])}}, round_trip=True)
    with pytest.raises(ValueError):  # not round_trip: numpy's own refusal, as it was
        strict_json({"sizes": np.array([1, 2])})
    assert strict_json({"one": np.array([3])}, indent=None) == '{"one": 3}'


# ---------------------------------------------------------------- utils/locks.py

def test_made_folders_holding_something_are_left(tmp_path):
    from drywallqa.utils.locks import folders_to_make, remove_made_folders

    deep = tmp_path / "a" / "b"
    made = folders_to_make(deep)
    deep.mkdir(parents=True)
    (tmp_path / "a" / "theirs.txt").write_text("x")
    remove_made_folders(made)
    assert not deep.exists() and (tmp_path / "a" / "theirs.txt").exists()


def test_a_lock_folder_removed_within_the_block_is_no_error(tmp_path):
    import shutil

    from drywallqa.utils.locks import folder_lock

    folder = tmp_path / "out"
    with folder_lock(folder, ".lock", "test run", "choose another --out"):
        shutil.rmtree(folder)  # removed by the user meanwhile: iterdir's FileNotFoundError as the block ends
    assert not folder.exists()


def test_a_lock_file_this_user_cannot_open_counts_as_not_held(tmp_path, monkeypatch):
    from drywallqa.utils import locks

    (tmp_path / ".lock").write_text("")

    class Unopenable:  # another user's lock file, mode 600 (as root: a stand-in)
        def __init__(self, *args, **kwargs):
            pass

        def acquire(self):
            raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(locks, "FileLock", Unopenable)
    assert locks.lock_held(tmp_path / ".lock") is False


def test_another_users_process_counts_as_alive(monkeypatch):
    from drywallqa.utils import locks

    def kill(pid, sig):
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(locks.os, "kill", kill)
    assert locks.process_alive(1) is True


# ---------------------------------------------------------------- utils/progress.py

def test_a_bar_whose_reader_has_gone_at_its_flush_goes_on(monkeypatch):
    from drywallqa.utils import progress

    class Gone(io.StringIO):
        def flush(self):
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    dropped = []
    monkeypatch.setattr(progress, "drop_output", dropped.append)
    stream = Gone()
    progress.LogLines(stream).flush()
    assert dropped == [stream]


def test_output_of_a_stream_with_no_descriptor_is_dropped_without_error():
    from drywallqa.utils.progress import drop_output, is_terminal

    drop_output(io.StringIO())  # io.UnsupportedOperation (an OSError) from fileno: nothing to point
    closed = io.StringIO()
    closed.close()
    assert is_terminal(closed) is False and is_terminal(object()) is False


# ---------------------------------------------------------------- utils/checks.py

def test_number_in_range_of_text_says_what_is_wanted():
    from drywallqa.utils.checks import number_in_range

    with pytest.raises(ValueError, match=r"threshold must be a number in \[0, 1\], got 'high'"):
        number_in_range("high", "threshold", 0, 1)
    with pytest.raises(ValueError, match="got None"):
        number_in_range(None, "threshold", 0, 1)


@pytest.mark.parametrize("device, words", [("mps", "has no MPS"), ("xla", "device must be auto, cpu, cuda"),
                                           ("torch:meta", "device must be auto, cpu, cuda")])
def test_a_device_this_machine_lacks_or_no_device_is_a_clear_error(device, words):
    import torch

    from drywallqa.utils.checks import resolve_device

    if device == "mps" and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    if device.startswith("torch:"):  # a torch.device a program passes: not a name checked as text
        device = torch.device(device.split(":", 1)[1])
    with pytest.raises(ValueError, match=words):
        resolve_device(device)


# ---------------------------------------------------------------- utils/signals.py

def test_signal_helpers_outside_the_main_thread_change_nothing():
    import signal
    import threading

    from drywallqa.utils.signals import signal_handlers_kept, stop_signals_as_interrupt

    before, seen = signal.getsignal(signal.SIGTERM), []

    def work():
        with stop_signals_as_interrupt() as stop:
            seen.append(stop.received)
        with signal_handlers_kept():
            seen.append("kept")

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(30)
    assert seen == [[], "kept"] and signal.getsignal(signal.SIGTERM) is before


def test_a_program_exit_within_kept_handlers_is_raised_as_it_is():
    from drywallqa.utils.signals import signal_handlers_kept

    with pytest.raises(SystemExit) as stop:
        with signal_handlers_kept():
            raise SystemExit(3)  # no stop signal's code: the program's own exit
    assert stop.value.code == 3


# ---------------------------------------------------------------- text/vocabulary.py

def test_vocabulary_of_short_words_keys_off_the_keyboard_and_bad_parts():
    import random

    from drywallqa.text.vocabulary import _neighbours, misspellings, paraphrases, unrelated

    assert _neighbours("é") == "" and _neighbours("1") == ""
    assert misspellings("gap", random.Random(0)) == []  # under 4 letters: no slip made
    with pytest.raises(ValueError, match="part must be one of"):
        paraphrases("crack", "testing")
    with pytest.raises(ValueError, match="part must be one of"):
        unrelated("testing")


def _stub_export(monkeypatch, also=None):
    from drywallqa.export import onnx_cache
    from drywallqa.export.onnx import EXPORT_FILES

    calls = []

    def write_onnx(snapshot, out):  # the graphs, without torch's export
        calls.append(out)
        for name in EXPORT_FILES:
            (Path(out) / name).write_text("graph")
        if also is not None:
            also()

    monkeypatch.setattr(onnx_cache, "_write_onnx", write_onnx)
    return calls


def test_a_cached_export_removed_as_it_is_found_is_exported_again(tmp_path, monkeypatch):
    from drywallqa.export import onnx_cache
    from drywallqa.export.onnx import EXPORT_FILES

    target = tmp_path / "onnx" / "0123456789abcdef"
    target.mkdir(parents=True)
    for name in EXPORT_FILES:
        (target / name).write_text("old graph")

    def utime(path, *args, **kwargs):  # a prune of another process removed it between the look and the mark
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(path))

    monkeypatch.setattr(onnx_cache.os, "utime", utime)
    calls = _stub_export(monkeypatch)
    assert onnx_cache._cached_export({"config.json": b"{}"}, tmp_path / "model", target) == target
    assert len(calls) == 1 and all((target / n).read_text() == "graph" for n in EXPORT_FILES)


@pytest.mark.parametrize("whole", [True, False])
def test_an_export_another_process_finished_first_is_used_and_a_half_one_is_an_error(tmp_path, monkeypatch, whole):
    from drywallqa.export import onnx_cache
    from drywallqa.export.onnx import EXPORT_FILES

    target = tmp_path / "onnx" / "0123456789abcdef"
    target.parent.mkdir()

    def other_process_finishes():  # its export renamed into place while this one exported
        target.mkdir()
        for name in EXPORT_FILES[:None if whole else 1]:
            (target / name).write_text("their graph")

    _stub_export(monkeypatch, also=other_process_finishes)
    if whole:
        assert onnx_cache._cached_export({"config.json": b"{}"}, tmp_path / "model", target) == target
        assert all((target / n).read_text() == "their graph" for n in EXPORT_FILES)
    else:
        with pytest.raises(OSError):
            onnx_cache._cached_export({"config.json": b"{}"}, tmp_path / "model", target)
    assert [p.name for p in target.parent.iterdir() if p.name.startswith(".") and p.is_dir()] == []  # no temporary


def test_an_export_error_naming_its_snapshot_names_the_model_folder_where_it_can(tmp_path, monkeypatch):
    from drywallqa.export import onnx_cache

    class OddError(ValueError):  # an error type made with other arguments (json's JSONDecodeError: msg, doc, pos)
        def __init__(self, msg, where):
            super().__init__(msg)

    snapshot = tmp_path / "tmp" / ".source"
    errors = iter([ValueError("a setting is wrong"), ValueError(f"{snapshot}/config.json: damaged"),
                   OddError(f"{snapshot}/config.json: odd", 1)])

    def write_onnx(snapshot_dir, out):
        raise next(errors)

    monkeypatch.setattr(onnx_cache, "_write_onnx", write_onnx)
    (tmp_path / "tmp").mkdir()
    with pytest.raises(ValueError, match="^a setting is wrong$"):  # naming no snapshot: as it is
        onnx_cache._export_copy({}, tmp_path / "model", tmp_path / "out", snapshot)
    snapshot.rmdir()
    with pytest.raises(ValueError, match=f"^{tmp_path / 'model'}/config.json: damaged$"):
        onnx_cache._export_copy({}, tmp_path / "model", tmp_path / "out", snapshot)
    snapshot.rmdir()
    with pytest.raises(OddError, match="config.json: odd"):  # cannot be made again: as it was
        onnx_cache._export_copy({}, tmp_path / "model", tmp_path / "out", snapshot)


def test_a_photo_over_pillows_own_limit_with_a_higher_max_pixels_names_pillows_limit(tmp_path, monkeypatch):
    from drywallqa.utils.image_io import ImageTooLargeError

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # (89 M pixels as shipped: 179 M decoded at most)
    path = tmp_path / "big.png"
    Image.new("RGB", (20, 20)).save(path)
    with pytest.raises(ImageTooLargeError, match=r"big.png: more pixels than Pillow decodes \(200\)"):
        read_image(path, max_pixels=10**6)  # --max-pixels above what Pillow decodes


def test_the_signature_of_a_file_that_cannot_be_read_is_none(tmp_path):
    closed = io.BytesIO(b"\x89PNG\r\n\x1a\n")
    closed.close()
    assert image_io._signature(tmp_path / "gone.png") is None and image_io._signature(closed) is None


def test_a_smooth_sixteen_bit_png_with_an_exif_turn_is_read_turned(tmp_path):
    """Its high bytes all alike, OpenCV's pixels fit Pillow's both as stored and turned: a PNG's are OpenCV's as stored,
    turned by the EXIF orientation (180 degrees) as Pillow turns it."""
    import struct
    import zlib

    import cv2

    deep = np.full((8, 6, 3), 0x1000, np.uint16)
    deep[4:] = 0x10FF  # the stored bottom half a level brighter once read as 8 bits
    data = cv2.imencode(".png", deep)[1].tobytes()
    exif = Image.Exif()
    exif[0x0112] = 3  # orientation: turned 180 degrees
    body = exif.tobytes().removeprefix(b"Exif\x00\x00")
    chunk = struct.pack(">I", len(body)) + b"eXIf" + body + struct.pack(">I", zlib.crc32(b"eXIf" + body))
    path = tmp_path / "turned.png"
    path.write_bytes(data[:33] + chunk + data[33:])  # after the signature and IHDR
    arr = read_image(path)
    assert arr.shape == (8, 6, 3)
    assert (arr[:4] > arr[4:]).all()  # upright: the stored bottom half on top


def test_a_palette_mask_of_no_pixels_has_no_ignored_pixels():
    assert image_io.palette_ignored(Image.new("P", (0, 0))) is None
    assert np.asarray(Image.new("P", (3, 2))).dtype == np.uint8  # what palette_ignored counts needs no other type


def test_a_hidden_command_is_not_listed_in_plain_help():
    import click

    from drywallqa.cli.common import ListedCommands

    group = ListedCommands(name="tools")
    group.add_command(click.Command("shown", help="Shown.\n\nMore."))
    group.add_command(click.Command("secret", help="Hidden.", hidden=True))
    with click.Context(group) as ctx:
        formatter = ctx.make_formatter()
        group.format_commands(ctx, formatter)
    text = formatter.getvalue()
    assert "shown" in text and "Shown." in text and "More." not in text and "secret" not in text


def test_a_damaged_embedding_cache_whose_journal_cannot_be_moved_is_set_aside_all_the_same(tmp_path, caplog,
                                                                                            monkeypatch):
    from drywallqa.text import encoder
    from drywallqa.text.encoder import EmbeddingStore

    path = tmp_path / "e.sqlite"
    path.write_bytes(b"this is no database, it is text" * 100)
    journal = tmp_path / "e.sqlite-journal"
    journal.write_bytes(b"")
    real = encoder.Path.replace

    def replace(self, target):  # the journal held by a process on another machine (a network folder)
        if self == journal:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self, target)

    monkeypatch.setattr(encoder.Path, "replace", replace)
    store = EmbeddingStore(path)
    with caplog.at_level("WARNING"):
        store.put({"segment crack": _unit()})
    assert store.enabled and "is damaged" in caplog.text
    assert len(list(tmp_path.glob("e.sqlite.*.broken"))) == 1
    assert set(store.get(["segment crack"])) == {"segment crack"}


def test_an_export_removed_while_the_cache_is_pruned_is_passed_over(tmp_path, monkeypatch):
    from drywallqa.export import onnx_cache

    root = tmp_path / "onnx"
    gone, kept = root / "0123456789abcdef", root / "fedcba9876543210"
    gone.mkdir(parents=True)
    kept.mkdir()
    real, looks = onnx_cache.Path.stat, []

    def stat(self, *args, **kwargs):  # removed by another user's prune between is_dir() and the look at its time
        if self == gone:
            looks.append(1)
            if len(looks) > 1:
                raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(onnx_cache.Path, "stat", stat)
    assert onnx_cache.prune_export_cache(root) == []
    assert kept.is_dir() and len(looks) == 2


def test_a_replaced_folder_put_back_by_another_process_first_is_not_put_back_again(tmp_path, monkeypatch):
    from drywallqa.utils import files

    dest = tmp_path / "out"
    aside = tmp_path / ".out.replaced"
    aside.mkdir()
    real = files.Path.rename

    def rename(self, target):  # another process's restore_replaced renamed it first
        if self == aside:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(self))
        return real(self, target)

    monkeypatch.setattr(files.Path, "rename", rename)
    assert files.restore_replaced(dest) is False


@pytest.mark.parametrize("code, text", [(errno.EIO, "Input/output error"), (errno.ESTALE, "Stale file handle"),
                                        (errno.ENOTCONN, "Transport endpoint is not connected")])
def test_a_failing_disk_or_a_lost_network_folder_mid_command_is_one_line_and_exit_1(tiny_model_dir, monkeypatch,
                                                                                     code, text):
    """cli/common: an OSError of no storage errno the CLI knew (EIO of a failing disk, ESTALE/ENOTCONN of an NFS or FUSE
    mount lost mid-command) ended the command in a traceback. One line naming the file, exit 1, as a full disk."""
    from drywallqa.cli import training

    def failing(*args, **kwargs):
        raise OSError(code, text, str(tiny_model_dir / "prompt_gate.npz"))

    monkeypatch.setattr(training, "check_model_file", failing)
    res = CliRunner().invoke(app, ["calibrate-gate", "--model-path", str(tiny_model_dir)])
    assert res.exit_code == 1, res.output
    _one_line_error(res, f"cannot read or write: {text}", "prompt_gate.npz", "check the disk or the mount")
