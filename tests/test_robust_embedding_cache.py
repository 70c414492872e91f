"""Robustness, class 1: the prompt-embedding cache is shared state. Concurrent writers (threads and
processes) never corrupt it, a damaged file is set aside and rebuilt with a warning, its size follows what
it holds, and prompt length is capped before anything runs."""

import multiprocessing
import sqlite3
import threading

import numpy as np
import pytest
from typer.testing import CliRunner

from drywallqa.cli import app
from drywallqa.engine.segmenter import validate_prompts
from drywallqa.text.encoder import EmbeddingStore, TextEncoder
from drywallqa.text.prompts import MAX_PROMPT_CHARS


def _vec(i: int, dim: int = 384) -> np.ndarray:
    v = np.random.default_rng(i).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)  # a unit vector, as the encoder makes


def _writer(path, start, n):
    store = EmbeddingStore(path)
    for i in range(start, start + n):
        store.put({f"prompt {i}": _vec(i)})


def test_concurrent_threads_and_processes_keep_every_entry(tmp_path):
    path = tmp_path / "cache.sqlite"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, 1000 * k, 40)) for k in range(3)]
    threads = [threading.Thread(target=_writer, args=(path, 10_000 + 1000 * k, 40)) for k in range(4)]
    for w in procs + threads:
        w.start()
    for w in procs + threads:
        w.join(120)
    assert all(p.exitcode == 0 for p in procs)
    store = EmbeddingStore(path)
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    prompts = store.prompts()
    assert len(prompts) == 7 * 40 == len(set(prompts))
    got = store.get(["prompt 1005", "prompt 12039"])
    np.testing.assert_array_equal(got["prompt 1005"], _vec(1005))
    np.testing.assert_array_equal(got["prompt 12039"], _vec(12039))


def test_many_threads_of_one_encoder_share_its_cache(tmp_path):
    enc = TextEncoder(cache_dir=tmp_path)
    errors = []

    def ask(k):
        try:
            for r in range(3):
                enc.encode([f"segment thing {k} {r}", "segment crack"])
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    assert len(TextEncoder(cache_dir=tmp_path).cached_prompts()) == 6 * 3 + 1


