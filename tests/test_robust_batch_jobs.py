"""Batch jobs that stop half-way or share a folder: every photo gets an answer, no file is left half-written."""

import io
import json
import os
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from drywallqa import Segmenter
from drywallqa.cli import app
from drywallqa.engine.batch import predict_paths, process_image
from drywallqa.engine.batch_ray import predict_paths_ray

from conftest import says, write_photos


@pytest.fixture
def photos(tmp_path):
    return write_photos(tmp_path / "photos", 3)


def test_ray_that_cannot_start_names_every_photo_and_writes_results(tiny_model_dir, photos, tmp_path, monkeypatch):
    """RAY_ADDRESS naming a cluster that is not there: each photo failed with the reason, no traceback."""
    ray = pytest.importorskip("ray")

    def unreachable(*args, **kwargs):
        raise ConnectionError("Failed to connect to Ray cluster at 10.255.255.1:6379")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", unreachable)
    out = tmp_path / "out"
    summary = predict_paths_ray(tiny_model_dir, [photos], ["segment crack"], out)
    assert not summary.done and len(summary.failed) == 3
    assert all("Failed to connect to Ray cluster" in why for _, why in summary.failed)
    assert len(json.loads((out / "results.json").read_text())["failed"]) == 3
    res = CliRunner().invoke(app, ["predict", str(photos), "-p", "segment crack", "--out", str(tmp_path / "cli"),
                                   "--model-path", str(tiny_model_dir), "--executor", "ray"], terminal_width=300)
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    assert "p0.jpg" in res.output and "Failed to connect to Ray cluster" in res.output


def test_ray_actor_dying_mid_job_keeps_what_it_finished_and_fails_the_rest(tiny_model_dir, photos, tmp_path, monkeypatch):
    """An actor that dies (its model folder gone on a worker, out of memory) after one photo: that photo is done, the
    others failed with the cause (one line, not Ray's remote traceback), results.json written. No photo was being
    segmented when it died, so the job is not run again."""
    ray = pytest.importorskip("ray")

    class ActorDiedError(Exception):
        pass

    jobs = []

    class Dataset:
        def __init__(self, items):
            self.items = items

        def map_batches(self, cls, fn_constructor_kwargs, **kwargs):
            self.kwargs = fn_constructor_kwargs
            jobs.append(self)
            return self

        def take_all(self):
            k = self.kwargs  # the first photo is finished, then the actor dies
            process_image(Segmenter.load(k["model_path"], **k["load_kwargs"]), Path(self.items[0]["path"]), k["opts"])
            raise ActorDiedError("The actor died because of an error raised in its creation task, \x1b[36mray::Map"
                                 "Worker\x1b[39m (pid=1)\n  File \"x.py\", line 1, in __init__\n"
                                 "FileNotFoundError: no model folder /cluster/models/fast")

    monkeypatch.setattr(ray, "is_initialized", lambda: True)  # a Ray the caller started: not shut down here
    monkeypatch.setattr(ray.data, "from_items", Dataset)
    out = tmp_path / "out"
    summary = predict_paths_ray(tiny_model_dir, [photos], ["segment crack"], out)
    assert len(jobs) == 1
    assert summary.done == [str(photos / "p0.jpg")]
    assert [p for p, _ in summary.failed] == [str(photos / "p1.jpg"), str(photos / "p2.jpg")]
    assert all("ActorDiedError: FileNotFoundError: no model folder /cluster/models/fast" in why and "\n" not in why
               and "\x1b" not in why for _, why in summary.failed)
    written = json.loads((out / "results.json").read_text())
    assert [e["image"] for e in written["images"]] == [str(photos / "p0.jpg")] and len(written["failed"]) == 2


def test_a_report_killed_while_writing_a_thumbnail_leaves_none_half_written(tiny_model_dir, photos, tmp_path, monkeypatch):
    """A thumbnail is written whole or not at all: a half one would be newer than its masks, so kept by every later
    report."""
    from drywallqa.engine.batch_report import write_batch_report

    out = tmp_path / "out"
    predict_paths(Segmenter.load(tiny_model_dir), [photos], ["segment crack"], out, progress=False)

    class Killed(BaseException):
        pass

    save = Image.Image.save

    def killed_half_way(self, fp, format=None, **params):
        if (format or str(fp).rsplit(".", 1)[-1]).upper() not in ("JPEG", "JPG"):
            return save(self, fp, format, **params)
        buf = io.BytesIO()
        save(self, buf, "JPEG", **params)
        with open(fp, "wb") as f:
            f.write(buf.getvalue()[:200])
        raise Killed

    monkeypatch.setattr(Image.Image, "save", killed_half_way)
    with pytest.raises(Killed):
        write_batch_report(out)
    monkeypatch.setattr(Image.Image, "save", save)
    write_batch_report(out)
    thumbs = sorted((out / "report_files").glob("*.jpg"))
    assert len(thumbs) == 3
    for t in thumbs:
        with Image.open(t) as im:
            im.load()  # a cut JPEG raises here
    assert not [f for f in (out / "report_files").iterdir() if f.name.endswith(".tmp")]


