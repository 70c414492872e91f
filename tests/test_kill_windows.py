"""Kill windows: a ``ship`` or ``export onnx`` killed after replace_dir's two renames, before it looked
at the folder it set aside, left ``.OUT.replaced``, which the next replace deleted unlooked at; a ship killed between
the two renames; Ray batch jobs whose workers die or whose disk fills up."""

import logging
import shutil

import pytest


class Killed(BaseException):
    """The process ends here (``kill -9``): nothing after it runs, no ``except Exception`` sees it."""


def _kill_after_the_renames(monkeypatch, put_there=None):
    """replace_dir's next call is killed once both renames are made, before it looks at the folder set aside
    (``put_there(old)`` first: a file that reached the folder just before it was set aside)."""
    from drywallqa.utils import files

    real = files._drop_replaced

    def killed(old, dest, unexpected, earlier=False):
        if earlier:  # (a leftover of an earlier one, looked at before the renames)
            return real(old, dest, unexpected, earlier)
        monkeypatch.setattr(files, "_drop_replaced", real)
        if put_there is not None:
            put_there(old)
        raise Killed

    monkeypatch.setattr(files, "_drop_replaced", killed)


def test_a_leftover_of_a_replace_killed_after_its_renames_is_looked_at_not_deleted_unseen(tmp_path, monkeypatch,
                                                                                           caplog):
    """A replace killed after both renames, before it looked at the folder it set aside, left ``.model.replaced``
    holding a file put into ``model`` just before the swap. The next replace removed that leftover first, without the
    look ``unexpected`` gives the folder it replaces: the user's file was gone without a word. Now the leftover is
    looked at as that folder is: kept whole as ``model.replaced``, a WARNING naming the file and the folder; a
    leftover holding only expected files is still removed."""
    from drywallqa.utils.files import replace_dir

    dest = tmp_path / "model"
    dest.mkdir()
    (dest / "weights.bin").write_text("old")

    def new(n):
        folder = tmp_path / f"new{n}"
        folder.mkdir()
        (folder / "weights.bin").write_text(f"new {n}")
        return folder

    unexpected = lambda old: sorted(p.name for p in old.iterdir() if p.name != "weights.bin")  # noqa: E731
    _kill_after_the_renames(monkeypatch, lambda old: (old / "notes.txt").write_text("mine"))
    with pytest.raises(Killed):
        replace_dir(new(1), dest, unexpected=unexpected)
    hidden = tmp_path / ".model.replaced"
    assert (hidden / "notes.txt").read_text() == "mine" and (dest / "weights.bin").read_text() == "new 1"
    with caplog.at_level(logging.WARNING):
        assert replace_dir(new(2), dest, unexpected=unexpected) == dest
    kept = tmp_path / "model.replaced"
    assert (dest / "weights.bin").read_text() == "new 2" and not hidden.exists()
    assert (kept / "notes.txt").read_text() == "mine" and (kept / "weights.bin").read_text() == "old"
    assert "notes.txt" in caplog.text and str(kept) in caplog.text, caplog.text
    # a leftover of only what the replace writes: removed, as before, nothing said
    caplog.clear()
    _kill_after_the_renames(monkeypatch)
    with pytest.raises(Killed):
        replace_dir(new(3), dest, unexpected=unexpected)
    assert hidden.is_dir()
    with caplog.at_level(logging.WARNING):
        replace_dir(new(4), dest, unexpected=unexpected)
    assert not hidden.exists() and not caplog.text and sorted(p.name for p in tmp_path.iterdir()) == [
        "model", "model.replaced"]


def test_ship_keeps_a_file_a_killed_ship_left_in_its_hidden_folder(tiny_model_dir, synthetic_datasets, syn_splits,
                                                                   tmp_path, monkeypatch, caplog):
    """A ``ship`` killed after its two renames, before it looked at the old folder, leaves ``.OUT.replaced`` holding
    the ``eval/`` report an ``evaluate --out OUT/eval`` finished just before the swap. The next ``ship`` deleted it
    unlooked at; now it keeps that folder as ``OUT.replaced`` and names it (WARNING), ``--overwrite`` too (which names
    the files of ``OUT`` that may go, not those of a folder a killed ship set aside)."""
    from drywallqa.engine.shipping import ship

    dest = tmp_path / "shipped"
    shutil.copytree(tiny_model_dir, dest)

    def run(overwrite=False):
        return ship(tiny_model_dir, dest, datasets=("syn_crack", "syn_tape"), scales=((64,),), tta=(False,),
                    splits_dir=syn_splits, datasets_dir=synthetic_datasets, timing_images=2, budget=False, gate=False,
                    confidence=False, drywall_check=None, overwrite=overwrite, progress=False,
                    report=lambda line: None)

    def report_arrives(old):
        (old / "eval").mkdir()
        (old / "eval" / "report.md").write_text("report")

    _kill_after_the_renames(monkeypatch, report_arrives)
    with pytest.raises(Killed):
        run()
    assert (tmp_path / ".shipped.replaced" / "eval" / "report.md").is_file()
    (dest / "eval").mkdir()  # --overwrite deletes OUT's own eval/, not the killed ship's folder's, never looked at
    (dest / "eval" / "report.md").write_text("OUT's")
    with caplog.at_level(logging.WARNING):
        run(overwrite=True)
    kept = tmp_path / "shipped.replaced"
    assert (kept / "eval" / "report.md").read_text() == "report" and not (tmp_path / ".shipped.replaced").exists()
    assert (dest / "selection.json").is_file() and not (dest / "eval").exists()
    assert "eval/" in caplog.text and str(kept) in caplog.text, caplog.text


