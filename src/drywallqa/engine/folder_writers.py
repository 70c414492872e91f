"""Commands that replace a model folder whole when they end hold a lock file beside it while they write: ``ship``
(``.<name>.ship.lock``) and ``export onnx`` (``.<name>.export.lock``). Whatever else would write into that folder
meanwhile (a calibration, the other of the two, a second of the same) asks :func:`writer_in_progress` and is
refused, naming the lock: its work would be replaced unsaid when the writer ends (a calibration said "wrote", then
was gone; a ship and an export into one folder each replaced the other's)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from ..utils.locks import LOCK_WAIT_S, lock_held

WRITERS = {"ship": ("a ship", ".ship.lock"), "export": ("an ONNX export", ".export.lock")}  # name: (said, suffix)


class FolderInUse(ValueError):
    """Another command writes the folder now (:data:`WRITERS`): nothing was written."""


def writer_lock_path(folder: str | Path, writer: str) -> Path:
    """The lock file ``writer`` (a key of :data:`WRITERS`) holds beside ``folder`` while it writes it."""
    folder = Path(folder).resolve()  # one folder under two paths (a link) has one lock
    return folder.with_name(f".{folder.name}{WRITERS[writer][1]}")


def writer_in_progress(folder: str | Path, writers=tuple(WRITERS)) -> tuple[str, Path] | None:
    """``(what, lock)`` of the first of ``writers`` writing ``folder`` now ("a ship", its lock file held), or None.
    Nothing is made."""
    for writer in writers:
        lock_path = writer_lock_path(folder, writer)
        if lock_held(lock_path):
            return WRITERS[writer][0], lock_path
    return None


def in_use_message(folder: str | Path, what: str, lock: Path, instead: str) -> str:
    """What a command refused because ``what`` ("a ship") holds ``lock`` writing ``folder`` says."""
    return f"{what} is writing {folder} (it holds {lock}) and replaces it whole when it ends: {instead}"


@contextmanager
def holding_writer_lock(folder: Path, writer: str, instead: str):
    """Hold ``writer``'s lock beside ``folder`` (whose parent exists) while it writes it; refused where another of
    :data:`WRITERS` writes it (looked at once this lock is held: one begun now sees this one). The lock file is removed
    at the end. ``instead`` ends the refusal ("ship into another --out").

    Raises:
        FolderInUse: another command writes ``folder``, or the lock file cannot be opened or made (said which)."""
    lock_path = writer_lock_path(folder, writer)
    what = WRITERS[writer][0]
    lock = FileLock(str(lock_path), timeout=LOCK_WAIT_S)  # a check's instant
    try:
        lock.acquire()
    except Timeout:
        raise FolderInUse(f"another {what.split(' ', 1)[1]} is writing {folder} (it holds {lock_path}): wait for it "
                          f"to end, or {instead}") from None
    except OSError as exc:
        why, parent = exc.strerror or exc, lock_path.parent
        if os.path.lexists(lock_path):  # one there that cannot be opened (another user's, a folder so named)
            raise FolderInUse(f"{lock_path} cannot be opened ({why}): it is the lock of each "
                              f"{what.split(' ', 1)[1]} writing {folder}; remove it, or {instead}") from None
        if not parent.is_dir():  # none to remove: the folder it is made in is the cause
            raise FolderInUse(f"{lock_path}, the lock of each {what.split(' ', 1)[1]} writing {folder}, cannot be made "
                              f"({why}): {parent} does not exist; make it, or {instead}") from None
        raise FolderInUse(f"{lock_path}, the lock of each {what.split(' ', 1)[1]} writing {folder}, cannot be made "
                          f"({why}): {parent} cannot be written; make it writable, or {instead}") from None
    try:
        other = writer_in_progress(folder, [w for w in WRITERS if w != writer])
        if other is not None:
            raise FolderInUse(in_use_message(folder, *other, f"wait for it to end, or {instead}"))
        yield lock_path
    finally:
        try:
            lock_path.unlink(missing_ok=True)  # still holding it: a writer that takes it after the release makes its own
        except OSError:  # a file held open cannot be deleted (Windows): filelock deletes it as it releases it
            pass
        lock.release()