def test_ray_actors_in_another_working_directory_write_into_the_jobs_relative_out(tiny_model_dir, photos, tmp_path,
                                                                                 monkeypatch):
    """A relative --out (and --model-path) on Ray: an actor runs in a working directory of its own (a cluster node, a
    runtime_env working_dir); its masks and records must land in the job's folder, not in the actor's."""
    ray = pytest.importorskip("ray")
    import shutil

    (tmp_path / "job").mkdir()
    (tmp_path / "actor").mkdir()
    shutil.copytree(tiny_model_dir, tmp_path / "job" / "model")

    class Dataset:  # runs each batch as an actor would, from its own working directory
        def __init__(self, items):
            self.items = items

        def map_batches(self, cls, fn_constructor_kwargs, **kwargs):
            self.cls, self.kwargs = cls, fn_constructor_kwargs
            return self

        def take_all(self):
            monkeypatch.chdir(tmp_path / "actor")
            try:
                actor = self.cls(**self.kwargs)
                out = actor({"path": [item["path"] for item in self.items]})
            finally:
                monkeypatch.chdir(tmp_path / "job")
            return [dict(zip(out, row)) for row in zip(*out.values())]

    monkeypatch.setattr(ray, "is_initialized", lambda: True)
    monkeypatch.setattr(ray.data, "from_items", Dataset)
    monkeypatch.chdir(tmp_path / "job")
    summary = predict_paths_ray("model", [photos], ["segment crack"], "out")
    assert len(summary.done) == 3 and not summary.failed, summary.failed
    assert sorted(f.name for f in (tmp_path / "job" / "out").glob("*__results.json")) == [
        f"p{i}__results.json" for i in range(3)]
    assert not (tmp_path / "actor" / "out").exists()
    assert len(json.loads((tmp_path / "job" / "out" / "results.json").read_text())["images"]) == 3