def _killed_between_the_renames(model_dir, dest, *extra):
    """``dest`` as a ship (or export) killed between replace_dir's two renames leaves it: gone, the earlier folder
    whole as ``.<name>.replaced`` (``extra``: (name, text) pairs written into it)."""
    hidden = dest.with_name(f".{dest.name}.replaced")
    shutil.copytree(model_dir, hidden)
    for name, text in extra:
        (hidden / name).parent.mkdir(parents=True, exist_ok=True)
        (hidden / name).write_text(text)
    return hidden


def test_a_ship_after_one_killed_between_its_renames_puts_the_earlier_model_back_first(
        tiny_model_dir, synthetic_datasets, syn_splits, tmp_path):
    """A ship killed between its two renames leaves no ``OUT``, the earlier model whole in ``.OUT.replaced``. The next
    ship took ``OUT`` for a new folder: the earlier model's ``MODEL_CARD.md`` (which a ship keeps) was deleted with it
    unsaid, its files ship does not write were not refused before the work, nor was it the model the new one is
    compared with. Now the next ship puts it back first, saying so, and goes on as with any ``OUT``: the card kept,
    a user's ``eval/`` in it refused before any work (exit 2, the earlier model back in ``OUT``, no traceback)."""
    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.engine.shipping import ship

    dest = tmp_path / "shipped"
    hidden = _killed_between_the_renames(tiny_model_dir, dest, ("MODEL_CARD.md", "card"))
    lines = []
    ship(tiny_model_dir, dest, datasets=("syn_crack", "syn_tape"), scales=((64,),), tta=(False,), splits_dir=syn_splits,
         datasets_dir=synthetic_datasets, timing_images=2, budget=False, gate=False, confidence=False,
         drywall_check=None, progress=False, report=lambda line: lines.append(str(line)))
    assert (dest / "MODEL_CARD.md").read_text() == "card" and (dest / "selection.json").is_file()
    assert not hidden.exists() and not dest.with_name("shipped.replaced").exists()
    assert any(str(hidden) in line and "put back" in line for line in lines), lines

    shutil.rmtree(dest)
    hidden = _killed_between_the_renames(tiny_model_dir, dest, ("eval/report.md", "report"))
    res = CliRunner().invoke(app, ["ship", str(tiny_model_dir), "--out", str(dest), "-d", "syn_crack", "-d", "syn_tape",
                                   "--scales", "64", "--tta", "off", "--no-budget", "--no-gate", "--no-confidence",
                                   "--no-drywall-check", "--timing-images", "2", "--splits-dir", str(syn_splits),
                                   "--datasets-dir", str(synthetic_datasets)])
    said = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 2 and "eval/" in said and "Traceback" not in said, said
    assert (dest / "eval" / "report.md").read_text() == "report" and not (dest / "selection.json").exists()
    assert not hidden.exists() and not dest.with_name("shipped.replaced").exists()


def test_an_export_after_one_killed_between_its_renames_puts_the_earlier_export_back_first(tiny_model_dir, tmp_path,
                                                                                           caplog):
    """An export killed between its two renames leaves no ``OUT``, the earlier export whole in ``.OUT.replaced``. The
    next export took ``OUT`` for a new folder: what was calibrated on the earlier export (its settings, a confidence)
    was not carried into the new one, and was deleted with it without a word. Now the earlier export is put back
    first, said in a WARNING, and its calibration kept as with any earlier export."""
    import json

    from drywallqa.export.onnx import export_onnx

    out = export_onnx(tiny_model_dir, tmp_path / "onnx")
    meta = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**meta, "threshold": 0.37}))  # calibrated on the export
    out.rename(tmp_path / ".onnx.replaced")  # killed between the renames of an export into it
    with caplog.at_level(logging.WARNING):
        assert export_onnx(tiny_model_dir, out) == out
    assert json.loads((out / "config.json").read_text())["threshold"] == 0.37
    assert not (tmp_path / ".onnx.replaced").exists() and not (tmp_path / "onnx.replaced").exists()
    assert str(tmp_path / ".onnx.replaced") in caplog.text and "put back" in caplog.text, caplog.text


