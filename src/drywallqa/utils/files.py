"""Writing files so that a reader (or a rerun after ``kill -9``) never sees half of one: atomic writes (text, CSV),
folders filled beside their place and renamed into it or replacing one whole, and the temporaries a killed run left
swept. (Folders in use: :mod:`~drywallqa.utils.locks`; paths checked before any work: :mod:`~drywallqa.utils.paths`;
strict JSON and spreadsheet cells: :mod:`~drywallqa.utils.formats`; a job's output folder:
:mod:`~drywallqa.utils.output_folders`; file digests and stamps: :mod:`~drywallqa.utils.stamps`. A batch job's
``results.json`` is read back in :mod:`drywallqa.engine.batch_results`.)"""

from __future__ import annotations

import errno
import glob
import logging
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from filelock import FileLock, Timeout

from .deprecation import deprecated_names
from .formats import spreadsheet_cell
from .locks import process_alive
from .signals import deferred_interrupt


try:
    import fcntl
except ImportError:  # Windows: temporaries are told apart by their process id
    fcntl = None

logger = logging.getLogger(__name__)

# what a disk says when it cannot take a command's outputs: full, over quota, a file too large, mounted read-only
STORAGE_ERRNOS = frozenset(getattr(errno, name) for name in ("ENOSPC", "EDQUOT", "EFBIG", "EROFS") if hasattr(errno, name))
TMP_SUFFIX = ".tmp"  # temporary files of write_atomic: .<name>.<pid>-<random>.tmp
_TMP_NAME = re.compile(r"\..+\.\d+-[a-z0-9_]+" + re.escape(TMP_SUFFIX), re.DOTALL)  # .<name>.<pid>-<random>.tmp


def _read_umask() -> int:
    mask = os.umask(0o022)  # the only way to read it is to set it: done once, at import
    os.umask(mask)
    return mask


UMASK = _read_umask()


TEMP_LOCK_SUFFIX = ".lock"  # <folder>.lock beside a temp_dir folder, locked while its process fills it


@contextmanager
def temp_dir(parent: str | Path, prefix: str) -> Iterator[Path]:
    """A new folder ``<prefix><pid>-<random>`` in ``parent`` to fill and then rename into place (inside the block);
    whatever is left of it is removed at the end. It gets the permissions a plain ``mkdir`` would give it
    (``tempfile.mkdtemp`` makes it private to its owner, which a model folder read by a server under another user
    must not be). While the block runs, ``<folder>.lock`` beside it is locked (``filelock``): the folders a killed
    run left are recognised by a lock nobody holds and removed first (:func:`remove_stale_temp_dirs`), while a live
    run's folder is never touched, whichever process, container or host runs it."""
    remove_stale_temp_dirs(parent, prefix)
    path = Path(tempfile.mkdtemp(dir=parent, prefix=f"{prefix}{os.getpid()}-"))
    path.chmod(0o777 & ~UMASK)
    lock_path = path.with_name(path.name + TEMP_LOCK_SUFFIX)
    lock = FileLock(str(lock_path))
    try:
        with lock:
            if not path.is_dir():  # taken for a killed run's by a cleaning in another process between its making and
                path.mkdir()  # its locking (remove_stale_temp_dirs): made again, now that it is locked
                path.chmod(0o777 & ~UMASK)
            yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        lock_path.unlink(missing_ok=True)


def remove_stale_temp_dirs(parent: str | Path, prefix: str) -> int:
    """Delete the folders :func:`temp_dir` made in ``parent`` with ``prefix`` whose lock nobody holds (their run was
    killed); a folder without its lock file (not made by :func:`temp_dir`) is left alone. Returns how many."""
    removed = 0
    for lock_path in Path(parent).glob(f"{glob.escape(prefix)}*{TEMP_LOCK_SUFFIX}"):
        path = lock_path.with_name(lock_path.name[:-len(TEMP_LOCK_SUFFIX)])
        if not lock_path.is_file():
            continue  # a folder so named (its lock could not be opened: IsADirectoryError ended the command)
        lock = FileLock(str(lock_path), timeout=0)
        try:
            lock.acquire()
        except (Timeout, OSError):
            continue  # held: a run is filling it (or not ours to open)
        held_open = False
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
            try:
                lock_path.unlink(missing_ok=True)  # while it is held: a run that made it and locks it now finds it gone
            except OSError:  # a file held open cannot be deleted (Windows; its filelock deletes it as it releases it)
                held_open = True
        finally:
            lock.release()
        if held_open:
            try:
                lock_path.unlink(missing_ok=True)
            except OSError:  # another run holds it now (its folder is made again once it does: temp_dir)
                pass
    return removed


