"""The cache of ONNX exports the ``onnx`` runtime makes of torch model folders (:func:`exported_onnx_dir`):
``<cache>/onnx/<hash of the folder's files>/``, each exported once (:func:`~drywallqa.export.onnx.export_onnx`'s
graphs) and reused, pruned of long-unused exports (:func:`prune_export_cache`); an export for the process alone
where the cache cannot be used."""

from __future__ import annotations

import atexit
import contextlib
import errno
import hashlib
import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import torch
from filelock import FileLock

from ..text.encoder import default_cache_dir
from ..utils.files import remove_stale_temp_dirs, temp_dir
from .onnx import _EXPORT_LOCK, EXPORT_FILES, _write_onnx

logger = logging.getLogger(__name__)


CACHE_KEEP = 4             # exports kept in the cache however old (the most recently used)
CACHE_LOCK = ".cache.lock"  # held while an export is found and marked used (or made), and while the cache is pruned
CACHE_MAX_AGE_DAYS = 30.0  # older exports beyond those are removed when a new one is made


def _cache_lock(root: Path):
    """The cache's lock (:data:`CACHE_LOCK`), or none where the cache cannot be written (a read-only copy of exports
    made elsewhere: found and used, never pruned)."""
    if os.access(root, os.W_OK):
        return FileLock(str(root / CACHE_LOCK))
    return contextlib.nullcontext()


def exported_onnx_dir(model_dir: str | Path, cache_dir: str | Path | None = None) -> Path:
    """The ONNX graphs of a torch model folder, exported once on first use into
    ``<cache>/onnx/<hash of the folder's files>/`` and reused after (a changed model gets a new folder).

    The export is made under the cache's lock, written to a temporary folder and renamed into place whole: of
    concurrent first uses (processes, threads) one exports, the others wait for it and use its export. Where the cache
    cannot be used (``$DRYWALLQA_CACHE`` a file, or a folder this user cannot write) the model is exported for this
    process only, into a temporary folder removed at its end, with a warning naming why (it was an error blamed on
    the model folder)."""
    files, key = _model_files(model_dir)
    try:
        target = Path(cache_dir or default_cache_dir()) / "onnx" / key
    except OSError as exc:  # no home folder for the default cache
        return _export_for_this_run(files, key, Path("~/.cache/drywallqa/onnx"), exc.strerror, model_dir)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return _cached_export(files, model_dir, target)
    except OSError as exc:  # a cache that is a file, or below one, or a folder this user cannot write; its lock file
        if exc.errno not in _UNUSABLE:  # a folder or a link loop
            raise
        why = exc.strerror or str(exc)
        if exc.filename and Path(exc.filename) != target.parent:  # what in it: ".cache.lock: Is a directory"
            why = f"{exc.filename}: {why}"
        return _export_for_this_run(files, key, target.parent, why, model_dir)


def _model_files(model_dir: str | Path) -> tuple[dict, str]:
    """A model folder's files (name -> bytes) and the key of their export: a digest of them and of the drywallqa and
    torch versions (the graphs depend on the code that traced them too: another version exports again)."""
    from .. import __version__

    digest = hashlib.sha256(f"drywallqa {__version__} torch {torch.__version__}\0".encode())
    files = {f.name: f.read_bytes() for f in sorted(p for p in Path(model_dir).iterdir() if p.is_file())}
    for name, data in files.items():
        digest.update(name.encode() + b"\0" + data)
    return files, digest.hexdigest()[:16]


def export_for_this_run(model_dir: str | Path, cache: Path, why: str) -> Path:
    """``model_dir`` exported for this process only (:func:`_export_for_this_run`), where its cached export in
    ``cache`` cannot be used (``why``)."""
    files, key = _model_files(model_dir)
    return _export_for_this_run(files, key, cache, why, model_dir)


# (ENAMETOOLONG: $DRYWALLQA_CACHE longer than the disk allows: it was said as an error of --model-path)
_UNUSABLE = frozenset((errno.ENOTDIR, errno.EEXIST, errno.EACCES, errno.EPERM, errno.EROFS, errno.EISDIR, errno.ELOOP,
                       errno.ENAMETOOLONG))
_EXPORTS_FOR_THIS_RUN: dict[str, Path] = {}  # a model's export made for this process, by its digest: made once


def _export_for_this_run(files: dict, key: str, cache: Path, why: str, model_dir: str | Path) -> Path:
    """The export of ``files`` (a model folder's, ``key`` their digest) into a temporary folder removed when the
    process ends, where the export cache ``cache`` cannot be used (:func:`exported_onnx_dir`): the run goes on, with a
    warning naming why; made once in a process, however often the model is loaded."""
    with _EXPORT_LOCK:
        if key in _EXPORTS_FOR_THIS_RUN and all((_EXPORTS_FOR_THIS_RUN[key] / n).is_file() for n in EXPORT_FILES):
            return _EXPORTS_FOR_THIS_RUN[key]
        logger.warning("the ONNX export cache %s cannot be used (%s; $DRYWALLQA_CACHE sets where it is): exporting for "
                       "this run only, into a temporary folder", cache, why)
        tmp = Path(tempfile.mkdtemp(prefix="drywallqa-onnx-"))
        atexit.register(shutil.rmtree, tmp, ignore_errors=True)
        (tmp / "export").mkdir()
        _export_copy(files, model_dir, tmp / "export", tmp / ".source")  # the copy is not kept for the process's life
        _EXPORTS_FOR_THIS_RUN[key] = tmp / "export"
        return tmp / "export"