def test_ray_photo_that_kills_its_actor_is_named_and_the_others_are_done(tiny_model_dir, photos, tmp_path):
    """A photo whose reading ends the actor's process (a decoder's crash, the OOM killer): Ray Data retried its batch
    for ever, so the job never ended; then the job stopped with every photo left "not done", and a rerun crashed on
    the same photo, never named. Now that photo fails with the reason, and the others of the job are done."""
    pytest.importorskip("ray")
    import os
    import subprocess
    import sys

    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import os\nimport PIL.Image as I\nopen_ = I.open\n"
        "def crash(fp, *a, **k):\n    if 'crashes' in str(fp):\n        os._exit(3)\n    return open_(fp, *a, **k)\n"
        "I.open = crash\n")
    (photos / "p1.jpg").rename(photos / "crashes.jpg")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hook), *sys.path])}
    out = tmp_path / "out"
    try:  # 25 s on an idle 2-core machine, over 150 s with both its cores busy (each actor start is slow)
        res = subprocess.run([sys.executable, "-m", "drywallqa", "predict", str(photos), "-p", "segment crack", "--out",
                              str(out), "--model-path", str(tiny_model_dir), "--executor", "ray"],
                             env=env, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        pytest.fail("the Ray job hung on a photo that kills its actor")
    assert res.returncode == 1, res.stdout + res.stderr
    written = json.loads((out / "results.json").read_text())
    assert [p for p, _ in written["failed"]] == [str(photos / "crashes.jpg")], written["failed"]
    assert "the worker process died while segmenting this photo" in written["failed"][0][1]
    assert sorted(e["image"] for e in written["images"]) == [str(photos / "p0.jpg"), str(photos / "p2.jpg")]
    assert "Traceback" not in res.stdout and "crashes.jpg" in res.stdout
    assert not [f.name for f in out.iterdir() if f.name.startswith(".inflight")]  # the markers are cleaned up


def _ray_data_played_here(monkeypatch) -> list:
    """Ray Data played in this process: a photo named ``*crashes*`` ends its batch as the end of the actor's process
    would (its marker left, the job stopped with Ray's error); returns the list each job's photo names go to."""
    ray = pytest.importorskip("ray")
    from drywallqa.engine import batch_ray

    class Died(BaseException):  # the actor's process ends in the middle of a photo
        pass

    class ActorUnavailableError(Exception):
        pass

    segment = batch_ray.process_image

    def process_image(segmenter, path, opts):
        if "crashes" in path.name:
            raise Died
        return segment(segmenter, path, opts)

    jobs = []

    class Dataset:
        def __init__(self, items):
            self.items = items

        def map_batches(self, cls, fn_constructor_kwargs, batch_size, **kwargs):
            self.actor, self.size = cls(**fn_constructor_kwargs), batch_size
            jobs.append([Path(item["path"]).name for item in self.items])
            return self

        def take_all(self):
            rows = []
            for i in range(0, len(self.items), self.size):
                try:
                    out = self.actor({"path": [item["path"] for item in self.items[i:i + self.size]]})
                except Died:
                    raise ActorUnavailableError("The actor is unavailable: RpcError: Socket closed") from None
                rows += [dict(zip(out, row)) for row in zip(*out.values())]
            return rows

    monkeypatch.setattr(batch_ray, "process_image", process_image)
    monkeypatch.setattr(ray, "is_initialized", lambda: True)
    monkeypatch.setattr(ray.data, "from_items", Dataset)
    return jobs


def test_ray_photos_that_kill_their_worker_are_each_named_in_rounds_of_their_own(tiny_model_dir, tmp_path,
                                                                                    monkeypatch):
    """Two photos that end the actor's process, each stopping a Ray job: the photo being segmented then is run again
    alone, named failed when it kills its worker again, and the others of the job are done in a new round; the
    rounds are bounded. (Ray Data played in this process: a photo's death ends the batch as the process's end
    would, leaving the actor's marker.)"""
    from drywallqa.engine import batch_ray

    jobs = _ray_data_played_here(monkeypatch)
    photos = write_photos(tmp_path / "photos", 5)
    for i in (1, 3):
        (photos / f"p{i}.jpg").rename(photos / f"p{i}_crashes.jpg")
    out = tmp_path / "out"
    summary = predict_paths_ray(tiny_model_dir, [photos], ["segment crack"], out, batch_size=2)
    assert sorted(summary.done) == [str(photos / f"p{i}.jpg") for i in (0, 2, 4)]
    assert sorted(p for p, _ in summary.failed) == [str(photos / "p1_crashes.jpg"), str(photos / "p3_crashes.jpg")]
    assert all(why == "the worker process died while segmenting this photo (ActorUnavailableError: The actor is "
               "unavailable: RpcError: Socket closed)" for _, why in summary.failed), summary.failed
    assert jobs == [["p0.jpg", "p1_crashes.jpg", "p2.jpg", "p3_crashes.jpg", "p4.jpg"], ["p1_crashes.jpg"],
                    ["p2.jpg", "p3_crashes.jpg", "p4.jpg"], ["p3_crashes.jpg"], ["p4.jpg"]]
    written = json.loads((out / "results.json").read_text())
    assert len(written["images"]) == 3 and dict(written["failed"]) == dict(summary.failed)
    assert [f.name for f in out.iterdir() if f.name.startswith(".inflight")] == []  # markers cleaned up
    # at most RAY_ROUNDS jobs with many photos: then the photos left are named, to be finished by a rerun
    monkeypatch.setattr(batch_ray, "RAY_ROUNDS", 2)
    jobs.clear()
    bounded = predict_paths_ray(tiny_model_dir, [photos], ["segment crack"], tmp_path / "bounded", batch_size=2)
    assert len(jobs) == 3 and len(bounded.done) == 2
    assert [p for p, why in bounded.failed if "worker process died" in why] == [str(photos / "p1_crashes.jpg")]
    assert sorted(p for p, why in bounded.failed if why.startswith("not done: the Ray job stopped")) == [
        str(photos / "p3_crashes.jpg"), str(photos / "p4.jpg")]


def test_a_photo_named_in_no_utf8_that_kills_its_worker_is_named_not_the_whole_job_stopped(tiny_model_dir, tmp_path,
                                                                                             monkeypatch):
    """A worker that died while segmenting a photo whose name is no UTF-8 (caf\xe9.jpg from a Windows zip): its marker,
    written as the name's bytes, was read back as UTF-8, and the UnicodeDecodeError stopped the whole Ray job (every
    photo "not done", the one that kills its worker never named, and so again on each rerun). Now that photo is
    named failed and the others are done. (Ray Data played in this process, as above.)"""
    _ray_data_played_here(monkeypatch)
    photos = write_photos(tmp_path / "photos", 3)
    crashes = photos / os.fsdecode(b"caf\xe9_crashes.jpg")
    (photos / "p1.jpg").rename(crashes)
    summary = predict_paths_ray(tiny_model_dir, [photos], ["segment crack"], tmp_path / "out")
    assert sorted(summary.done) == [str(photos / "p0.jpg"), str(photos / "p2.jpg")]
    assert [p for p, _ in summary.failed] == [str(crashes)]
    assert summary.failed[0][1].startswith("the worker process died while segmenting this photo"), summary.failed


def _one_actor_dataset(items=lambda items: items, rows=lambda rows: rows):
    """Ray Data played in this process for ``ray.data.from_items``: one actor made as the job maps its batches, its
    photos run in one batch; ``items`` picks the photos the job runs, ``rows`` the rows it returns and their order."""

    class Dataset:
        def __init__(self, listed):
            self.items = listed

        def map_batches(self, cls, fn_constructor_kwargs, **kwargs):
            self.actor = cls(**fn_constructor_kwargs)
            return self

        def take_all(self):
            out = self.actor({"path": [item["path"] for item in items(self.items)]})
            return rows([dict(zip(out, row)) for row in zip(*out.values())])

    return Dataset


def test_ray_returning_no_row_for_a_photo_names_it(tiny_model_dir, photos, tmp_path, monkeypatch):
    """Ray Data set to go on past failed blocks (max_errored_blocks) returns no row for their photos: each is named
    as failed, none is left out of the summary."""
    ray = pytest.importorskip("ray")

    monkeypatch.setattr(ray, "is_initialized", lambda: True)
    # the block of the last photo failed and was skipped
    monkeypatch.setattr(ray.data, "from_items", _one_actor_dataset(items=lambda items: items[:-1]))
    summary = predict_paths_ray(tiny_model_dir, [photos], ["segment crack"], tmp_path / "out")
    assert len(summary.done) == 2
    assert [p for p, _ in summary.failed] == [str(photos / "p2.jpg")] and "no result" in summary.failed[0][1]


def test_markers_a_killed_ray_job_left_are_removed_by_the_next_job_on_either_executor(tiny_model_dir, photos, tmp_path):
    """A Ray job killed (kill -9, a lost driver) leaves its hidden .inflight-* folder of markers and its lock in --out;
    only a later Ray job that had photos to do removed them: a rerun on the local executor (which resumes a Ray
    folder) or a Ray rerun with every photo done left them there for good."""
    import os
    import subprocess
    import sys

    from drywallqa.engine.batch import INFLIGHT_PREFIX

    out = tmp_path / "out"
    predict_paths(Segmenter.load(tiny_model_dir), [photos], ["segment crack"], out, progress=False)
    killed = ("import os, sys\nfrom drywallqa.utils.files import temp_dir\n"
              f"with temp_dir(sys.argv[1], {INFLIGHT_PREFIX!r}) as inflight:\n"
              "    (inflight / '0').mkdir()\n    (inflight / '0' / '123-abc').write_text(sys.argv[2])\n"
              "    os._exit(9)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for job in (lambda: predict_paths(Segmenter.load(tiny_model_dir), [photos], ["segment crack"], out, progress=False),
                lambda: predict_paths_ray(tiny_model_dir, [photos], ["segment crack"], out)):  # all done: no Ray
        subprocess.run([sys.executable, "-c", killed, str(out), str(photos / "p0.jpg")], env=env, check=False)
        assert [f for f in os.listdir(out) if f.startswith(INFLIGHT_PREFIX)]
        summary = job()
        assert len(summary.skipped) == 3 and not summary.failed  # resumed: every photo done already
        assert [f for f in os.listdir(out) if f.startswith(INFLIGHT_PREFIX)] == []


def test_a_disk_that_fills_up_mid_command_is_a_one_line_error_not_a_traceback(tiny_model_dir, photos, tmp_path,
                                                                                 monkeypatch, synthetic_datasets):
    """The checks before any work cannot see a disk filling up: results.json (predict) or a split manifest (data
    split) that no longer fits ended in an OSError traceback. Now: one line and exit code 1, the masks done kept and
    resumed by the same command run again; a read-only file system or a quota is said the same way."""
    from drywallqa.data import grouping
    from drywallqa.engine import batch

    real = batch.write_text_atomic

    def full_disk(text, path):
        if Path(path).name == "results.json":
            raise OSError(28, "No space left on device")
        return real(text, path)

    monkeypatch.setattr(batch, "write_text_atomic", full_disk)
    runner, out = CliRunner(), tmp_path / "out"
    args = ["predict", str(photos), "-p", "segment crack", "--out", str(out), "--model-path", str(tiny_model_dir)]
    res = runner.invoke(app, args, terminal_width=300)
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.output
    assert "Traceback" not in res.output and "error: cannot write: No space left on device" in res.output, res.output
    assert len(list(out.glob("p*__segment_crack.png"))) == 3  # the masks finished are kept
    monkeypatch.setattr(batch, "write_text_atomic", real)  # space freed: the same command finishes the job
    res = runner.invoke(app, args, terminal_width=300)
    assert res.exit_code == 0 and "3 skipped (done before)" in res.output, res.output

    def read_only(text, path):
        raise OSError(30, "Read-only file system", str(path))

    monkeypatch.setattr(grouping, "write_text_atomic", read_only)
    res = runner.invoke(app, ["data", "split", "-d", "syn_tape", "--out", str(tmp_path / "splits"),
                              "--datasets-dir", str(synthetic_datasets)], terminal_width=300)
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.output
    assert "error: cannot write: Read-only file system (" in res.output and "Traceback" not in res.output

    def immutable(text, path):  # a folder made read-only (chmod a-w, chattr +i) while the job ran
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(batch, "write_text_atomic", immutable)
    res = runner.invoke(app, [*args, "--overwrite"], terminal_width=300)
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.output
    assert "error: Permission denied (" in res.output and "the files finished are kept: give this user the right to " \
           "write there" in " ".join(res.output.split()) and "Traceback" not in res.output, res.output


def _two_done_one_full_five_not_done(out: Path) -> None:
    """``out/results.json`` of 8 photos whose third's mask did not fit (:func:`_disk_full_after_two_masks`)."""
    listed = json.loads((out / "results.json").read_text())
    assert len(listed["images"]) == 2 and len(listed["failed"]) == 6
    reasons = [why for _, why in listed["failed"]]
    assert [r.startswith("[Errno 28] No space left on device") for r in reasons].count(True) == 1, reasons
    assert sum(r.startswith("not done: the job stopped as the disk could not take its outputs") for r in reasons) == 5


def _disk_full_after_two_masks(monkeypatch, process_image: str) -> list:
    """A disk that takes two mask PNGs, then no more (batch.write_atomic); ``process_image`` (where the job calls it)
    counts the photos segmented, in the list returned."""
    from drywallqa.engine import batch

    real_write, real_process = batch.write_atomic, batch.process_image
    segmented, room = [], [2]

    def counted(segmenter, path, opts):
        segmented.append(path)
        return real_process(segmenter, path, opts)

    def full_after_two(path, write):
        if Path(path).suffix == ".png":
            if not room[0]:
                raise OSError(28, "No space left on device", str(path))
            room[0] -= 1
        return real_write(path, write)

    monkeypatch.setattr(process_image, counted)
    monkeypatch.setattr(batch, "write_atomic", full_after_two)
    return segmented


def test_a_disk_that_fills_up_mid_job_stops_it_instead_of_failing_every_photo_after(tiny_model_dir, tmp_path,
                                                                                     monkeypatch):
    """Once a photo's mask no longer fitted, every photo after it was still segmented, then failed with the same
    "No space left on device" line (a 10,000-photo job for hours). Now the job stops there: the photos not reached are
    named not done in results.json (where it still fits), and the command says what to do, exit 1."""
    from drywallqa.engine import batch

    photos = write_photos(tmp_path / "photos", 8)
    real_write = batch.write_atomic
    segmented = _disk_full_after_two_masks(monkeypatch, "drywallqa.engine.batch.process_image")
    out = tmp_path / "out"
    with pytest.raises(OSError, match="No space left on device"):
        predict_paths(Segmenter.load(tiny_model_dir), [photos], ["segment crack"], out, progress=False)
    assert len(segmented) <= 4  # the third photo's mask did not fit: none after it but the one then in hand
    _two_done_one_full_five_not_done(out)
    segmented.clear()
    res = CliRunner().invoke(app, ["predict", str(photos), "-p", "segment crack", "--out", str(out),
                                   "--model-path", str(tiny_model_dir)], terminal_width=300)
    assert res.exit_code == 1 and "error: cannot write: No space left on device" in res.output, res.output
    assert len(segmented) <= 2 and "Traceback" not in res.output  # the two done skipped, the next one stops it
    monkeypatch.setattr(batch, "write_atomic", real_write)  # space freed: the same command finishes the job
    res = CliRunner().invoke(app, ["predict", str(photos), "-p", "segment crack", "--out", str(out),
                                   "--model-path", str(tiny_model_dir)], terminal_width=300)
    assert res.exit_code == 0 and "6 images done, 2 skipped (done before), 0 failed" in res.output, res.output


def test_a_full_disk_stops_a_ray_job_as_it_stops_a_local_one(tiny_model_dir, tmp_path, monkeypatch):
    """On Ray, each photo after the one whose masks did not fit was still segmented, then failed with the same "No space
    left on device" line, and the command ended 0. Now each actor segments none after it: they are named not done,
    results.json lists the photos done, and the command says what to do, exit 1, as on the local executor."""
    ray = pytest.importorskip("ray")
    from drywallqa.engine import batch

    photos = write_photos(tmp_path / "photos", 8)
    real_write = batch.write_atomic

    class Dataset:  # one actor, in this process, in batches of 3
        def __init__(self, items):
            self.items = items

        def map_batches(self, cls, fn_constructor_kwargs, batch_size, **kwargs):
            self.cls, self.kwargs, self.size = cls, fn_constructor_kwargs, batch_size
            return self

        def take_all(self):
            actor, rows = self.cls(**self.kwargs), []
            for i in range(0, len(self.items), 3):
                out = actor({"path": [item["path"] for item in self.items[i:i + 3]]})
                rows += [dict(zip(out, row)) for row in zip(*out.values())]
            return rows

    monkeypatch.setattr(ray, "is_initialized", lambda: True)
    monkeypatch.setattr(ray.data, "from_items", Dataset)
    segmented = _disk_full_after_two_masks(monkeypatch, "drywallqa.engine.batch_ray.process_image")
    out = tmp_path / "out"
    with pytest.raises(OSError, match="No space left on device"):
        predict_paths_ray(tiny_model_dir, [photos], ["segment crack"], out)
    assert len(segmented) == 3  # the third photo's mask did not fit: none after it
    _two_done_one_full_five_not_done(out)
    segmented.clear()
    args = ["predict", str(photos), "-p", "segment crack", "--out", str(out), "--model-path", str(tiny_model_dir),
            "--executor", "ray"]
    res = CliRunner().invoke(app, args, terminal_width=300)
    assert res.exit_code == 1 and "error: cannot write: No space left on device" in res.output, res.output
    assert len(segmented) == 1 and "Traceback" not in res.output  # the two done skipped, the next one stops it
    monkeypatch.setattr(batch, "write_atomic", real_write)  # space freed: the same command finishes the job
    res = CliRunner().invoke(app, args, terminal_width=300)
    assert res.exit_code == 0 and "6 images done, 2 skipped (done before), 0 failed" in res.output, res.output


def _ctrl_c_on_the_second_photo(monkeypatch):
    """Make batch.process_image raise KeyboardInterrupt on the second photo (as a Ctrl-C there); returns the real one."""
    import drywallqa.engine.batch as batch

    done, real = [], batch.process_image

    def pressed_on_the_second(segmenter, path, opts):
        if done:
            raise KeyboardInterrupt
        done.append(path)
        return real(segmenter, path, opts)

    monkeypatch.setattr(batch, "process_image", pressed_on_the_second)
    return real


def test_ctrl_c_in_predict_says_what_is_kept_and_a_rerun_goes_on(tiny_model_dir, photos, tmp_path, monkeypatch):
    """Ctrl-C ended predict with a blank line (exit 130) and no results.json: now results.json lists the photos done and
    names the rest, and the command says how to go on."""
    import drywallqa.engine.batch as batch

    real = _ctrl_c_on_the_second_photo(monkeypatch)
    out = tmp_path / "out"
    args = ["predict", str(photos), "-p", "segment crack", "--out", str(out), "--model-path", str(tiny_model_dir)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 130 and "interrupted:" in res.output and "run the same command again" in res.output
    results = json.loads((out / "results.json").read_text())  # what was done, and the rest named
    assert len(results["images"]) == 1 and len(results["failed"]) == 2
    assert all("interrupted (Ctrl-C or SIGTERM)" in reason for _, reason in results["failed"])
    monkeypatch.setattr(batch, "process_image", real)
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and "1 skipped" in again.output, again.output


def test_ctrl_c_in_an_overwrite_job_lists_no_earlier_run_record_as_done(tiny_model_dir, photos, tmp_path, monkeypatch):
    """With --overwrite the photos not reached still hold an earlier run's records: not this job's work."""
    out = tmp_path / "out"
    args = ["predict", str(photos), "-p", "segment crack", "--out", str(out), "--model-path", str(tiny_model_dir)]
    assert CliRunner().invoke(app, args).exit_code == 0
    for record in out.glob("*__results.json"):  # an earlier run's: a minute ago
        os.utime(record, (record.stat().st_atime - 60, record.stat().st_mtime - 60))
    _ctrl_c_on_the_second_photo(monkeypatch)
    res = CliRunner().invoke(app, [*args, "--overwrite"])
    assert res.exit_code == 130, res.output
    failed = json.loads((out / "results.json").read_text())["failed"]
    assert len(failed) == 2 and all("interrupted (Ctrl-C or SIGTERM)" in reason for _, reason in failed)


def test_ctrl_c_in_predict_writes_the_report_of_the_photos_done(tiny_model_dir, photos, tmp_path, monkeypatch):
    """Ctrl-C wrote results.json but no report.html (written by default): now the report shows the photos done, says
    the job was interrupted and how to finish it, and lists the photos not done; the COCO file asked for is written
    too. With --no-report none is written."""
    real = _ctrl_c_on_the_second_photo(monkeypatch)
    out = tmp_path / "out"
    args = ["predict", str(photos), "-p", "segment crack", "--out", str(out), "--model-path", str(tiny_model_dir)]
    res = CliRunner().invoke(app, [*args, "--coco", "rle"], terminal_width=300)
    assert res.exit_code == 130 and f"report: {out / 'report.html'}" in res.output, res.output
    assert "1 photo done, 0 failed, 2 not done" in res.output and "Traceback" not in res.output
    assert json.loads((out / "results.json").read_text())["interrupted"] is True
    page = (out / "report.html").read_text()
    assert "The job was interrupted (Ctrl-C or SIGTERM)" in page and "Run the same <code>drywallqa predict</code> command" in page
    assert "1 photos, 0 failed, 2 not done" in page and "Photos not done" in page and "Files that failed" not in page
    assert str(photos / "p0.jpg") in page and len(list((out / "report_files").glob("*.jpg"))) == 1
    coco = json.loads((out / "predictions.coco.json").read_text())
    assert [i["file_name"] for i in coco["images"]] == ["p0.jpg"]
    import drywallqa.engine.batch as batch

    monkeypatch.setattr(batch, "process_image", real)
    again = CliRunner().invoke(app, args, terminal_width=300)  # finished: the report says nothing of an interrupt
    assert again.exit_code == 0 and "1 skipped" in again.output, again.output
    page = (out / "report.html").read_text()
    assert "interrupted" not in page and "not done" not in page and "3 photos, 0 failed" in page
    assert "interrupted" not in json.loads((out / "results.json").read_text())
    _ctrl_c_on_the_second_photo(monkeypatch)
    quiet = tmp_path / "quiet"
    res = CliRunner().invoke(app, ["predict", str(photos), "-p", "segment crack", "--out", str(quiet), "--model-path",
                                   str(tiny_model_dir), "--no-report"], terminal_width=300)
    assert res.exit_code == 130 and (quiet / "results.json").is_file() and not (quiet / "report.html").exists()


def test_a_second_ctrl_c_while_the_report_is_written_says_what_is_left(tiny_model_dir, photos, tmp_path, monkeypatch):
    """Ctrl-C again while the report of an interrupted job is written, or Ctrl-C while a finished job's report is
    written: no traceback or bare "Aborted!", the report named as not written and how to get it."""
    import drywallqa.engine.batch_report as batch_report

    def pressed(*args, **kwargs):
        raise KeyboardInterrupt

    out = tmp_path / "out"
    args = ["predict", str(photos), "-p", "segment crack", "--out", str(out), "--model-path", str(tiny_model_dir)]
    monkeypatch.setattr(batch_report, "write_batch_report", pressed)
    _ctrl_c_on_the_second_photo(monkeypatch)
    res = CliRunner().invoke(app, args, terminal_width=300)
    assert res.exit_code == 130 and "Traceback" not in res.output and "Aborted" not in res.output, res.output
    assert f"{out / 'report.html'} was not written:" in res.output and "run the same command again" in res.output
    assert not (out / "report.html").exists() and (out / "results.json").is_file()
    monkeypatch.undo()
    monkeypatch.setattr(batch_report, "write_batch_report", pressed)
    res = CliRunner().invoke(app, args, terminal_width=300)  # the job finishes; Ctrl-C while its report is written
    assert res.exit_code == 130 and "Aborted" not in res.output and "was not written" in res.output, res.output
    assert "2 images done, 1 skipped (done before)" in res.output


def test_ctrl_c_before_results_json_is_written_says_so(tiny_model_dir, photos, tmp_path, monkeypatch):
    """Ctrl-C while the photos are listed (a large folder, photos an older version measured): the command said that
    results.json lists the photos done, and none was written."""
    import drywallqa.engine.batch as batch

    def pressed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(batch, "gather_inputs", pressed)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["predict", str(photos), "-p", "segment crack", "--out", str(out), "--model-path",
                                   str(tiny_model_dir)], terminal_width=300)
    assert res.exit_code == 130 and "results.json was not written" in res.output, res.output
    assert not (out / "results.json").exists()


def test_ctrl_c_in_a_ray_job_writes_results_json_and_the_report_of_the_photos_done(tiny_model_dir, photos, tmp_path,
                                                                                   monkeypatch):
    """On Ray, Ctrl-C left no results.json (the command said it listed the photos done): now the photos the actors
    finished are done, the others named not done, and the report is written, as on the local executor."""
    ray = pytest.importorskip("ray")

    class Dataset:  # the first photo is finished, then Ctrl-C
        def __init__(self, items):
            self.items = items

        def map_batches(self, cls, fn_constructor_kwargs, **kwargs):
            self.kwargs = fn_constructor_kwargs
            return self

        def take_all(self):
            k = self.kwargs
            process_image(Segmenter.load(k["model_path"], **k["load_kwargs"]), Path(self.items[0]["path"]), k["opts"])
            raise KeyboardInterrupt

    monkeypatch.setattr(ray, "is_initialized", lambda: True)  # a Ray the caller started: not shut down here
    monkeypatch.setattr(ray.data, "from_items", Dataset)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["predict", str(photos), "-p", "segment crack", "--out", str(out), "--model-path",
                                   str(tiny_model_dir), "--executor", "ray"], terminal_width=300)
    assert res.exit_code == 130 and "1 photo done, 0 failed, 2 not done" in res.output, res.output
    results = json.loads((out / "results.json").read_text())
    assert [e["image"] for e in results["images"]] == [str(photos / "p0.jpg")] and results["interrupted"] is True
    assert all("interrupted (Ctrl-C or SIGTERM)" in why for _, why in results["failed"]) and len(results["failed"]) == 2
    assert "The job was interrupted (Ctrl-C or SIGTERM)" in (out / "report.html").read_text()