# Ray batch jobs: Ray Data played in this process (no cluster started), its errors Ray's own classes


def _played_ray_data(monkeypatch, dies=lambda name, tries: False) -> list:
    """``ray.data`` played here: one actor per job, batches in order; a photo for which ``dies(name, tries)`` holds
    ends its actor's process mid-photo (its marker left, as a real death leaves it), the job then stopping with Ray's
    ``ActorDiedError``. Returns the list each job's photo names go to."""
    ray = pytest.importorskip("ray")
    from pathlib import Path

    from drywallqa.engine import batch_ray

    class Died(BaseException):
        pass

    tries, segment, jobs = {}, batch_ray.process_image, []

    def process_image(segmenter, path, opts):
        tries[path.name] = tries.get(path.name, 0) + 1
        if dies(path.name, tries[path.name]):
            raise Died
        return segment(segmenter, path, opts)

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
                    raise ray.exceptions.ActorDiedError() from None
                rows += [dict(zip(out, row)) for row in zip(*out.values())]
            return rows

    monkeypatch.setattr(batch_ray, "process_image", process_image)
    monkeypatch.setattr(ray, "is_initialized", lambda: True)  # a Ray the caller started: none started here
    monkeypatch.setattr(ray.data, "from_items", Dataset)
    return jobs


def test_a_ray_worker_that_died_once_on_a_photo_is_run_again_and_every_photo_done(tiny_model_dir, tmp_path,
                                                                                   monkeypatch):
    """A worker that died while segmenting a photo (out of memory once: Ray's ActorDiedError): the photo it was on is
    run again alone, done this time, and the photos after it in a new job; the photo done before the death is not
    segmented again. Every photo done, none failed."""
    from conftest import write_photos
    from drywallqa.engine.batch_ray import predict_paths_ray

    jobs = _played_ray_data(monkeypatch, dies=lambda name, tries: name == "p1.jpg" and tries == 1)
    photos = write_photos(tmp_path / "photos", 4)
    summary = predict_paths_ray(tiny_model_dir, [photos], ["segment crack"], tmp_path / "out", batch_size=1)
    assert sorted(summary.done) == [str(photos / f"p{i}.jpg") for i in range(4)] and not summary.failed
    assert jobs == [["p0.jpg", "p1.jpg", "p2.jpg", "p3.jpg"], ["p1.jpg"], ["p2.jpg", "p3.jpg"]]
    assert len(__import__("json").loads((tmp_path / "out" / "results.json").read_text())["images"]) == 4


