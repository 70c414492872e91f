"""Ray jobs that cannot run (actors that cannot load the model, an address where no Ray answers) and scripts stopped
by Ctrl-C: each a clean error, nothing half-written."""

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from drywallqa import Segmenter
from drywallqa.cli import app

from conftest import write_photos, says


def _broken_copy(model_dir, tmp_path) -> Path:
    """A copy of ``model_dir`` without its weights: what a Ray worker finds where a file of the model is missing."""
    broken = tmp_path / "broken_model"
    broken.mkdir()
    shutil.copy(Path(model_dir) / "config.json", broken)
    return broken


def _ray_data_played_here(monkeypatch) -> list:
    """Ray Data played in this process: the actor made as the job maps its batches (its model loaded here), each batch
    of ``batch_size`` photos given to it; returns the actors made."""
    ray = pytest.importorskip("ray")

    actors = []

    class Dataset:
        def __init__(self, items):
            self.items = items

        def map_batches(self, cls, fn_constructor_kwargs, batch_size, **kwargs):
            self.actor, self.size = cls(**fn_constructor_kwargs), batch_size
            actors.append(self.actor)
            return self

        def take_all(self):
            rows = []
            for i in range(0, len(self.items), self.size):
                out = self.actor({"path": [item["path"] for item in self.items[i:i + self.size]]})
                rows += [dict(zip(out, row)) for row in zip(*out.values())]
            return rows

    monkeypatch.setattr(ray, "is_initialized", lambda: True)
    monkeypatch.setattr(ray.data, "from_items", Dataset)
    return actors


def test_ray_actors_that_cannot_load_the_model_are_one_clean_error_and_write_nothing(tiny_model_dir, tmp_path):
    """The model loads here but not in the actors (a file of it missing on a worker): Ray logged its long traceback of
    the actor's death and every photo was failed with it in a results.json. Now a RayModelError (a ValueError) naming
    the model and the cause, and no results.json (as where the model does not load at all). A real local Ray."""
    pytest.importorskip("ray")
    from drywallqa.engine.batch_ray import RayModelError, predict_paths_ray

    photos = write_photos(tmp_path / "photos", 2)
    broken, out = _broken_copy(tiny_model_dir, tmp_path), tmp_path / "out"
    with pytest.raises(RayModelError) as info:
        predict_paths_ray(broken, [photos], ["segment crack"], out, segmenter=Segmenter.load(tiny_model_dir))
    assert isinstance(info.value, ValueError) and "\n" not in str(info.value)
    assert str(broken) in str(info.value) and "model.safetensors" in str(info.value)
    assert sorted(f.name for f in out.iterdir()) == [".drywallqa-output"]  # no results.json, no markers left


def test_cli_ray_actors_that_cannot_load_the_model_exit_2_and_leave_no_output_folder(tiny_model_dir, tmp_path,
                                                                                    monkeypatch):
    """`predict --executor ray` whose actors cannot load --model-path (here: the folder loaded in this process is
    another, as on a cluster whose nodes lack it) ends as a --model-path that does not load ends: exit 2, one line
    naming the model and the cause, no output folder left behind; a folder there before keeps what it held."""
    from drywallqa.cli import prediction

    actors = _ray_data_played_here(monkeypatch)
    photos = write_photos(tmp_path / "photos", 3)
    broken = _broken_copy(tiny_model_dir, tmp_path)
    monkeypatch.setattr(prediction, "load_segmenter_with", lambda path, kwargs: Segmenter.load(tiny_model_dir, **kwargs))
    out = tmp_path / "made" / "out"
    args = ["predict", str(photos), "-p", "segment crack", "--out", str(out), "--executor", "ray", "--model-path",
            str(broken)]
    res = CliRunner().invoke(app, args, terminal_width=300)
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output
    assert says(res.output, "--model-path", f"could not load the model {broken}", "model.safetensors"), res.output
    assert len(actors) == 1 and not (tmp_path / "made").exists()
    # a folder of an earlier job: its results.json is not replaced by one naming every photo not done
    out.mkdir(parents=True)
    earlier = {"prompts": ["segment crack"], "images": [], "failed": [], "earlier": True}  # (a batch job's results)
    (out / "results.json").write_text(json.dumps(earlier))
    res = CliRunner().invoke(app, args, terminal_width=300)
    assert res.exit_code == 2 and json.loads((out / "results.json").read_text()) == earlier
    assert sorted(f.name for f in out.iterdir()) == [".drywallqa-output", "results.json"]


