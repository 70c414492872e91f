"""What tells one file (or folder) from another: digests of a file's bytes, and stamps and ids that tell a file
replaced or edited in place without reading it."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path


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