@pytest.mark.parametrize("damage", ["garbage", "truncated", "zero"])
def test_a_damaged_cache_is_rebuilt_with_a_warning(tmp_path, caplog, damage):
    first = TextEncoder(cache_dir=tmp_path)
    want = first.encode(["segment crack", "segment taping area"]).numpy()
    data = first.cache_file.read_bytes()
    if damage == "garbage":
        first.cache_file.write_bytes(b"\x00garbage" * 500)
    elif damage == "truncated":
        first.cache_file.write_bytes(data[: len(data) // 2 + 7])
    else:
        first.cache_file.write_bytes(data[:100] + b"\x00" * (len(data) - 100))
    again = TextEncoder(cache_dir=tmp_path)
    with caplog.at_level("WARNING"):
        got = again.encode(["segment crack", "segment taping area"]).numpy()
    np.testing.assert_allclose(got, want, atol=1e-6)
    # healed: a third encoder reads the rebuilt file without the model
    third = TextEncoder(cache_dir=tmp_path)
    third.encode(["segment crack"])
    assert third._model is None
    assert "damaged" in caplog.text and "rebuilt" in caplog.text
    assert list(first.cache_file.parent.glob(first.cache_file.name + ".*.broken"))  # set aside, not silently lost


def test_size_follows_what_the_cache_holds(tmp_path):
    store = EmbeddingStore(tmp_path / "c.sqlite")
    store.put({"x" * MAX_PROMPT_CHARS: _vec(1)})
    sizes = []
    for i in range(200):
        store.put({f"prompt {i}": _vec(i)})
        sizes.append((tmp_path / "c.sqlite").stat().st_size)
    # 201 vectors of 1.5 kB: the file holds them, not 200 rewrites of a fixed-width table
    assert sizes[-1] < 201 * 1536 * 2 + 64_000


def test_both_caches_are_bounded_and_keep_the_prompts_used_last(tmp_path, monkeypatch):
    """Every new prompt a server's client sent stayed in memory and on disk for good: 3,200 unique prompts grew the
    file from 50 kB to 7.8 MB and the server by 43 MB, without end. Now the memory cache keeps the prompts used
    last, the disk cache those stored last; one dropped is encoded again when it comes back."""
    store = EmbeddingStore(tmp_path / "c.sqlite", max_prompts=5)
    for i in range(8):
        store.put({f"prompt {i}": _vec(i)})
    assert store.prompts() == [f"prompt {i}" for i in range(3, 8)]
    store.put({"prompt 3": _vec(3)})  # written again: the newest
    assert store.prompts() == ["prompt 4", "prompt 5", "prompt 6", "prompt 7", "prompt 3"]

    enc = TextEncoder(cache_dir=tmp_path, max_memory_prompts=3)
    calls = []

    class Model:  # the sentence encoder, counting what it is asked
        def encode(self, prompts, **kwargs):
            calls.extend(prompts)
            return np.stack([_vec(len(p)) for p in prompts])

    enc._model = Model()
    enc.store.max_prompts = 4
    for p in ["segment a", "segment bb", "segment ccc", "segment a", "segment dddd", "segment eeeee"]:
        enc.encode([p])
    assert enc.cached_prompts() == ["segment bb", "segment ccc", "segment dddd", "segment eeeee"]  # on disk
    with enc._cache_lock:
        assert list(enc._cache) == ["segment a", "segment dddd", "segment eeeee"]  # in memory: used last
    assert calls == ["segment a", "segment bb", "segment ccc", "segment dddd", "segment eeeee"]
    enc.encode(["segment a"])  # in memory (no longer on disk): not encoded
    enc.encode(["segment bb"])  # out of memory, still on disk: read, not encoded
    assert len(calls) == 5
    np.testing.assert_array_equal(enc.encode(["segment ccc", "segment bb"]).numpy(), np.stack([_vec(11), _vec(10)]))


def test_prompt_length_is_capped_everywhere(tiny_model_dir, tmp_path):
    long = "segment " + "a" * MAX_PROMPT_CHARS
    with pytest.raises(ValueError, match="at most"):
        validate_prompts([long])
    with pytest.raises(ValueError, match="at most"):
        TextEncoder(cache_dir=False).encode([long])
    (tmp_path / "w.png").write_bytes(b"")
    res = CliRunner().invoke(app, ["predict", str(tmp_path / "w.png"), "-p", long, "--out", str(tmp_path / "o"),
                                   "--model-path", str(tiny_model_dir)])
    assert res.exit_code == 2 and "at most" in res.output and "Traceback" not in res.output


def test_unwritable_cache_folder_still_encodes(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder would be")
    enc = TextEncoder(cache_dir=blocked)
    assert enc.encode(["segment crack"]).shape == (1, 384)


@pytest.mark.parametrize("vector", [b"abc", np.ones(10, np.float32).tobytes(), np.full(384, np.nan, np.float32).tobytes(),
                                    (np.ones(384, np.float32) * 3).tobytes()])
def test_damaged_entries_are_encoded_again(tmp_path, caplog, vector):
    enc = TextEncoder(cache_dir=tmp_path)
    want = enc.encode(["segment crack", "segment taping area"]).numpy()
    with sqlite3.connect(enc.cache_file) as con:
        con.execute("UPDATE embeddings SET vector = ? WHERE prompt = 'segment crack'", (vector,))
    again = TextEncoder(cache_dir=tmp_path)
    with caplog.at_level("WARNING"):
        got = again.encode(["segment crack", "segment taping area"]).numpy()
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert "damaged entries" in caplog.text
    third = TextEncoder(cache_dir=tmp_path)
    third.encode(["segment crack"])
    assert third._model is None  # healed in the file


@pytest.mark.parametrize("dim", ["abc", "0", "-4", "1.5"])
def test_a_damaged_dimension_record_is_rebuilt(tmp_path, caplog, dim):
    enc = TextEncoder(cache_dir=tmp_path)
    want = enc.encode(["segment crack", "segment taping area"]).numpy()
    with sqlite3.connect(enc.cache_file) as con:
        con.execute("UPDATE meta SET value = ? WHERE key = 'dim'", (dim,))
    with caplog.at_level("WARNING"):
        got = TextEncoder(cache_dir=tmp_path).encode(["segment crack", "segment taping area", "segment seam"]).numpy()
    np.testing.assert_allclose(got[:2], want, atol=1e-6)
    assert "dimension record" in caplog.text
    with sqlite3.connect(enc.cache_file) as con:
        assert con.execute("SELECT value FROM meta WHERE key = 'dim'").fetchone() == ("384",)
    third = TextEncoder(cache_dir=tmp_path)
    third.encode(["segment crack", "segment seam"])
    assert third._model is None  # healed in the file


def test_two_encoders_never_share_a_cache_file(tmp_path):
    assert TextEncoder("enc/a", cache_dir=tmp_path).cache_file != TextEncoder("enc-a", cache_dir=tmp_path).cache_file


def test_no_home_folder_leaves_the_caches_unused_not_a_traceback(tiny_model_dir, tmp_path, monkeypatch, caplog):
    """$HOME unset under a user id with no home (a container run as an arbitrary user): the default cache folder cannot
    be known, so the prompt-embedding and ONNX caches go unused with a warning (predict was a RuntimeError traceback
    from Path.home)."""
    from pathlib import Path

    from PIL import Image

    from conftest import wall_photo
    from drywallqa.export.onnx_cache import exported_onnx_dir
    from drywallqa.text.encoder import get_text_encoder

    def no_home(cls):
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.delenv("DRYWALLQA_CACHE", raising=False)
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setattr(Path, "home", classmethod(no_home))
    Image.fromarray(wall_photo(0, 64, 64)).save(tmp_path / "w.png")
    get_text_encoder.cache_clear()  # an encoder made with a home folder would hide it
    try:
        with caplog.at_level("WARNING"):
            res = CliRunner().invoke(app, ["predict", str(tmp_path / "w.png"), "-p", "segment crack", "--out",
                                           str(tmp_path / "o"), "--model-path", str(tiny_model_dir)])
            export = exported_onnx_dir(tiny_model_dir)
    finally:
        get_text_encoder.cache_clear()
    assert res.exit_code == 0 and res.exception is None, (res.output, res.exception)
    assert (tmp_path / "o" / "w__segment_crack.png").is_file()
    assert "no home folder" in caplog.text and "$DRYWALLQA_CACHE" in caplog.text
    assert (export / "encoder.onnx").is_file() and not str(export).startswith("~")


def test_a_cache_folder_given_with_a_tilde_is_in_the_home_folder(tiny_model_dir, tmp_path, monkeypatch):
    """DRYWALLQA_CACHE=~/cache as an env file, a service's Environment= or a quoted shell value passes it (no shell
    expands the ~ there): the caches went into a folder named "~" in the working directory, a new one per folder a
    command was run from."""
    from drywallqa.export.onnx_cache import exported_onnx_dir
    from drywallqa.text.encoder import default_cache_dir

    (tmp_path / "home").mkdir()
    (tmp_path / "work").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DRYWALLQA_CACHE", "~/cache")
    monkeypatch.chdir(tmp_path / "work")
    assert default_cache_dir() == tmp_path / "home" / "cache"
    TextEncoder().store.put({"prompt 1": _vec(1)})
    export = exported_onnx_dir(tiny_model_dir)
    assert (tmp_path / "home" / "cache" / "text_embeddings").is_dir() and export.parent == tmp_path / "home" / "cache" / "onnx"
    assert not (tmp_path / "work" / "~").exists()