def test_a_ray_worker_death_with_no_marker_names_the_photos_not_done_and_keeps_those_done(tiny_model_dir, tmp_path,
                                                                                          monkeypatch, caplog):
    """The disk takes no marker (each actor's note of the photo it is on: ENOSPC), then a worker dies: the photo that
    killed it cannot be told, so the job stops. The photo finished before is kept done; the others are each named not
    done with Ray's one line and what to do; results.json lists them; the same job run again finishes only them."""
    import errno
    import json

    from conftest import write_photos
    from drywallqa.engine import batch_ray
    from drywallqa.engine.batch_ray import predict_paths_ray

    dying = [True]
    _played_ray_data(monkeypatch, dies=lambda name, tries: name == "p1.jpg" and dying[0])
    real = batch_ray.write_text_atomic

    def no_room(text, path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(batch_ray, "write_text_atomic", no_room)
    photos, out = write_photos(tmp_path / "photos", 3), tmp_path / "out"
    with caplog.at_level(logging.WARNING):
        summary = predict_paths_ray(tiny_model_dir, [photos], ["segment crack"], out, batch_size=1)
    assert summary.done == [str(photos / "p0.jpg")]
    assert [p for p, _ in summary.failed] == [str(photos / "p1.jpg"), str(photos / "p2.jpg")]
    assert all(why == "not done: the Ray job stopped (ActorDiedError: The actor died unexpectedly before finishing "
               "this task.); run the job again to finish it" for _, why in summary.failed), summary.failed
    assert "No space left on device" in caplog.text  # the marker not written: said
    written = json.loads((out / "results.json").read_text())
    assert [e["image"] for e in written["images"]] == [str(photos / "p0.jpg")] and len(written["failed"]) == 2
    dying[0] = False
    monkeypatch.setattr(batch_ray, "write_text_atomic", real)
    again = predict_paths_ray(tiny_model_dir, [photos], ["segment crack"], out, batch_size=1)
    assert again.skipped == [str(photos / "p0.jpg")] and len(again.done) == 2 and not again.failed


def test_a_ray_job_whose_disk_fills_up_before_results_json_keeps_the_photos_done(tiny_model_dir, tmp_path,
                                                                                 monkeypatch):
    """The disk takes two masks, then nothing, not even results.json: the command ends in one line (exit 1, no
    traceback), each photo done has its record and is not segmented again when the same command runs once there is
    room."""
    import errno

    from typer.testing import CliRunner

    from conftest import write_photos
    from drywallqa.cli import app
    from drywallqa.engine import batch

    _played_ray_data(monkeypatch)
    real_write, real_text, room = batch.write_atomic, batch.write_text_atomic, [2]

    def full_after_two(path, write):
        if path.suffix == ".png":
            if not room[0]:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
            room[0] -= 1
        return real_write(path, write)

    def no_results(text, path):
        if path.name == "results.json":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_text(text, path)

    monkeypatch.setattr(batch, "write_atomic", full_after_two)
    monkeypatch.setattr(batch, "write_text_atomic", no_results)
    photos, out = write_photos(tmp_path / "photos", 5), tmp_path / "out"
    args = ["predict", str(photos), "-p", "segment crack", "--out", str(out), "--model-path", str(tiny_model_dir),
            "--executor", "ray"]
    res = CliRunner().invoke(app, args, terminal_width=300)
    assert res.exit_code == 1 and "No space left on device" in res.output and "Traceback" not in res.output, res.output
    assert not (out / "results.json").exists() and len(list(out.glob("p*__results.json"))) == 2
    monkeypatch.setattr(batch, "write_atomic", real_write)
    monkeypatch.setattr(batch, "write_text_atomic", real_text)
    res = CliRunner().invoke(app, args, terminal_width=300)
    assert res.exit_code == 0 and "3 images done, 2 skipped (done before), 0 failed" in res.output, res.output


def test_a_ray_job_whose_markers_folder_does_not_fit_says_to_free_space_as_a_full_disk_does(tiny_model_dir, tmp_path,
                                                                                            monkeypatch):
    """The output folder's disk full as the job makes the folder of its actors' markers: each photo was named "not
    done: the Ray job stopped (OSError: [Errno 28] ...); run the job again", and the command did not say the disk
    was full. Now the photos are named as a full disk names them (free some space and run it again), and the command
    ends in the one line a full disk gives (exit 1, no traceback); the same command finishes the job once there is
    room."""
    import errno
    from pathlib import Path

    from typer.testing import CliRunner

    from conftest import write_photos
    from drywallqa.cli import app
    from drywallqa.engine.batch import INFLIGHT_PREFIX

    _played_ray_data(monkeypatch)
    real = Path.mkdir

    def full(self, *args, **kwargs):
        if self.parent.name.startswith(INFLIGHT_PREFIX):  # a job's markers' folder
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", full)
    photos, out = write_photos(tmp_path / "photos", 3), tmp_path / "out"
    args = ["predict", str(photos), "-p", "segment crack", "--out", str(out), "--model-path", str(tiny_model_dir),
            "--executor", "ray"]
    res = CliRunner().invoke(app, args, terminal_width=300)
    said = " ".join(res.output.split())
    assert res.exit_code == 1 and "Traceback" not in said, said
    assert "error: cannot write: No space left on device" in said and "free some space" in said, said
    failed = __import__("json").loads((out / "results.json").read_text())["failed"]
    assert len(failed) == 3 and all(why.startswith("not done: the job stopped as the disk could not take its outputs")
                                    for _, why in failed), failed
    monkeypatch.setattr(Path, "mkdir", real)
    res = CliRunner().invoke(app, args, terminal_width=300)
    assert res.exit_code == 0 and "3 images done" in res.output, res.output


def test_a_ship_puts_back_a_candidate_a_killed_ship_left_hidden(tiny_model_dir, synthetic_datasets, syn_splits,
                                                                 tmp_path):
    """A ship killed between the two renames that put its new model in ``OUT.candidate`` leaves no candidate, the
    earlier one whole in ``.OUT.candidate.replaced``: hidden for good unless a later ship wrote a candidate again.
    Now the next ship puts it back, saying so."""
    from drywallqa.engine.shipping import ship

    dest = tmp_path / "shipped"
    shutil.copytree(tiny_model_dir, dest)
    candidate = tmp_path / "shipped.candidate"
    hidden = _killed_between_the_renames(tiny_model_dir, candidate, ("notes.txt", "mine"))
    lines = []
    ship(tiny_model_dir, dest, datasets=("syn_crack", "syn_tape"), scales=((64,),), tta=(False,), splits_dir=syn_splits,
         datasets_dir=synthetic_datasets, timing_images=2, budget=False, gate=False, confidence=False,
         drywall_check=None, progress=False, report=lambda line: lines.append(str(line)))
    assert (candidate / "notes.txt").read_text() == "mine" and not hidden.exists()
    assert any(str(hidden) in line and "put back" in line for line in lines), lines