def test_ctrl_c_again_while_the_photos_in_hand_finish_still_writes_results_json(tiny_model_dir, photos, tmp_path,
                                                                                monkeypatch, python_sigint):
    """A second Ctrl-C while the job waited for the photos being segmented cut the pool's Thread.join short: no
    results.json, no report, and a thread still running could be taken as ended, the process then aborting under it
    ("terminate called without an active exception"). Now results.json and the report are written for the photos
    done while the photo in hand finishes on its thread."""
    import signal
    import threading

    import drywallqa.engine.batch as batch

    real, wait = batch.process_image, batch.wait
    in_hand, waiting, left, job_ended, in_hand_done = (threading.Event() for _ in range(5))

    def photo(segmenter, path, opts):
        if path.name == "p0.jpg":
            return real(segmenter, path, opts)
        if path.name == "p1.jpg":  # Ctrl-C once p2 is in hand (p0 done, its thread free): the main thread waits for p2
            in_hand.wait(30)  # (raised sooner, the Ctrl-C could cancel p2 while it still sat in the queue)
            raise KeyboardInterrupt
        in_hand.set()
        try:  # p2: Ctrl-C again once the main thread waits for it, then it finishes once the job has ended
            waiting.wait(30)  # (sent sooner, it could be the Ctrl-C the main thread stopped on: it then waited for p2)
            os.kill(os.getpid(), signal.SIGINT)
            # again each second while the main thread waits on: CPython runs a handler once the main thread runs, and a
            # signal that came as it went to sleep in wait() was run only once p2 had ended
            for _ in range(30):
                if left.wait(1) or job_ended.is_set():
                    break
                os.kill(os.getpid(), signal.SIGINT)
            job_ended.wait(30)  # (finished sooner, p2 was rightly listed as done)
            return real(segmenter, path, opts)
        finally:
            in_hand_done.set()

    def waited(futures):  # the main thread, stopped by the first Ctrl-C, waits for the photos in hand
        waiting.set()
        try:
            return wait(futures)
        finally:
            left.set()

    monkeypatch.setattr(batch, "process_image", photo)
    monkeypatch.setattr(batch, "wait", waited)
    out = tmp_path / "out"
    try:
        res = CliRunner().invoke(app, ["predict", str(photos), "-p", "segment crack", "--out", str(out), "--model-path",
                                       str(tiny_model_dir), "--workers", "2"], terminal_width=300)
    finally:
        job_ended.set()
    assert in_hand_done.wait(30)
    assert res.exit_code == 130 and "1 photo done, 0 failed, 2 not done" in res.output, res.output
    assert [os.path.basename(e["image"]) for e in json.loads((out / "results.json").read_text())["images"]] == ["p0.jpg"]
    assert (out / "report.html").is_file()