def _export_copy(files: dict, model_dir: str | Path, out: Path, snapshot: Path) -> None:
    """Export ``files`` (``model_dir``'s, as read) into ``out`` from a copy of them at ``snapshot``, removed after.
    An error of a damaged folder names ``model_dir``, not the copy (a temporary folder gone by the time it is read)."""
    try:
        snapshot.mkdir()
        for name, data in files.items():
            (snapshot / name).write_bytes(data)
        _write_onnx(snapshot, out)
    except (ValueError, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None and exc.filename is None:  # a full disk: the writes
            # (torch's too) name no file, and the command said "cannot write: No space left on device" of no place
            raise type(exc)(exc.errno, exc.strerror, str(out.parent)) from None
        said = exc.args[0] if len(exc.args) == 1 and isinstance(exc.args[0], str) else ""
        if str(snapshot) not in said:
            raise
        try:
            renamed = type(exc)(said.replace(str(snapshot), str(model_dir)))
        except TypeError:  # an error type made otherwise: as it was
            raise exc from None
        raise renamed from None
    shutil.rmtree(snapshot)


def _cached_export(files: dict, model_dir: str | Path, target: Path) -> Path:
    """The export of ``files`` (``model_dir``'s) found in the cache at ``target`` or made there
    (:func:`exported_onnx_dir`)."""
    # found and marked used, or exported, or pruned: never two at once. The export is made under the lock too:
    # torch.onnx.export keeps global state, so two threads exporting at once fail (AssertionError), and a second
    # process would only repeat the work; each waiting one then finds the export made
    with _cache_lock(target.parent):
        if all((target / name).is_file() for name in EXPORT_FILES):
            try:
                os.utime(target)  # last used now: what prune_export_cache keeps
            except FileNotFoundError:  # gone meanwhile: exported again below
                pass
            except OSError:  # a read-only cache, or another user's export: used as it is
                return target
            else:
                return target
        if target.exists():  # damaged (a file gone): set aside, exported again below
            discard_export(target)
        with temp_dir(target.parent, f".{target.name}.") as tmp:
            logger.warning("exporting %s to ONNX once, into %s", model_dir, target)
            # exported from the very bytes hashed: a folder changed meanwhile (a training run writing best/, a
            # calibration) must not leave its new weights' graphs under the old weights' name
            _export_copy(files, model_dir, tmp, tmp / ".source")
            try:
                tmp.rename(target)
            except OSError:
                if not all((target / name).is_file() for name in EXPORT_FILES):  # not another process finishing first
                    raise
    prune_export_cache(target.parent, keep=target.name)
    return target


def prune_export_cache(root: Path, keep: str | None = None) -> list[str]:
    """Remove cached exports (``<cache>/onnx/<hash>/``) unused for :data:`CACHE_MAX_AGE_DAYS`, beyond the
    :data:`CACHE_KEEP` most recently used and ``keep``: each model, drywallqa or torch version makes a new one, and
    a server upgraded over the years would pile them up. Under the cache's lock, which finding an export and marking
    it used takes too, so none is removed between being found and used; each goes through :func:`discard_export`
    (renamed aside, then removed), so no process finds half of one. Returns the names removed."""
    now = time.time()
    removed = []
    with _cache_lock(root):
        found = []
        for d in root.iterdir():
            if not (_is_export_name(d.name) and d.is_dir()):
                continue  # only exports: a folder someone put here is theirs
            try:
                found.append((d.stat().st_mtime, d))
            except OSError:
                continue
        found.sort(reverse=True)
        for used, d in found[CACHE_KEEP:]:
            if d.name != keep and now - used > CACHE_MAX_AGE_DAYS * 86400:
                discard_export(d)
                removed.append(d.name)
        # and the half-made exports of killed runs (a server killed during its first --runtime onnx start): each was
        # removed only by a later export of the same model, so one of a model (or version) not used again stayed
        for lock in root.glob(".*.lock"):
            key = lock.name[1:17]
            if lock.name[17:18] == "." and _is_export_name(key):
                remove_stale_temp_dirs(root, f".{key}.")
        # and the exports a killed run was discarding (renamed aside, not yet removed: each discard_export is made under
        # this lock, so none is being removed now)
        for aside in root.glob(".*.damaged.*"):
            if _is_export_name(aside.name[1:17]) and aside.name[17:26] == ".damaged.":
                _remove_aside(aside)
    return removed


def _is_export_name(name: str) -> bool:
    """Whether ``name`` is a cached export's (a 16-digit hex key): other folders in the cache are someone else's."""
    return len(name) == 16 and all(c in "0123456789abcdef" for c in name)


def discard_export(target: Path) -> None:
    """Take a damaged cached export out of the way: renamed first (atomic, so no process finds half of it), then
    removed. Another process may have done it already. Called under the cache's lock (:func:`_cache_lock`): what a run
    killed between the two left aside is removed by :func:`prune_export_cache`."""
    aside = target.parent / f".{target.name}.damaged.{os.getpid()}.{threading.get_ident()}"
    try:
        target.rename(aside)
    except OSError:
        return
    _remove_aside(aside)


def _remove_aside(aside: Path) -> None:
    """Remove an export :func:`discard_export` renamed aside (or what is in its place)."""
    if aside.is_dir() and not aside.is_symlink():
        shutil.rmtree(aside, ignore_errors=True)
    else:  # a file or a link in the export's place (rmtree left it in the cache for good)
        aside.unlink(missing_ok=True)

