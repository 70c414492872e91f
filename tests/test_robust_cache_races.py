"""Robustness: the caches' repair and write paths under concurrent use. Two actors (processes, threads) are
interleaved deterministically by patching the step between which "the other one" runs: no sleeps, no timing."""


def test_two_loads_finding_one_damaged_cached_export_repair_it_once(tiny_model_dir, tmp_path, monkeypatch):
    """Two processes (a server's workers starting) found the cached export damaged; the first set it aside, exported
    it again and loaded the new one; the second then set aside that new export as the damaged one and exported it a
    third time: the first's segmenter held graphs whose files were gone (it could not be pickled for Ray, and a change
    of torch's threads ran the old sessions with a warning), and the export was made twice."""
    import drywallqa.export.onnx_cache as onnx_cache
    import drywallqa.export.onnx_runtime as onnx_runtime

    monkeypatch.setenv("DRYWALLQA_CACHE", str(tmp_path / "cache"))
    export = onnx_cache.exported_onnx_dir(tiny_model_dir)
    (export / "encoder.onnx").write_bytes(b"\x00garbage" * 100)
    real_load, real_write = onnx_runtime.load_exported, onnx_cache._write_onnx
    exports, other = [], {}

    def write(model_dir, out, *args, **kwargs):
        exports.append(out)
        return real_write(model_dir, out, *args, **kwargs)

    def load(directory, threads=None, strict=False):
        if strict and not other:  # this one finds the export damaged; the other one finds it so too, and repairs it
            other["started"] = True  # before this one goes on to repair it
            try:
                return real_load(directory, threads, strict)
            except ValueError:
                other["model"] = onnx_runtime.OnnxSegmenter.load_model(tiny_model_dir)
                raise
        return real_load(directory, threads, strict)

    monkeypatch.setattr(onnx_cache, "_write_onnx", write)
    monkeypatch.setattr(onnx_runtime, "load_exported", load)
    mine = onnx_runtime.OnnxSegmenter.load_model(tiny_model_dir)
    theirs = other["model"]
    assert len(exports) == 1  # exported again once, by the other one
    assert mine.directory == theirs.directory == export
    # the other's files kept
    assert {n: onnx_runtime.file_id(export / n) for n in onnx_runtime.GRAPHS} == theirs.graph_files
    assert sorted(p.name for p in export.parent.iterdir()) == [".cache.lock", export.name]


def _unit(i: int, dim: int = 384):
    import numpy as np

    v = np.random.default_rng(i).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


