"""A check whether a folder is in use (``utils.locks.lock_held``: a calibration asking whether a ship writes the
folder, a command asking before its model loads) holds the lock for an instant. A command taking the lock in that
instant was refused as if another one wrote the folder ("another ONNX export is writing ..."), and two checks at once
each saw the other as a writer. A lock held for an instant now counts as free; one held for the work is still held."""

import threading

import pytest
from filelock import FileLock

from drywallqa.engine.folder_writers import FolderInUse, holding_writer_lock, writer_lock_path
from drywallqa.utils.locks import folder_lock, lock_held


def _held_for_an_instant(path):
    """The lock at ``path`` taken as a check takes it, and let go a moment later (from another thread)."""
    check = FileLock(str(path), timeout=0)
    check.acquire()
    threading.Timer(0.02, check.release).start()
    return check


def test_a_writer_starting_during_a_check_writes(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    _held_for_an_instant(writer_lock_path(folder, "export"))
    with holding_writer_lock(folder, "export", "export to another --out") as lock:
        assert lock.is_file()


def test_a_folder_lock_taken_during_a_check_is_taken(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    _held_for_an_instant(folder / ".lock")
    with folder_lock(folder, ".lock", "evaluation", "choose another --out"):
        pass


def test_a_check_during_a_check_sees_no_writer_and_a_writer_is_still_seen(tmp_path):
    path = tmp_path / ".x.lock"
    _held_for_an_instant(path)
    assert not lock_held(path)
    folder = tmp_path / "model"
    folder.mkdir()
    with holding_writer_lock(folder, "ship", "ship into another --out") as lock:
        assert lock_held(lock)
        with pytest.raises(FolderInUse, match="another ship is writing"):
            with holding_writer_lock(folder, "ship", "ship into another --out"):
                pass