def write_atomic(path: str | Path, write: Callable[[Path], object]) -> Path:
    """``write(tmp)`` to a temporary file beside ``path``, then rename it to ``path`` (atomic on one file
    system: a kill leaves the old file or the new one, never half of one); returns ``path``.

    Each call writes its own temporary file, so concurrent writers of one path (threads, processes)
    never mix their bytes: the last rename wins whole. A failed ``write`` leaves no temporary file. The temporary
    file is locked (``flock``) until it is renamed, so :func:`remove_stale_temporaries` tells a killed writer's
    leftover from a live one's, in whichever process, container or host it runs."""
    path = Path(path)
    fd, tmp = _locked_temporary(path)
    try:
        os.fchmod(fd, 0o666 & ~UMASK)  # as a plain open() would create it (mkstemp's file is its owner's only)
        write(tmp)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)  # releases the lock
    return path


def _locked_temporary(path: Path) -> tuple[int, Path]:
    """A new temporary file beside ``path`` for :func:`write_atomic`, open and locked (``flock``; advisory: ``write``
    opens the file by its name as usual): its descriptor and path. A cleaning of the folder in another process
    (:func:`remove_stale_temporaries`) may take it for a killed write's between its making and its locking, and remove
    it: then another is made (written by its name, the file made again unlocked was removed by the next cleaning
    while it was written, and the rename failed)."""
    while True:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:100]}.{os.getpid()}-", suffix=TMP_SUFFIX)
        if fcntl is None:
            return fd, Path(name)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            mine, there = os.fstat(fd), os.stat(name)
            if (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino):
                return fd, Path(name)
        except FileNotFoundError:  # removed by a cleaning before it was locked
            pass
        except BaseException:
            os.close(fd)
            Path(name).unlink(missing_ok=True)
            raise
        os.close(fd)


def _remove_abandoned(tmp: Path) -> bool:
    """Remove the temporary file ``tmp`` where no live :func:`write_atomic` call holds it: its lock can be taken
    (where ``flock`` exists), else the process named in it is not running on this machine. Removed while its lock is
    held, so that a writer that made it and had not locked it yet finds it gone once it does
    (:func:`_locked_temporary`). Returns whether it was removed."""
    if fcntl is None:
        pid = tmp.name[:-len(TMP_SUFFIX)].rsplit(".", 1)[-1].split("-", 1)[0]
        if pid.isdigit() and not process_alive(int(pid)):
            tmp.unlink(missing_ok=True)
            return True
        return False
    try:
        fd = os.open(tmp, os.O_RDONLY)
    except OSError:
        return False  # gone already, or not ours to read
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        tmp.unlink(missing_ok=True)
        return True
    except OSError:
        return False  # held: a writer is at work (or not ours to remove)
    finally:
        os.close(fd)


def remove_stale_temporaries(folder: str | Path) -> int:
    """Delete the temporary files that :func:`write_atomic` calls killed before their rename left in ``folder``
    (those no live call holds); returns how many."""
    removed = 0
    for tmp in Path(folder).glob(f".*{TMP_SUFFIX}"):
        # not a user's own ".notes.tmp", nor a folder so named (unlink failed on it: IsADirectoryError ended the command)
        if _TMP_NAME.fullmatch(tmp.name) and tmp.is_file() and _remove_abandoned(tmp):
            removed += 1
    return removed