def test_ray_actors_some_of_which_cannot_load_the_model_keep_the_photos_the_others_did(tiny_model_dir, tmp_path,
                                                                                     monkeypatch):
    """Of a pool whose actors on one node cannot load the model, the photos done by the others are kept; the rest are
    named not done with the cause, for a rerun (no exception: results.json lists them)."""
    from drywallqa.engine import batch_ray

    ray = pytest.importorskip("ray")
    photos = write_photos(tmp_path / "photos", 4)
    broken = _broken_copy(tiny_model_dir, tmp_path)

    class Dataset:  # two actors, the first on a node without the model
        def __init__(self, items):
            self.items = items

        def map_batches(self, cls, fn_constructor_kwargs, batch_size, **kwargs):
            self.actors = [cls(**{**fn_constructor_kwargs, "model_path": m}) for m in (broken, tiny_model_dir)]
            return self

        def take_all(self):
            rows = []
            for i, item in enumerate(self.items):
                out = self.actors[i % 2]({"path": [item["path"]]})
                rows += [dict(zip(out, row)) for row in zip(*out.values())]
            return rows

    monkeypatch.setattr(ray, "is_initialized", lambda: True)
    monkeypatch.setattr(ray.data, "from_items", Dataset)
    summary = batch_ray.predict_paths_ray(tiny_model_dir, [photos], ["segment crack"], tmp_path / "out")
    assert summary.done == [str(photos / "p1.jpg"), str(photos / "p3.jpg")]
    assert [p for p, _ in summary.failed] == [str(photos / "p0.jpg"), str(photos / "p2.jpg")]
    assert all(why.startswith("not done: a Ray worker could not load the model (") and "model.safetensors" in why
               for _, why in summary.failed), summary.failed
    assert len(json.loads((tmp_path / "out" / "results.json").read_text())["failed"]) == 2


def _serving(handler_class):
    """An HTTP server of ``handler_class`` on a free local port, in a thread; returns it (``server_address``)."""
    import threading
    from http.server import ThreadingHTTPServer

    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_ray_address_of_a_web_server_is_a_clean_error_not_a_hang(tiny_model_dir, tmp_path, monkeypatch):
    """RAY_ADDRESS naming a port where a web server listens (a dashboard's, 8265, for the head's): it takes the
    connection, so ray.init was called, and it waited for Ray's answer for ever (the command silent but Ray's log
    lines). Now the job ends at once as for an address where nothing listens: each photo not done with the cause, exit
    1, one line."""
    from http.server import SimpleHTTPRequestHandler

    ray = pytest.importorskip("ray")
    server = _serving(SimpleHTTPRequestHandler)
    try:
        address = f"127.0.0.1:{server.server_address[1]}"
        monkeypatch.setenv("RAY_ADDRESS", address)
        monkeypatch.setattr(ray, "is_initialized", lambda: False)
        monkeypatch.setattr(ray, "init", lambda *a, **k: pytest.fail("ray.init called for an address of no Ray"))
        photos, out = write_photos(tmp_path / "photos", 2), tmp_path / "out"
        res = CliRunner().invoke(app, ["predict", str(photos), "-p", "segment crack", "--out", str(out),
                                       "--model-path", str(tiny_model_dir), "--executor", "ray"], terminal_width=300)
    finally:
        server.shutdown()
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    failed = json.loads((out / "results.json").read_text())["failed"]
    assert len(failed) == 2 and all(f"ConnectionError: {address} is no Ray cluster (it answers, not as Ray's servers do" in why
                                    for _, why in failed), failed


def test_a_ray_address_that_takes_connections_and_says_nothing_ends_in_bounded_time(tiny_model_dir, tmp_path,
                                                                                   monkeypatch):
    """A port that takes connections and never answers (a listening socket nobody serves): ends after
    RAY_CONNECT_TIMEOUT_S, each photo named not done with the cause; from Python too."""
    import socket

    from drywallqa.engine import batch_ray

    ray = pytest.importorskip("ray")
    monkeypatch.setattr(batch_ray, "RAY_CONNECT_TIMEOUT_S", 1)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda *a, **k: pytest.fail("ray.init called for an address of no Ray"))
    photos = write_photos(tmp_path / "photos", 2)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections taken by the system, never accepted nor answered
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        summary = batch_ray.predict_paths_ray(tiny_model_dir, [photos], ["segment crack"], tmp_path / "out",
                                              ray_address=address)
    assert not summary.done and len(summary.failed) == 2
    assert all(f"{address} takes a connection but says nothing within 1 s" in why for _, why in summary.failed)