def test_ctrl_c_again_while_the_queued_photos_are_dropped_still_writes_results_json(tiny_model_dir, photos, tmp_path,
                                                                                    monkeypatch):
    """A second Ctrl-C while the photos still queued were dropped (their futures cancelled one by one: many in a long
    job) went up as the plain KeyboardInterrupt, before results.json was written."""
    from concurrent.futures import Future

    import drywallqa.engine.batch as batch

    cancel, pressed = Future.cancel, []

    def pressed_again(self):  # Ctrl-C again as the first queued photo is dropped
        if not pressed:
            pressed.append(self)
            raise KeyboardInterrupt
        return cancel(self)

    _ctrl_c_on_the_second_photo(monkeypatch)
    monkeypatch.setattr(Future, "cancel", pressed_again)
    out = tmp_path / "out"
    try:
        predict_paths(Segmenter.load(tiny_model_dir), [photos], ["segment crack"], out, progress=False)
    except batch.JobInterrupted:
        pass
    except KeyboardInterrupt:  # (a KeyboardInterrupt left to go up would stop the whole test run)
        pytest.fail("the second Ctrl-C went up as the plain KeyboardInterrupt: results.json not written")
    else:
        pytest.fail("the job was not interrupted")
    assert pressed
    results = json.loads((out / "results.json").read_text())
    assert [os.path.basename(e["image"]) for e in results["images"]] == ["p0.jpg"] and results["interrupted"] is True
    assert [os.path.basename(p) for p, _ in results["failed"]] == ["p1.jpg", "p2.jpg"]


