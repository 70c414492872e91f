"""utils/files: folders filled and then renamed into place (``ship``, ``export onnx``): what a killed run left is
swept by the next run, what a running one is filling is left alone; reports written as standard JSON."""

from pathlib import Path

import pytest
from filelock import FileLock

from drywallqa.export.onnx import export_onnx
from drywallqa.utils.files import temp_dir


def _left(parent, name, lock=True):
    """A half-filled folder as a run leaves it, with its lock file beside it (unheld: the run is gone)."""
    (parent / name / "sub").mkdir(parents=True)
    (parent / name / "sub" / "weights.bin").write_bytes(b"x" * 10)
    if lock:
        (parent / f"{name}.lock").write_text("")
    return parent / name


def test_leftovers_of_killed_runs_are_removed_live_ones_and_others_kept(tmp_path):
    dead = _left(tmp_path, ".model.shipping.123-abc")
    live = _left(tmp_path, ".model.shipping.456-def")  # its run still holds the lock (another process, container, host)
    backup = _left(tmp_path, ".model.shipping.20240115-backup", lock=False)  # a folder of the user's: no lock file
    other = _left(tmp_path, ".other.shipping.123-ghi")  # another destination's
    with FileLock(str(live) + ".lock"):
        with temp_dir(tmp_path, ".model.shipping.") as new:
            assert new.is_dir() and Path(str(new) + ".lock").is_file()
            assert not dead.exists() and not Path(str(dead) + ".lock").exists()
            assert live.is_dir() and backup.is_dir() and other.is_dir()
    assert not new.exists() and not Path(str(new) + ".lock").exists()  # nothing left behind