def test_a_ray_clusters_address_passes_the_check(tmp_path):
    """The check before ray.init lets a real Ray's address through (its GCS answers as HTTP/2 does), and one served by
    another HTTP/2 server's preface too; it refuses one that closes the connection at once."""
    import socket
    import threading

    ray = pytest.importorskip("ray")
    from drywallqa.engine.batch_ray import check_ray_reachable
    from drywallqa.utils.signals import signal_handlers_kept

    def one_connection(server, answer):
        conn, _ = server.accept()
        with conn:
            conn.recv(64)
            conn.sendall(answer)

    for answer, ok in ((bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]), True), (b"", False)):
        with socket.socket() as server:
            server.bind(("127.0.0.1", 0))
            server.listen(1)
            answering = threading.Thread(target=one_connection, args=(server, answer), daemon=True)
            answering.start()
            address = f"127.0.0.1:{server.getsockname()[1]}"
            if ok:
                check_ray_reachable(address)
            else:
                with pytest.raises(ConnectionError, match="it closes the connection"):
                    check_ray_reachable(address)
            answering.join(5)
    started = not ray.is_initialized()
    # the stop signals' handlers kept, as predict_paths_ray keeps them: ray.init's SIGTERM handler (sys.exit) was left
    # in this test process, and a later test's server stopped by SIGHUP exited 15 (the test files share a process)
    with signal_handlers_kept():
        if started:
            ray.init(include_dashboard=False, log_to_driver=False, num_cpus=1)
        try:
            check_ray_reachable(ray.get_runtime_context().gcs_address)
        finally:
            if started:
                ray.shutdown()


ROOT = Path(__file__).parents[1]
SCRIPTS = sorted([*ROOT.glob("scripts/*.py"), *ROOT.glob("benchmarks/*.py")])


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_script_stopped_by_ctrl_c_says_one_line_and_exits_130(script, monkeypatch, capsys):
    """Ctrl-C while a script's main runs (here: as it reads its arguments) was a KeyboardInterrupt traceback, exit 1.
    Now every script in scripts/ and benchmarks/ ends as a drywallqa command does: one "interrupted:" line on
    standard error, exit 130."""
    import argparse
    import runpy
    import sys

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", ctrl_c)
    monkeypatch.setattr(argparse.ArgumentParser, "parse_known_args", ctrl_c)
    monkeypatch.setattr(sys, "argv", [str(script)])
    monkeypatch.setattr(sys, "path", list(sys.path))  # (gpu_run puts src/ and scripts/ in front)
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exc:
        code = exc.code
    except KeyboardInterrupt:
        pytest.fail(f"{script.name}: the KeyboardInterrupt came out of the script (a traceback)")
    else:
        pytest.fail(f"{script.name}: no exit")
    err = capsys.readouterr().err
    assert code == 130 and err.startswith("interrupted: stopped (Ctrl-C)") and err.count("\n") == 1, (code, err)


