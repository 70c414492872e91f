"""Folders in use: the lock file one command holds while it writes into a folder (whichever process, container or
host runs another), whether a live process holds one, whether a process is alive, and the folders a command made
for its lock, taken away again when it leaves them empty."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from filelock import FileLock, Timeout


# how long a command waits for a lock before it counts as held by another: a check whether a folder is in use
# (:func:`lock_held`) holds the lock for an instant, and a command starting in that instant was refused as if another
# wrote the folder (a real writer holds it for the whole of its work)
LOCK_WAIT_S = 0.3


def folders_to_make(folder: str | Path) -> list[Path]:
    """The folders that making ``folder`` (with its parents) makes: ``folder`` and each parent not there, the deepest
    first (:func:`remove_made_folders` takes them away again)."""
    made = []
    for p in (Path(folder), *Path(folder).parents):
        if p.exists() or p.is_symlink():
            break
        made.append(p)
    return made


def remove_made_folders(made: list[Path]) -> None:
    """Remove the folders :func:`folders_to_make` listed, the deepest first, up to the first that is not empty (or
    cannot be removed): what a command made and left unused goes, what holds anything stays."""
    for p in made:
        try:
            p.rmdir()
        except OSError:
            break


@contextmanager
def folder_lock(folder: str | Path, lock_name: str, user: str, instead: str) -> Iterator[Path]:
    """Hold ``folder/lock_name`` for the block: one ``user`` ("training run", "evaluation") writing into a folder at a
    time, whichever process, container or host runs the other (the lock is ``filelock``'s, on the folder's file
    system). The folder is made for it, and removed again, with the parents made for it, when the block leaves nothing
    else in it: a run that fails on its data leaves no folder behind. Yields the folder.

    Raises:
        ValueError: naming the folder, when another ``user`` holds its lock (``instead``: what to do, e.g. "choose
            another --out"), when the lock file cannot be opened (a folder in its place), or when the folder cannot be
            made.
    """
    folder = Path(folder)
    made = folders_to_make(folder)
    lock_path = folder / lock_name
    for attempt in range(5):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValueError(f"{folder}: cannot make the output folder ({exc.strerror or exc})") from None
        lock = FileLock(str(lock_path), timeout=LOCK_WAIT_S)
        try:
            lock.acquire()
        except Timeout:
            raise ValueError(_in_use(lock_path, user, instead)) from None
        except OSError as exc:  # a folder or a link loop in its place, another user's lock file: was a traceback
            if isinstance(exc, FileNotFoundError) and not folder.is_dir() and attempt < 4:
                # the command that held it made the folder and removed it as it ended, while this one waited for it
                # (LOCK_WAIT_S): made again (and removed again at the end where left empty)
                made += [p for p in folders_to_make(folder) if p not in made]
                continue
            raise ValueError(f"{lock_path} cannot be opened ({exc.strerror or exc}): it is the lock of each {user} "
                             f"writing into {folder}; remove it (or let this user write it), or {instead}") from None
        break
    try:
        yield folder
    finally:
        try:  # still holding the lock: a run that takes it after the release finds no file to lose under it
            if made and all(p.name == lock_name for p in folder.iterdir()):
                lock_path.unlink(missing_ok=True)
                remove_made_folders(made)  # not empty (another run's lock file or folder meanwhile): left as it is
        except OSError:
            pass
        lock.release()


def folder_in_use(folder: str | Path, lock_name: str, user: str, instead: str) -> str | None:
    """Why a ``user`` cannot write into ``folder`` now: another holds ``folder/lock_name`` (:func:`folder_lock`'s
    message, said before the work loads); None where none does. Nothing is made."""
    lock_path = Path(folder) / lock_name
    return _in_use(lock_path, user, instead) if lock_held(lock_path) else None


def lock_held(lock_path: str | Path) -> bool:
    """Whether a live process holds the lock file ``lock_path`` now (one a killed process left is held by none; one
    held for less than :data:`LOCK_WAIT_S`, as this check itself holds it, by none either). Nothing is made; a lock
    file this user may not open counts as not held (its holder's command says so when it tries)."""
    if not Path(lock_path).is_file():
        return False
    lock = FileLock(str(lock_path), timeout=LOCK_WAIT_S)
    try:
        lock.acquire()
    except Timeout:
        return True
    except OSError:
        return False
    lock.release()
    return False


def _in_use(lock_path: Path, user: str, instead: str) -> str:
    return f"{lock_path.parent} is in use by another {user} (it holds {lock_path}): wait for it to end, or {instead}"


def process_alive(pid: int) -> bool:
    """Whether a process of this id runs on this machine (one of another user counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process: leave its file alone
    return True
