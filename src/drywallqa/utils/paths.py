"""Paths checked before any work, so that a command that would fail on one says so at once and leaves nothing
behind: what is wrong with a path in words (:func:`why_not`), a path to write (:func:`check_writable_path`), links
that loop or lead nowhere (:func:`check_links`), a folder a command may replace whole (:func:`check_replaceable_dir`);
and paths made absolute by name (:func:`lexical_path`) or resolved where a loop of links would stop it
(:func:`resolved`)."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Callable

from .slug import shown


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


def name_too_long(path: str | Path) -> bool:
    """Whether the file system refuses ``path`` as longer than it allows (ENAMETOOLONG: a name over 255 bytes, a path
    over 4096): nothing can be there, and Python 3.11's ``Path.exists``/``is_dir`` raise it."""
    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno == errno.ENAMETOOLONG
    except ValueError:  # a NUL in the name: no such path either, but not for its length
        return False
    return False


def shortened(path: str | Path, keep: int = 90) -> str:
    """``path`` for a message: as it is up to ``keep`` characters, else its start and its end around ``...`` with its
    length in bytes (a 5000-byte path said whole buried the message), its control characters escaped
    (:func:`~drywallqa.utils.slug.shown`)."""
    text = str(path)
    if len(text) > keep:
        size = len(text.encode("utf-8", "surrogateescape"))
        text = f"{text[:keep * 2 // 3]}...{text[-(keep // 3):]} ({size:,} bytes)"
    return shown(text)


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
    below = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if below is not None:  # (the file named: in a long path it was not plain which part is one)
        raise ValueError(f"{path} lies below a file, {below}; give another path")
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