def test_export_sweeps_what_a_killed_export_left(tiny_model_dir, tmp_path):
    left = _left(tmp_path, ".onnx.999-xyz")
    (left / "encoder.onnx").write_bytes(b"half")
    export_onnx(tiny_model_dir, tmp_path / "onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["onnx", "tiny_model"]


def test_strict_json_writes_null_for_what_json_cannot_hold():
    import json

    import numpy as np

    from drywallqa.utils.formats import strict_json

    text = strict_json({"AUROC": float("nan"), "rows": [1.5, float("inf"), np.float32(0.25), (np.int64(3),)]})
    assert json.loads(text, parse_constant=lambda c: 1 / 0) == {"AUROC": None, "rows": [1.5, None, 0.25, [3]]}


def test_write_atomic_leftovers_are_told_apart_by_their_lock_not_their_pid(tmp_path):
    """A temporary file of a live writer (whatever its process id says: another container's pid may be any number)
    stays; one nobody holds is a killed writer's and goes."""
    import fcntl
    import os

    from drywallqa.utils.files import remove_stale_temporaries, write_atomic

    live = tmp_path / f".a.png.{os.getpid()}-x.tmp"  # our own pid, yet abandoned: no lock held
    held = tmp_path / ".b.png.1-y.tmp"  # pid 1 says nothing; its writer holds the lock
    for f in (live, held):
        f.write_bytes(b"half")
    fd = os.open(held, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        assert remove_stale_temporaries(tmp_path) == 1
        assert not live.exists() and held.exists()
    finally:
        os.close(fd)
    write_atomic(tmp_path / "c.txt", lambda tmp: tmp.write_text("whole"))
    assert (tmp_path / "c.txt").read_text() == "whole" and remove_stale_temporaries(tmp_path) == 1  # held's turn now
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.txt"]


def test_a_folder_replaced_through_a_link_leaves_no_link_behind_and_can_be_replaced_again(tmp_path):
    """An --out that is a link to an earlier export (or a model folder for ship) was renamed aside as
    ``.<name>.replaced`` and never removed (rmtree refuses links): every later export or ship into it failed with
    'Not a directory'."""
    from drywallqa.utils.files import replace_dir

    target = tmp_path / "v1"
    target.mkdir()
    (target / "encoder.onnx").write_text("old")
    (tmp_path / "current").symlink_to(target)
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    for round_ in ("first", "second"):
        for name in ("current", "dangling"):
            new = tmp_path / f"new-{name}-{round_}"
            new.mkdir()
            (new / "encoder.onnx").write_text(round_)
            replace_dir(new, tmp_path / name)
            assert (tmp_path / name / "encoder.onnx").read_text() == round_
    assert (target / "encoder.onnx").read_text() == "old"  # what the link pointed to is left as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["current", "dangling", "v1"]


def test_file_stamp_changes_with_the_file_and_is_none_where_there_is_none(tmp_path):
    import os

    from drywallqa.utils.stamps import file_stamp

    path = tmp_path / "photo.jpg"
    path.write_bytes(b"abc")
    first = file_stamp(path)
    assert first == (3, path.stat().st_mtime_ns)
    os.utime(path, ns=(first[1] + 10**9, first[1] + 10**9))  # edited in place, same size
    assert file_stamp(path) != first and file_stamp(str(path)) == file_stamp(path)
    for nothing in (tmp_path / "gone.jpg", tmp_path, None, "a\0b.jpg"):  # missing, a folder, no path, no valid name
        assert file_stamp(nothing) is None


def test_ctrl_c_between_the_renames_of_a_folder_replaced_leaves_the_new_folder_in_place(tmp_path, monkeypatch,
                                                                                     python_sigint):
    """Ctrl-C (or a stop signal, as every command handles it) right after the old folder was renamed aside left no
    folder at all: the new one went with its temporary folder, the old one stayed hidden in .<name>.replaced. Held
    back until both renames were made, it was then raised before the old folder set aside was removed: a whole hidden
    copy of the replaced folder (a model's weights) was left beside the new one."""
    import os
    import signal

    from drywallqa.utils.files import replace_dir

    dest, new = tmp_path / "model", tmp_path / "new"
    for folder, text in ((dest, "old"), (new, "new")):
        folder.mkdir()
        (folder / "config.json").write_text(text)
    rename = Path.rename

    def pressed(self, target):
        moved = rename(self, target)
        if self == dest:  # the old one aside: Ctrl-C
            os.kill(os.getpid(), signal.SIGINT)
        return moved

    monkeypatch.setattr(Path, "rename", pressed)
    with pytest.raises(KeyboardInterrupt):
        replace_dir(new, dest)
    assert (dest / "config.json").read_text() == "new" and not new.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_a_kill_between_the_renames_of_a_folder_replaced_is_mended_by_the_next_replace_or_run(tmp_path, synthetic_datasets,
                                                                                            syn_splits, tiny_kwargs):
    """SIGKILL (no handler holds it back) between the two renames left no folder at all: the earlier export, shipped
    model or best/ whole under .<name>.replaced for good (the next replace left it there: it only cleans one up where
    the folder exists); a run resumed so had no best/."""
    from drywallqa.engine.trainer import Trainer
    from drywallqa.utils.files import replace_dir, restore_replaced

    dest = tmp_path / "export"
    aside = tmp_path / ".export.replaced"
    aside.mkdir()
    (aside / "config.json").write_text("old")  # as the kill left it: no export, the old one aside
    new = tmp_path / "new"
    new.mkdir()
    (new / "config.json").write_text("new")
    replace_dir(new, dest)
    assert (dest / "config.json").read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()
                                                                  if p.name != "datasets" and p.name != "splits") == ["export"]
    assert not restore_replaced(dest)  # nothing to put back

    from test_training import _tiny_config

    cfg = _tiny_config(synthetic_datasets, syn_splits, tmp_path / "run", tiny_kwargs)
    cfg.optim.epochs = 1
    Trainer(cfg, progress=False).train()
    (tmp_path / "run" / "best").rename(tmp_path / "run" / ".best.replaced")  # killed between the renames of a save
    cfg.optim.epochs = 2
    Trainer(cfg, progress=False).train(resume=True, max_minutes=1e-9)
    assert (tmp_path / "run" / "best" / "config.json").is_file() and not (tmp_path / "run" / ".best.replaced").exists()
