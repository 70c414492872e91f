"""Writing files so that a reader (or a rerun after ``kill -9``) never sees half of one: atomic writes (text, CSV,
strict JSON), folders replaced whole, the temporaries a killed run left swept, lock files of folders in use, paths
checked before any work, and file digests and stamps. (A batch job's ``results.json`` is read back in
:mod:`drywallqa.engine.batch_results`.)"""

from __future__ import annotations

import errno
import glob
import hashlib
import json
import math
import os
import re
import shutil
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from filelock import FileLock, Timeout

from .signals import deferred_interrupt


try:
    import fcntl
except ImportError:  # Windows: temporaries are told apart by their process id
    fcntl = None

# what a disk says when it cannot take a command's outputs: full, over quota, a file too large, mounted read-only
STORAGE_ERRNOS = frozenset(getattr(errno, name) for name in ("ENOSPC", "EDQUOT", "EFBIG", "EROFS") if hasattr(errno, name))
BATCH_RESULTS = "results.json"  # what a batch job (drywallqa predict) leaves in its output folder
ZEROSHOT_REPORT = "report.json"  # what a zero-shot job (drywallqa zeroshot) leaves in its output folder
ZEROSHOT_JOB = ".zeroshot_job.json"  # the zero-shot job writing into an output folder, written before its photos
TMP_SUFFIX = ".tmp"  # temporary files of write_atomic: .<name>.<pid>-<random>.tmp
_TMP_NAME = re.compile(r"\..+\.\d+-[a-z0-9_]+" + re.escape(TMP_SUFFIX), re.DOTALL)  # .<name>.<pid>-<random>.tmp
REPORT_FILES = "report_files"  # the folder of report.html's thumbnails, in an output folder
OUTPUT_MARKER = ".drywallqa-output"  # written into an output folder when a job starts: its files are no photos
# files a job writes besides ``<stem>__<...>`` ones (masks, records, overlays, anomaly maps)
OUTPUT_FILES = (BATCH_RESULTS, "results.csv", "report.html", "report.json", "predictions.coco.json", "overlay_grid.png",
                OUTPUT_MARKER)


def is_output_folder(folder: str | Path) -> bool:
    """Whether ``folder`` holds what a drywallqa job writes: its marker, a ``results.json``, or an image record
    (``<stem>__results.json``, left by a job killed before its ``results.json``)."""
    folder = Path(folder)
    return (folder / OUTPUT_MARKER).is_file() or (folder / BATCH_RESULTS).is_file() or \
        next(folder.glob("*__results.json"), None) is not None


def is_output_file(name: str) -> bool:
    """Whether a file of an output folder (:func:`is_output_folder`) is one a job wrote: ``<stem>__<...>.png`` or
    ``.json`` (a mask, record, overlay or anomaly map), one of :data:`OUTPUT_FILES`, the report's thumbnails
    (:data:`REPORT_FILES`) or a hidden one (its lock and temporary files); anything else there is the user's (a photo
    ``wall__01.jpg``: no job writes a JPEG so named)."""
    return (name in OUTPUT_FILES or name == REPORT_FILES or name.startswith(".")
            or ("__" in Path(name).stem and Path(name).suffix in (".png", ".json")))


def mark_output_folder(folder: str | Path) -> None:
    """Mark ``folder`` as a job's output folder (:data:`OUTPUT_MARKER`), so that no later job reads its files as
    photos, even when this one is killed before it writes anything else."""
    marker = Path(folder) / OUTPUT_MARKER
    if not marker.exists():  # a link to nowhere in its place (an output folder copied with its links) is replaced:
        # written through, it was a FileNotFoundError traceback of every job into the folder
        write_text_atomic("written by drywallqa: the files named <stem>__... here are outputs, not photos\n", marker)


def _read_umask() -> int:
    mask = os.umask(0o022)  # the only way to read it is to set it: done once, at import
    os.umask(mask)
    return mask


UMASK = _read_umask()


TEMP_LOCK_SUFFIX = ".lock"  # <folder>.lock beside a temp_dir folder, locked while its process fills it


# how long a command waits for a lock before it counts as held by another: a check whether a folder is in use
# (:func:`lock_held`) holds the lock for an instant, and a command starting in that instant was refused as if another
# wrote the folder (a real writer holds it for the whole of its work)
LOCK_WAIT_S = 0.3


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


def process_alive(pid: int) -> bool:
    """Whether a process of this id runs on this machine (one of another user counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process: leave its file alone
    return True


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


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a text cell starting so a spreadsheet runs as a formula


def spreadsheet_cell(value):
    """A text cell a spreadsheet would run as a formula (``=cmd|' /C calc'!A0``, ``-x``), made plain text (an apostrophe
    first); other cells (numbers too) as they are."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