@pytest.mark.parametrize("sig, code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_script_stopped_by_a_signal_in_its_own_process_exits_as_a_command_does(sig, code, tmp_path):
    """A real signal to a script's process (Ctrl-C, `kill`): one line, no traceback, 130 or 143 (128 + SIGTERM)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    run = ("import argparse, os, runpy, signal, sys, time\n"
           # Ctrl-C as in a terminal: a pytest started with & by a shell without job control has SIGINT ignored, and
           # an ignored signal stays ignored in the process it starts (the script slept on, then read no arguments)
           "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
           "def stopped(*a, **k):\n"
           f"    os.kill(os.getpid(), signal.{sig})\n"
           "    time.sleep(30)\n"
           "argparse.ArgumentParser.parse_args = stopped\n"
           "sys.argv = [sys.argv[1]]\n"
           "runpy.run_path(sys.argv[0], run_name='__main__')\n")
    done = subprocess.run([sys.executable, "-c", run, str(ROOT / "benchmarks" / "compare_reports.py")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert done.returncode == code and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.splitlines() == [f"interrupted: stopped ({'Ctrl-C' if sig == 'SIGINT' else sig}); the files "
                                        "finished are kept (each is written whole or not at all): run the same "
                                        "command again"], done.stderr


def test_a_pack_stopped_part_way_leaves_the_earlier_pack_and_no_half_one(write_train_config, tiny_kwargs, tmp_path,
                                                                         load_script, monkeypatch):
    """Ctrl-C while a pack was written (here: as its prompts' embeddings are cached, its last step) had deleted the
    earlier pack and left a half one in --out, photos and no cache, that gpu_run would carry and train from. Now the
    pack is written beside --out and renamed into place whole: the earlier pack stays, and no temporary folder."""
    from drywallqa.engine.config import TrainConfig

    script = load_script("pack_training_images")
    cfg = TrainConfig.from_yaml(write_train_config("film_unet", tiny_kwargs))
    out = tmp_path / "packs" / "pack"
    script.pack(cfg, out, size=48, quality=80)
    before = sorted((p.relative_to(out), p.read_bytes() if p.is_file() else None) for p in out.rglob("*"))

    def ctrl_c(self, prompts):
        raise KeyboardInterrupt

    monkeypatch.setattr(script.TextEncoder, "encode", ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        script.pack(cfg, out, size=40, quality=80)
    assert sorted((p.relative_to(out), p.read_bytes() if p.is_file() else None) for p in out.rglob("*")) == before
    assert [p.name for p in out.parent.iterdir()] == ["pack"]
    with pytest.raises(KeyboardInterrupt):  # a first pack: no folder at all
        script.pack(cfg, tmp_path / "new" / "pack", size=40, quality=80)
    assert list((tmp_path / "new").iterdir()) == []


def test_gpu_run_parts_stopped_part_way_leave_no_half_part_nor_an_earlier_calls(tmp_path, load_script,
                                                                                tiny_model_dir, monkeypatch):
    """`gpu_run train` stopped while it wrote the run's parts (Ctrl-C, its time up) left a half part beside the parts of
    an earlier call into the same --out, which unpack joined with them. Now an earlier call's parts are removed first
    and each part is written whole or not at all; so is each call archive of a bundle."""
    gpu_run = load_script("gpu_run")
    (tmp_path / "run").mkdir()
    shutil.copytree(tiny_model_dir, tmp_path / "run" / "best")
    out = tmp_path / "OUT"
    earlier = gpu_run.write_parts(tmp_path / "run", out, 0.01, "run")
    assert len(earlier) > 2
    write_bytes, written = Path.write_bytes, []

    def stopped_in_the_second(self, data):
        if len(written) == 1:
            write_bytes(self, data[:100])
            raise KeyboardInterrupt
        written.append(self)
        return write_bytes(self, data)

    monkeypatch.setattr(Path, "write_bytes", stopped_in_the_second)
    with pytest.raises(KeyboardInterrupt):
        gpu_run.write_parts(tmp_path / "run", out, 0.02, "run")
    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    left = sorted(p.name for p in out.iterdir())  # whole (0.02 MiB), nothing half, nothing older
    assert len(left) == 1 and left[0].startswith("run.tar.part00of") and left[0] != "run.tar.part00of01", left
    assert (out / left[0]).stat().st_size == int(0.02 * 2**20)
    # the parts left: not taken for a whole run (a cut at a tar member's end unpacked without a word, the run's last
    # files missing)
    with pytest.raises(SystemExit, match=r"not all here \(missing run\.tar\.part01of"):
        gpu_run.unpack(out, tmp_path / "unpacked")
    assert not (tmp_path / "unpacked").exists()
    # a bundle's call archive: none half-written
    bundle = tmp_path / "bundle"
    (bundle / "pack").mkdir(parents=True)
    (bundle / "pack" / "a.bin").write_bytes(bytes(5000))

    def cut(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(gpu_run.tarfile.TarFile, "add", cut)
    with pytest.raises(KeyboardInterrupt):
        gpu_run.archive_calls(bundle, [[str(bundle / "pack")]])
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".") or "tgz" in p.name) == []


def test_the_ray_model_error_gives_path_advice_only_for_a_model_path():
    """Without a model path (the default model, a hub model or pipeline by name) it said "the default model" and
    advised the same path on every node."""
    from drywallqa.engine.batch_ray import RayModelError

    assert "same path on every Ray node" in str(RayModelError("runs/x/best", "no config.json"))
    said = str(RayModelError(None, "no module named transformers"))
    assert "default model" not in said and "same path" not in said and "no module named transformers" in said