def test_two_stores_finding_one_damaged_embedding_cache_set_it_aside_once(tmp_path, monkeypatch):
    """Two processes found the prompt-embedding cache damaged; the first set it aside and stored its prompts in a new
    one; the second then set aside that new, sound file as the damaged one (its prompts lost, encoded again by every
    process; a sound file kept as .broken; in one process in the same second, the damaged copy itself replaced by
    it)."""
    import sqlite3

    import numpy as np

    from drywallqa.text.encoder import EmbeddingStore

    path = tmp_path / "cache.sqlite"
    path.write_bytes(b"\x00garbage" * 500)
    mine, theirs = EmbeddingStore(path), EmbeddingStore(path)
    real = EmbeddingStore._set_aside
    calls = []

    def set_aside(self, *args, **kwargs):
        calls.append(self)
        if self is mine and len(calls) == 1:  # before this one sets it aside, the other one finds it damaged too, sets
            theirs.put({"theirs": _unit(1)})  # it aside and stores its prompt in a new one
        return real(self, *args, **kwargs)

    monkeypatch.setattr(EmbeddingStore, "_set_aside", set_aside)
    mine.put({"mine": _unit(2)})
    assert mine.enabled and theirs.enabled
    got = EmbeddingStore(path).get(["theirs", "mine"])
    np.testing.assert_array_equal(got["theirs"], _unit(1))
    np.testing.assert_array_equal(got["mine"], _unit(2))
    aside = list(tmp_path.glob("cache.sqlite*.broken"))
    assert len(aside) == 1 and aside[0].read_bytes() == b"\x00garbage" * 500  # the damaged file, kept as it was
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_write_is_never_cut_short_by_a_cleaning_of_killed_writes_temporaries(tmp_path, monkeypatch):
    """write_atomic made its temporary file, then locked it: another process cleaning the folder in between (a training
    run opening the array cache, remove_stale_temporaries) found it unlocked, a killed write's, and removed it; the
    write then made it again by its name, unlocked, so the next cleaning removed it while it was written, and its rename
    failed (FileNotFoundError: the arrays not cached, a results.json or checkpoint not written)."""
    from drywallqa.utils import files

    real = files.fcntl
    cleaned = []

    class Between:  # the temporary file made, not locked yet: the other process cleans the folder then
        LOCK_EX, LOCK_NB = real.LOCK_EX, real.LOCK_NB

        @staticmethod
        def flock(fd, op):
            if op == real.LOCK_EX and not cleaned:
                cleaned.append(files.remove_stale_temporaries(tmp_path))
            return real.flock(fd, op)

    def write(tmp):
        tmp.write_text("new")
        cleaned.append(files.remove_stale_temporaries(tmp_path))  # and again while it is written

    monkeypatch.setattr(files, "fcntl", Between)
    files.write_atomic(tmp_path / "results.json", write)
    assert (tmp_path / "results.json").read_text() == "new"
    assert cleaned[-1] == 0  # the file being written was not taken for a killed write's
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_a_damaged_export_a_killed_run_was_removing_does_not_stay_in_the_cache_for_good(tiny_model_dir, tmp_path):
    """discard_export renames a damaged (or long unused) export aside, then removes it: a run killed between the two
    (a server stopped while it pruned the cache at its first start) left the whole export, tens of MB, under
    .<key>.damaged.<pid>.<thread> for good: nothing removed such a folder."""
    from drywallqa.export import onnx_cache

    root = tmp_path / "cache" / "onnx"
    root.mkdir(parents=True)
    killed = root / f".{'ab' * 8}.damaged.99999.12345"  # as a kill between discard_export's rename and removal left it
    killed.mkdir()
    (killed / "encoder.onnx").write_bytes(b"x" * 1000)
    theirs = root / ".notes.damaged.1.2"  # not an export's name: someone else's
    theirs.mkdir()
    made = onnx_cache.exported_onnx_dir(tiny_model_dir, tmp_path / "cache")  # a new export prunes the cache
    assert sorted(p.name for p in root.iterdir()) == sorted([".cache.lock", made.name, theirs.name])


def test_a_damaged_embedding_is_not_deleted_once_another_process_stored_it_again(tmp_path, monkeypatch):
    """get() read a damaged entry, then deleted its prompt's row in a later statement: another process that had
    encoded the prompt again and stored it in between lost its sound vector (the prompt encoded again by everyone)."""
    import sqlite3

    import numpy as np

    from drywallqa.text.encoder import EmbeddingStore

    path = tmp_path / "cache.sqlite"
    mine, theirs = EmbeddingStore(path), EmbeddingStore(path)
    mine.put({"segment crack": _unit(1), "segment joint": _unit(2)})
    with sqlite3.connect(path) as con:
        con.execute("UPDATE embeddings SET vector = ? WHERE prompt = 'segment crack'", (b"abc",))
    real_connect = sqlite3.connect
    stored = []

    class Between(sqlite3.Connection):  # the damaged row read, not yet deleted: the other process stores it again
        def executemany(self, sql, rows):
            if sql.startswith("DELETE") and not stored:
                stored.append(True)
                theirs.put({"segment crack": _unit(1)})
            return super().executemany(sql, rows)

    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: real_connect(*a, factory=Between, **k))
    assert "segment crack" not in mine.get(["segment crack", "segment joint"])  # damaged when read
    assert stored
    np.testing.assert_array_equal(EmbeddingStore(path).get(["segment crack"])["segment crack"], _unit(1))


def test_a_damaged_dimension_record_is_not_deleted_once_another_process_wrote_it_again(tmp_path, monkeypatch):
    """The store's dimension record read damaged was deleted in a later statement: where another process had rebuilt
    the store in between (its prompts stored, the record written again), its sound record went, and then every one of
    its prompts was deleted as damaged (no vector matches a store of no dimension)."""
    import sqlite3

    import numpy as np

    from drywallqa.text.encoder import EmbeddingStore

    path = tmp_path / "cache.sqlite"
    mine, theirs = EmbeddingStore(path), EmbeddingStore(path)
    mine.put({"segment crack": _unit(1)})
    with sqlite3.connect(path) as con:
        con.execute("UPDATE meta SET value = 'x' WHERE key = 'dim'")
    real_connect = sqlite3.connect
    rebuilt = []

    class Between(sqlite3.Connection):  # the damaged record read, not yet deleted: the other process rebuilds the store
        def execute(self, sql, *args):
            if sql.startswith("DELETE FROM meta") and not rebuilt:
                rebuilt.append(True)
                assert theirs.get(["segment crack"]) == {}  # deleted as damaged with the record
                theirs.put({"segment crack": _unit(1), "segment joint": _unit(2)})
            return super().execute(sql, *args)

    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: real_connect(*a, factory=Between, **k))
    got = mine.get(["segment crack", "segment joint"])
    assert rebuilt
    np.testing.assert_array_equal(got["segment joint"], _unit(2))
    assert sorted(EmbeddingStore(path).get(["segment crack", "segment joint"])) == ["segment crack", "segment joint"]