def cell_text(value: str) -> str:
    """A text cell of a table :func:`write_csv_atomic` wrote, as it was before :func:`spreadsheet_cell` guarded it
    (``'-x`` -> ``-x``): for the tools that read such a table back (a dataset ``-x`` of per_image.csv matched no
    name)."""
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_START) else value


def write_csv_atomic(rows: list[dict], fieldnames: list[str], path: str | Path) -> Path:
    """``rows`` as a CSV table with a header (UTF-8; a file name's bytes that are no UTF-8 as they are on disk, as
    :func:`write_text_atomic` writes them; a text cell a spreadsheet would run as a formula starts with an apostrophe:
    :func:`spreadsheet_cell`), written like :func:`write_atomic`."""
    import csv

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8", errors="surrogateescape") as f:
            w = csv.DictWriter(f, fieldnames=fieldnames)
            w.writeheader()
            w.writerows({key: spreadsheet_cell(value) for key, value in row.items()} for row in rows)

    return write_atomic(path, write)


def strict_json(obj, indent: int | None = 2, round_trip: bool = False) -> str:
    """``obj`` as standard JSON: NaN and infinities (an AUROC with one class, a correlation of constants) become
    ``null``, which every parser reads (``NaN`` is not JSON: JavaScript's ``JSON.parse`` throws on it); a numpy or
    torch number is written as the number, a path as its text. Any other value JSON cannot hold is written as its text
    (a report is read, not built from), or with ``round_trip`` refused: a model's ``config.json`` is read back to build
    the model, and a value that comes back as another (a date, a set, an object as its text) builds another model or
    none.

    Raises:
        ValueError: with ``round_trip``, naming the key path of such a value (``config.encoder_options.when``), or of
        a mapping with a key JSON cannot write (a tuple: a TypeError of json's without it).
    """
    def refused(where: str, what: str):
        return ValueError(f"{where or 'the value'}: {what} cannot be written as JSON and read back as itself; give a "
                          "number, text, true/false, null, a list or a mapping with text keys")

    def clean(value, where: str = ""):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            if round_trip and (keys := [k for k in value if not isinstance(k, (str, int, float)) and k is not None]):
                raise refused(where, f"the key {keys[0]!r} ({type(keys[0]).__name__})")  # (a number key: as its text,
                # which Hugging Face configs read back as the number: id2label)
            return {k: clean(v, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if value is None or isinstance(value, (str, int, float)):  # (True and False are ints)
            return value
        if hasattr(value, "item"):  # a numpy or torch number (an array of several raises, as it did)
            try:
                return clean(value.item(), where)
            except (ValueError, RuntimeError):
                if round_trip:
                    raise refused(where, f"{type(value).__name__} of shape {tuple(getattr(value, 'shape', ()))}") \
                        from None
                raise
        if isinstance(value, os.PathLike):
            return str(value)
        if round_trip:
            raise refused(where, f"{type(value).__name__} {str(value)[:80]!r}")
        return str(value)

    return json.dumps(clean(obj), indent=indent, allow_nan=False)


def lexical_path(path: str | Path) -> Path:
    """``path`` made absolute with its ``.`` and ``..`` taken out by name, links not followed: where a dataset's file
    name says a file lies (a photo that is a link into a DVC cache still lies in its split folder)."""
    return Path(os.path.normpath(Path(path).absolute()))


def resolved(path: str | Path) -> Path:
    """``path.resolve()``, or where a loop of symbolic links stops it (Python before 3.13 raises RuntimeError) its
    :func:`lexical_path`: where the loop starts, which holds nothing."""
    try:
        return Path(path).resolve()
    except (RuntimeError, OSError):
        return lexical_path(path)


def why_not(path: str | Path, folder: bool) -> str:
    """Why ``path`` is not the folder (``folder=True``) or regular file a command needs there, in words to follow the
    path: "not found", "is a file, not a folder", "is a folder, not a file", "is not a regular file or folder (a
    device, a pipe or a socket)", "is a link to X, which does not exist", "lies below Y, which is a file, not a
    folder", "cannot be looked at (...)"."""
    path = Path(path)
    try:
        if path.exists():
            if path.is_dir():
                return "is a folder, not a file" if not folder else "is a folder"
            if path.is_file():
                return "is a file, not a folder" if folder else "is a file"
            return "is not a regular file or folder (a device, a pipe or a socket)"
        if path.is_symlink():
            return f"is a link to {os.readlink(path)}, which does not exist"
        above = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    except OSError as exc:  # a name too long, a folder this user may not enter
        return f"cannot be looked at ({exc.strerror or exc})"
    return f"lies below {above}, which is a file, not a folder" if above is not None else "not found"


def calibration_file_there(path: str | Path, without: str, again: str) -> bool:
    """Whether the file a calibration writes into a model folder (its prompt gate, its confidence) is at ``path``:
    False where nothing of that name is (the model goes without it). Something else so named (a folder, a link to
    nowhere) read as nothing: the model went without it, unsaid, and a ship shipped it so.

    Raises:
        ValueError: something other than a regular file is at ``path``, naming what, with what moving it away gives
            (``without``: "answer every prompt") and the command that writes it again (``again``)."""
    path = Path(path)
    if path.is_file():
        return True
    if not os.path.lexists(path):
        return False
    what = "a folder" if path.is_dir() else "a link to nowhere" if path.is_symlink() else "not a regular file"
    raise ValueError(f"{path} is damaged ({what}, not the file a calibration writes): move it away to {without}, then "
                     f"{again} if one is wanted")


def not_a_file_error(path: str | Path, what: str) -> Exception:
    """The error to raise where ``what`` (e.g. "config file") at ``path`` is no regular file: FileNotFoundError
    ("config file x.yaml not found") where nothing is there, else ValueError saying what is (:func:`why_not`:
    "config file x.yaml is a folder, not a file")."""
    why = why_not(path, folder=False)
    return (FileNotFoundError if why == "not found" else ValueError)(f"{what} {path} {why}")


def replace_dir(new: str | Path, dest: str | Path) -> Path:
    """Rename the filled folder ``new`` to ``dest``, replacing a folder there whole: the old one is renamed aside
    (``.<name>.replaced``, a leftover of a killed run removed first) and removed once the new one is in; if that
    last rename fails, the old one is put back. ``dest`` a link (to a folder, or dangling) is replaced by the new
    folder; what it pointed to is left as it was. Ctrl-C or a stop signal between the two renames waits for the second
    (:func:`~drywallqa.utils.signals.deferred_interrupt`): it left no ``dest`` (the old one aside, the new one removed
    with its temporary folder). Returns ``dest``."""
    new, dest = Path(new), Path(dest)
    restore_replaced(dest)  # a replace killed between its renames: the earlier folder back first, replaced below
    old = dest.with_name(f".{dest.name}.replaced") if dest.exists() or dest.is_symlink() else None
    if old is not None:
        _remove_entry(old)  # a killed run's; a link left there would fail the rename below, in every later run
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
        if old is not None:
            _remove_entry(old)
        raise
    if old is not None:
        _remove_entry(old)
    return dest


def restore_replaced(dest: str | Path) -> bool:
    """Put back the folder :func:`replace_dir` set aside as ``.<name>.replaced`` where ``dest`` is gone: a SIGKILL
    between its two renames (no signal handler can hold that one back) left no ``dest``, the earlier folder whole
    under the hidden name for good. Returns whether it was put back."""
    dest = Path(dest)
    old = dest.with_name(f".{dest.name}.replaced")
    if dest.exists() or dest.is_symlink() or not old.is_dir() or old.is_symlink():
        return False
    try:
        old.rename(dest)
    except OSError:  # another process put it back (or replaced it) meanwhile
        return False
    return True


def _remove_entry(path: Path) -> None:
    """Remove ``path`` whatever it is, if anything: a link (not what it points to), a file or a folder."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path, ignore_errors=True)


WEIGHT_SUFFIXES = (".safetensors", ".onnx", ".bin", ".pt", ".pth")  # the files of a model folder that hold weights
# (a network's, or its ONNX graphs): what the stamps of its weights name


def file_digest(path: str | Path) -> str | None:
    """A digest of a file's bytes (BLAKE2b, 16 bytes, read in 1 MiB blocks; about 1 s a GiB), None where it cannot be
    read: what tells one file's contents from another's wherever it was copied."""
    digest = hashlib.blake2b(digest_size=16)
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(2**20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def file_stamp(path: str | Path | None) -> tuple[int, int] | None:
    """``(size, mtime_ns)`` of a regular file, None where there is none (or ``path`` is None, or cannot name one): a
    file replaced or edited in place gets another stamp, so what was made from it (a cache entry, a photo's record,
    an evaluation's partial results) can tell it is stale without reading it."""
    try:
        st = os.stat(path) if path is not None else None
    except (OSError, ValueError):  # ValueError: a NUL in the name
        return None
    return (st.st_size, st.st_mtime_ns) if st is not None and stat.S_ISREG(st.st_mode) else None


def file_id(path: str | Path) -> tuple[int, int, int, int, int] | None:
    """``(device, file id, size, mtime_ns, ctime_ns)`` of a regular file, None where there is none: unlike
    :func:`file_stamp`, it tells a file from one copied over it keeping its size and modification time (``cp -p``,
    ``shutil.copy2``: the change time is the copy's) or renamed into its place."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns) if stat.S_ISREG(st.st_mode) else None


def folder_state(path: str | Path) -> tuple | None:
    """The folder's id and modification time and each of its entries' :func:`file_id`: what tells a folder from one
    renamed into its place since, or one of whose files was added, removed or written over (a model folder replaced
    whole by ``ship`` or ``train``); None where ``path`` is no folder."""
    try:
        st = os.stat(path)
        if not stat.S_ISDIR(st.st_mode):
            return None
        entries = tuple(sorted((e.name, file_id(e.path)) for e in os.scandir(path)))
    except (OSError, ValueError, TypeError):
        return None
    return st.st_dev, st.st_ino, st.st_mtime_ns, entries


def _broken_link(link: Path) -> str:
    """What is wrong with a symbolic link that leads nowhere: a loop, or a target that does not exist."""
    try:
        os.stat(link)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return f"{link} is a symbolic link that leads back to itself (a loop of links)"
    try:
        target = os.readlink(link)
    except OSError:
        target = "a path"
    return f"{link} is a symbolic link to {target}, which does not exist"


def check_links(path: str | Path) -> None:
    """Raise ValueError where ``path`` or a folder above it is a symbolic link that loops or leads nowhere: written
    through, it fails, or writes where no one looks."""
    path = Path(path)
    for p in (path, *path.parents):
        try:
            broken = p.is_symlink() and not p.exists()
        except OSError as exc:  # a name longer than the disk allows (it was an OSError traceback)
            raise ValueError(f"{path} cannot be a path here ({exc.strerror or exc}); give another path") from None
        if broken:
            raise ValueError(f"{path}: {_broken_link(p)}; give another path")


def check_writable_path(path: str | Path, folder: bool) -> None:
    """Whether ``path`` can be written as a folder (``folder=True``) or a file, now or once made: nothing is made
    here, so a command that then fails on its input leaves nothing behind.

    Raises:
        ValueError: a folder where a file goes or a file where a folder goes, a device, pipe or socket where a file
            goes, a path below a file, a symbolic link on the way that loops or leads nowhere, or a nearest existing
            folder that cannot be written.
    """
    path = Path(path)
    check_links(path)
    if path.exists() and path.is_dir() != folder:
        raise ValueError(f"{path} is a {'file' if folder else 'folder'}; give a {'folder' if folder else 'file'}")
    if not folder and path.exists() and not path.is_file():  # a file is written whole and renamed into its place: run
        # as root, --json /dev/stdout (or /dev/full) replaced that device's node with a file; else "/dev is not writable"
        raise ValueError(f"{path} is not a regular file (a device, a pipe or a socket), which would be replaced by "
                         "one; give the path of a file")
    if any(p.exists() and not p.is_dir() for p in path.parents):
        raise ValueError(f"{path} lies below a file")
    existing = next(p for p in (path, *path.absolute().parents) if p.exists())
    writable = existing if existing.is_dir() else existing.parent
    if not os.access(writable, os.W_OK | os.X_OK):
        raise ValueError(f"{path} cannot be written ({writable} is not writable)")


def check_replaceable_dir(path: str | Path, what: str, is_ours: Callable[[Path], bool],
                          source: str | Path | None = None) -> Path:
    """``path`` as a folder that a command may replace whole with ``what`` (e.g. "the shipped model"): absent, empty,
    or one it wrote before (``is_ours(path)``); never a file, a mount point, a folder of other files, the ``source`` it
    is made from (unless that is ``is_ours`` too: written again in place), a folder holding ``source`` or one inside it.
    Returns the Path.

    Raises:
        ValueError: naming what is there (nothing is replaced).
    """
    out = Path(path)
    check_links(out)
    if source is not None and Path(source).resolve() in out.resolve().parents:  # a new best/, a ship in place: gone
        raise ValueError(f"{out} lies inside the source folder {source}, which is replaced whole when it is written "
                         f"again; give a folder outside it for {what}")
    if not out.exists():
        return out
    if not out.is_dir():
        raise ValueError(f"{out} is a file; give a folder for {what}")
    if os.path.ismount(out):  # a volume mounted there (docker run -v): renaming it aside failed after all the work,
        # "[Errno 16] Device or resource busy"
        raise ValueError(f"{out} is a mount point, which cannot be replaced whole; give a folder inside it for {what}")
    here = out.resolve()
    # checked before is_ours: a folder of ours holding the source (a model kept inside an earlier export) would be
    # replaced whole, the source with it
    if source is not None and here in Path(source).resolve().parents:
        raise ValueError(f"{out} holds the source folder {source}; give another folder for {what}")
    if is_ours(out) or not any(out.iterdir()):
        return out
    if source is not None and here == Path(source).resolve():
        raise ValueError(f"{out} is the source folder itself; give another folder for {what}")
    raise ValueError(f"{out} holds other files; give a new or empty folder for {what}, or one written before to "
                     "replace it whole")