def write_text_atomic(text: str, path: str | Path) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file beside it and a rename; returns ``path``. A file
    name that is no UTF-8 in ``text`` (its bytes kept as lone surrogates when the file system's name was read) is
    written as those bytes (surrogateescape), as the name is on disk."""
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8", errors="surrogateescape"))


def write_csv_atomic(rows: list[dict], fieldnames: list[str], path: str | Path) -> Path:
    """``rows`` as a CSV table with a header (UTF-8; a file name's bytes that are no UTF-8 as they are on disk, as
    :func:`write_text_atomic` writes them; a text cell a spreadsheet would run as a formula starts with an apostrophe:
    :func:`~drywallqa.utils.formats.spreadsheet_cell`), written like :func:`write_atomic`."""
    import csv

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8", errors="surrogateescape") as f:
            w = csv.DictWriter(f, fieldnames=fieldnames)
            w.writeheader()
            w.writerows({key: spreadsheet_cell(value) for key, value in row.items()} for row in rows)

    return write_atomic(path, write)


class KeptAside(Exception):
    """:func:`replace_dir` replaced ``dest``, but kept the folder it replaced, in ``kept``, where that held ``names``
    (files its caller did not know of: put into ``dest`` after it was last looked at, before it was renamed aside)."""

    def __init__(self, dest: Path, kept: Path, names: list[str], earlier: bool = False):
        self.dest, self.kept, self.names, self.earlier = dest, kept, names, earlier
        what = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "") if names else "files it could not list"
        if earlier:  # the folder an earlier replace set aside, killed before it looked at it (see replace_dir)
            super().__init__(f"an earlier replace of {dest} was stopped before it removed the folder it replaced, "
                             f"which held {what}, put there meanwhile: that folder is kept whole in {kept}; move what "
                             "is needed out of it, then delete it")
        else:
            super().__init__(f"{dest} was replaced, but the folder it replaced held {what}, put there meanwhile: "
                             f"that folder is kept whole in {kept}; move what is needed out of it, then delete it")


def _drop_replaced(old: Path, dest: Path, unexpected, earlier: bool = False) -> KeptAside | None:
    """Remove ``old``, the folder :func:`replace_dir` set aside, unless ``unexpected`` (given it) names files in it:
    then it is renamed beside ``dest`` to ``<name>.replaced`` (``.replaced-2``, ... where taken), not hidden (a later
    replace would remove a hidden one), and the :class:`KeptAside` that says so returned (``earlier``: of a folder an
    earlier replace set aside and was killed before it removed)."""
    if unexpected is None or old.is_symlink() or not old.is_dir():  # a link: only the link goes, not what it led to
        _remove_entry(old)
        return None
    try:
        names = list(unexpected(old))
    except OSError:  # cannot be listed: kept, not deleted unseen
        names = []
    else:
        if not names:
            _remove_entry(old)
            return None
    kept, n = dest.with_name(f"{dest.name}.replaced"), 1
    while kept.exists() or kept.is_symlink():
        n += 1
        kept = dest.with_name(f"{dest.name}.replaced-{n}")
    try:
        old.rename(kept)
    except OSError:  # left under its hidden name, said
        kept = old
    return KeptAside(dest, kept, names, earlier)


def replace_dir(new: str | Path, dest: str | Path, unexpected: Callable[[Path], list] | None = None,
                unexpected_earlier: Callable[[Path], list] | None = None) -> Path:
    """Rename the filled folder ``new`` to ``dest``, replacing a folder there whole: the old one is renamed aside
    (``.<name>.replaced``, a leftover of a killed run removed first) and removed once the new one is in; if that
    last rename fails, the old one is put back. ``dest`` a link (to a folder, or dangling) is replaced by the new
    folder; what it pointed to is left as it was. Ctrl-C or a stop signal between the two renames waits for the second
    (:func:`~drywallqa.utils.signals.deferred_interrupt`): it left no ``dest`` (the old one aside, the new one removed
    with its temporary folder). Returns ``dest``.

    ``unexpected``: given the old folder once it is aside (nothing can be put into it under ``dest`` any more), the
    names in it that may not be deleted (what the caller did not see there when it last looked, before the renames:
    a file put there in between was deleted without a word); where it names any, the old folder is kept beside
    ``dest`` and :class:`KeptAside` raised, once the new folder is in.

    ``unexpected_earlier`` (``unexpected`` where not given): the same, of a ``.<name>.replaced`` left by an earlier
    replace killed after its two renames, before it looked at that folder (a file put into ``dest`` just before that
    swap is in it): where it names any, that folder is kept as ``<name>.replaced`` too (a WARNING, the
    :class:`KeptAside` with ``earlier``), not deleted unseen."""
    new, dest = Path(new), Path(dest)
    restore_replaced(dest)  # a replace killed between its renames: the earlier folder back first, replaced below
    old = dest.with_name(f".{dest.name}.replaced") if dest.exists() or dest.is_symlink() else None
    if old is not None:  # a killed run's; a link left there would fail the rename below, in every later run
        left = _drop_replaced(old, dest, unexpected_earlier or unexpected, earlier=True)
        if left is not None:
            logger.warning("%s", left)
            if left.kept == old:  # it could not be renamed: this replace cannot set its folder aside there
                raise OSError(errno.EEXIST, f"{dest} was not replaced: {left}", str(old))
    try:
        with deferred_interrupt():
            if old is not None:
                dest.rename(old)
            try:
                new.rename(dest)
            except OSError:
                if old is not None:
                    old.rename(dest)
                raise
    except KeyboardInterrupt:  # held back until both renames were made: the old one is no longer needed either
        if old is not None and (kept := _drop_replaced(old, dest, unexpected)) is not None:
            logger.warning("%s", kept)
        raise
    if old is not None and (kept := _drop_replaced(old, dest, unexpected)) is not None:
        raise kept
    return dest


def restore_replaced(dest: str | Path) -> bool:
    """Put back the folder :func:`replace_dir` set aside as ``.<name>.replaced`` where ``dest`` is gone: a SIGKILL
    between its two renames (no signal handler can hold that one back) left no ``dest``, the earlier folder whole
    under the hidden name for good. Returns whether it was put back."""
    dest = Path(dest)
    old = dest.with_name(f".{dest.name}.replaced")
    # os.path: a name longer than the disk allows (its hidden one) is none there (Path.exists raised ENAMETOOLONG); a
    # link: dest was one (replace_dir renames the link aside, not what it leads to), put back as it was
    if os.path.lexists(dest) or not (os.path.isdir(old) or os.path.islink(old)):
        return False
    try:
        old.rename(dest)
    except OSError:  # another process put it back (or replaced it) meanwhile
        return False
    return True


def replaced_hint(dest: str | Path) -> str:
    """``"; ..."`` naming the folder :func:`replace_dir` set aside as ``.<name>.replaced`` where it is there and
    ``dest`` is not (a replace killed between its renames, or under way), else nothing: for messages saying ``dest``
    is missing (a model a ``ship`` was replacing: the earlier one is there, whole)."""
    dest = Path(dest)
    old = dest.with_name(f".{dest.name}.replaced")
    if os.path.lexists(dest) or not (os.path.isdir(old) or os.path.islink(old)):  # (os.path, a link: as restore_replaced)
        return ""
    return (f"; a replace of it was stopped between its two renames (a ship or export killed), or is under way: the "
            f"folder it replaced is whole in {old} (rename it back to {dest.name}; the next ship or export into it "
            "does)")


def _remove_entry(path: Path) -> None:
    """Remove ``path`` whatever it is, if anything: a link (not what it points to), a file or a folder."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path, ignore_errors=True)



# names this module held up to 0.6.28, moved to a module of their own concern in 0.6.29: read with a warning for one
# more release
_MOVED = {
    "locks": ("LOCK_WAIT_S", "folders_to_make", "remove_made_folders", "folder_lock", "folder_in_use", "lock_held"),
    "paths": ("lexical_path", "resolved", "why_not", "calibration_file_there", "not_a_file_error", "check_links",
              "check_writable_path", "check_replaceable_dir"),
    "formats": ("cell_text", "strict_json"),
    "output_folders": ("BATCH_RESULTS", "ZEROSHOT_REPORT", "ZEROSHOT_JOB", "REPORT_FILES", "OUTPUT_MARKER",
                       "OUTPUT_FILES", "is_output_folder", "is_output_file", "mark_output_folder"),
    "stamps": ("WEIGHT_SUFFIXES", "file_digest", "file_stamp", "file_id", "folder_state"),
}
__getattr__ = deprecated_names(__name__, {name: (f"drywallqa.utils.{home}", name)
                                          for home, names in _MOVED.items() for name in names})