def test_a_temporary_folder_is_never_removed_as_a_killed_runs_before_its_lock_is_held(tmp_path, monkeypatch):
    """temp_dir made its folder, then its lock file, then locked it: another process cleaning the parent in between
    (remove_stale_temp_dirs, which each temp_dir of the same prefix runs first: two exports into one cache or --out,
    a resumed predict) found the lock file unlocked, a killed run's, and removed the folder: the block was given a
    folder that was gone (FileNotFoundError on its first write)."""
    from pathlib import Path

    from drywallqa.utils import files

    real = files.FileLock
    cleaned = []

    class Between:  # the lock file made (as filelock makes it), not locked yet: the other process cleans then
        def __init__(self, path, **kwargs):
            self.path, self.kwargs, self.lock = path, kwargs, real(path, **kwargs)

        def __enter__(self):
            if not self.kwargs and not cleaned:
                Path(self.path).touch()
                cleaned.append(files.remove_stale_temp_dirs(tmp_path, ".best."))
            return self.lock.__enter__()

        def __exit__(self, *exc):
            return self.lock.__exit__(*exc)

        def acquire(self, *args, **kwargs):
            return self.lock.acquire(*args, **kwargs)

        def release(self, *args, **kwargs):
            return self.lock.release(*args, **kwargs)

    monkeypatch.setattr(files, "FileLock", Between)
    with files.temp_dir(tmp_path, ".best.") as tmp:
        (tmp / "model.safetensors").write_bytes(b"weights")
        assert files.remove_stale_temp_dirs(tmp_path, ".best.") == 0  # and again while it is filled
        tmp.rename(tmp_path / "best")
    assert cleaned and (tmp_path / "best" / "model.safetensors").read_bytes() == b"weights"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best"]


def test_a_killed_runs_temporary_folder_is_removed_where_a_held_file_cannot_be_deleted(tmp_path, monkeypatch):
    """remove_stale_temp_dirs came to remove a killed run's lock file while holding it: where an open file cannot be
    deleted (Windows: filelock opens its lock without FILE_SHARE_DELETE, and releasing it deletes it), that raised
    PermissionError, so after one killed save every temp_dir of the prefix (a training run's best/, an export into the
    same --out) failed for good."""
    import pathlib

    from drywallqa.utils import files

    stale = tmp_path / ".best.123-abc"  # as a killed run left it: its folder and its lock file, held by none
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"half")
    (tmp_path / ".best.123-abc.lock").touch()
    held = set()
    real_lock, real_unlink = files.FileLock, pathlib.Path.unlink

    class Held:  # filelock's lock, keeping count of the files held open
        def __init__(self, path, **kwargs):
            self.path, self.lock = str(path), real_lock(path, **kwargs)

        def acquire(self, *args, **kwargs):
            got = self.lock.acquire(*args, **kwargs)
            held.add(self.path)
            return got

        def release(self, *args, **kwargs):
            held.discard(self.path)
            return self.lock.release(*args, **kwargs)

        def __enter__(self):
            self.acquire()
            return self

        def __exit__(self, *exc):
            self.release()

    def unlink(self, missing_ok=False):  # as Windows answers the deletion of a file open in a process
        if str(self) in held:
            raise PermissionError(13, "The process cannot access the file because it is being used by another "
                                      "process", str(self))
        return real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(files, "FileLock", Held)
    monkeypatch.setattr(pathlib.Path, "unlink", unlink)
    assert files.remove_stale_temp_dirs(tmp_path, ".best.") == 1
    assert list(tmp_path.iterdir()) == []
    with files.temp_dir(tmp_path, ".best.") as tmp:  # and a new save goes on
        (tmp / "model.safetensors").write_bytes(b"weights")
        tmp.rename(tmp_path / "best")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best"]