def test_a_folder_lock_this_user_cannot_open_is_a_clean_error_before_any_photo(tiny_model_dir, photos, tmp_path):
    """The folder's .results.lock that another user's job made (mode 644, in a folder both may write) or that is no
    file: every photo was segmented, then failed with the same "Permission denied" / "Is a directory" line. Now the job
    is refused before any work, naming the lock and what to do."""
    out = tmp_path / "out"
    (out / ".results.lock").mkdir(parents=True)  # opened as this user cannot, whoever runs the test (root too)
    res = CliRunner().invoke(app, ["predict", str(photos), "-p", "segment crack", "--out", str(out),
                                   "--model-path", str(tiny_model_dir)], terminal_width=300)
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output
    assert says(res.output, "--out", ".results.lock cannot be opened", "another user's job")
    assert not list(out.glob("*__results.json")) and not (out / "results.json").exists()
    with pytest.raises(ValueError, match="results.lock cannot be opened"):
        predict_paths(Segmenter.load(tiny_model_dir), [photos], ["segment crack"], out, progress=False)


def test_a_ray_job_lists_and_names_its_photos_as_the_local_job_does(tiny_model_dir, tmp_path, monkeypatch):
    """Ray Data returns rows in the order its actors finish them, and the actors have absolute paths: a Ray job's
    results.json named a photo that failed by its absolute path where the local job names it as given
    (`imgs/bad.jpg`), and its overlay_grid.png showed the photos in the order they came back (with over 12 photos,
    other photos than the local job's). Now the same names, order and grid. (Ray Data played here, rows reversed.)"""
    import numpy as np

    ray = pytest.importorskip("ray")

    monkeypatch.chdir(tmp_path)
    photos = write_photos(Path("imgs"), 3, shape=lambda i: (40, 52 + 8 * i))
    (photos / "bad.jpg").write_bytes(b"no image")
    local = predict_paths(Segmenter.load(tiny_model_dir), [photos], ["segment crack"], "local", progress=False,
                          overlay_images=True)
    monkeypatch.setattr(ray, "is_initialized", lambda: True)
    monkeypatch.setattr(ray.data, "from_items", _one_actor_dataset(rows=lambda rows: rows[::-1]))
    on_ray = predict_paths_ray(tiny_model_dir, [photos], ["segment crack"], "ray", overlay_images=True)
    assert on_ray.done == local.done == [str(photos / f"p{i}.jpg") for i in range(3)]
    assert on_ray.failed == local.failed and local.failed[0][1].startswith(str(photos / "bad.jpg") + ": ")
    written = [json.loads(Path(out, "results.json").read_text()) for out in ("local", "ray")]
    assert [w["failed"] for w in written] == [[list(f) for f in local.failed]] * 2
    assert [[e["image"] for e in w["images"]] for w in written] == [[os.path.abspath(p) for p in local.done]] * 2
    grids = [np.asarray(Image.open(Path(out, "overlay_grid.png"))) for out in ("local", "ray")]
    assert np.array_equal(*grids)


def test_a_ray_address_where_no_cluster_answers_ends_the_job_at_once(tiny_model_dir, photos, tmp_path, monkeypatch):
    """RAY_ADDRESS naming a host and port where no Ray runs (a typo, the cluster down): ray.init tried for some 13
    minutes before it gave up, the command silent meanwhile. Now the job ends at once, each photo named not done with
    the address, exit 1."""
    import socket

    ray = pytest.importorskip("ray")
    with socket.socket() as s:  # a port that takes no connection
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda *a, **k: pytest.fail("ray.init called for an address that does not answer"))
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["predict", str(photos), "-p", "segment crack", "--out", str(out), "--model-path",
                                   str(tiny_model_dir), "--executor", "ray"], terminal_width=300)
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    failed = json.loads((out / "results.json").read_text())["failed"]
    assert len(failed) == 3 and all(why.startswith("not done: the Ray job stopped (ConnectionError: no Ray cluster "
                                                   f"answers at 127.0.0.1:{port}") for _, why in failed), failed
