"""Robustness: shared state under concurrent use and crashes (caches, partial results, lock files), with real
processes where it matters. A damaged entry is rebuilt or bypassed with a warning: never a traceback, never a wrong
result."""

import struct

import numpy as np

import pytest

from drywallqa.engine.evaluator import _load_partial


@pytest.mark.parametrize("damaged", [
    b"\x80\x05\x8e" + struct.pack("<Q", 2**63 + 5) + b"ab.",  # BINBYTES8 of more than the system's maximum size
    b"\x80\x05\x95" + struct.pack("<Q", 2**63 + 1) + b"N.",   # a FRAME of as much
    b"\x80\x05\x96" + struct.pack("<Q", 2**62) + b"ab.",      # a BYTEARRAY8 of 4 EiB: MemoryError
], ids=["bytes", "frame", "bytearray"])
def test_a_partial_set_with_a_flipped_length_byte_is_scored_anew_not_a_traceback(tmp_path, caplog, damaged):
    saved = tmp_path / ".partial" / "0123.pkl"
    saved.parent.mkdir()
    saved.write_bytes(damaged)
    with caplog.at_level("WARNING"):
        assert _load_partial(saved) is None
    assert "scoring the set anew" in caplog.text


@pytest.mark.parametrize("flip", ["compression method", "encrypted"])
def test_an_array_cache_with_a_flipped_bit_in_its_zip_header_is_decoded_again(tmp_path, caplog, flip):
    from test_array_cache import make_samples

    from drywallqa.data import cache

    samples = make_samples(tmp_path)
    want = cache.load_arrays(samples, 16, tmp_path / "cache")
    path = next((tmp_path / "cache").glob("arrays_*.npz"))
    data = bytearray(path.read_bytes())
    central = data.find(b"PK\x01\x02")  # the first file's entry in the zip's central directory
    if flip == "compression method":
        data[central + 10] = 99
    else:
        data[central + 8] |= 1  # its "encrypted" flag
    path.write_bytes(bytes(data))
    with caplog.at_level("WARNING"):
        got = cache.load_arrays(samples, 16, tmp_path / "cache")
    assert "is damaged" in caplog.text
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    assert cache.load_arrays(samples, 16, tmp_path / "cache")[2] == want[2]  # written again whole


@pytest.mark.parametrize("vector", [b"abc", np.ones(10, np.float32).tobytes(), "text"], ids=["3 bytes", "10 floats", "text"])
def test_the_encoders_dimension_is_not_read_from_a_damaged_entry(tmp_path, vector):
    import sqlite3

    from drywallqa.text.encoder import TextEncoder

    enc = TextEncoder(cache_dir=tmp_path)
    enc.encode(["segment crack", "segment taping area"])
    with sqlite3.connect(enc.cache_file) as con:  # the first row of the table damaged
        con.execute("UPDATE embeddings SET vector = ? WHERE prompt = 'segment crack'", (vector,))
    again = TextEncoder(cache_dir=tmp_path)
    assert again.dim == 384  # what a new model's text_dim is made from (training)
    assert again._model is None  # read from the sound entry


def test_a_folder_named_like_a_killed_writes_temporary_is_left_alone_not_a_traceback(tmp_path):
    from test_array_cache import make_samples

    from drywallqa.data import cache
    from drywallqa.utils.files import remove_stale_temporaries

    samples = make_samples(tmp_path)
    folder = tmp_path / "cache"
    folder.mkdir()
    named = [folder / ".arrays_16_x.npz.99999-abc.tmp", folder / "arrays_16_x.99999.tmp.npz"]  # this and earlier versions'
    for path in named:
        path.mkdir()
        (path / "kept").write_text("someone's")
    leftover = folder / ".results.json.99999-abc.tmp"
    leftover.write_text("a killed write's")
    images, masks, kept = cache.load_arrays(samples, 16, folder)  # was IsADirectoryError
    assert len(kept) == 3 and not leftover.exists()
    assert all((path / "kept").is_file() for path in named)
    assert remove_stale_temporaries(folder) == 0


def test_a_folder_named_like_a_temporary_folders_lock_is_left_alone_not_a_traceback(tmp_path):
    from drywallqa.utils.files import temp_dir

    (tmp_path / ".best.123-abc.lock").mkdir()  # a folder where a killed run's lock file would be
    (tmp_path / ".best.123-abc").mkdir()
    with temp_dir(tmp_path, ".best.") as tmp:  # was IsADirectoryError: every later save of best/ failed
        assert tmp.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".best.123-abc", ".best.123-abc.lock"]


@pytest.mark.parametrize("flip", ["compression method", "encrypted"])
def test_a_prompt_gate_with_a_flipped_bit_in_its_zip_header_is_said_damaged(tmp_path, flip):
    from drywallqa.text.gate import GATE_FILE, PromptGate

    e = np.eye(3, 8, dtype=np.float32)
    PromptGate(["a", "b"], ["x", "y"], e[:2], e[2:3], {"x": "a", "y": "b"}, 0.25).save(tmp_path)
    path = tmp_path / GATE_FILE
    data = bytearray(path.read_bytes())
    central = data.find(b"PK\x01\x02")
    if flip == "compression method":
        data[central + 10] = 99
    else:
        data[central + 8] |= 1
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="is damaged.*calibrate it again"):  # was NotImplementedError / RuntimeError
        PromptGate.from_model_dir(tmp_path)


def test_an_output_marker_that_is_a_link_to_nowhere_is_replaced_not_a_traceback(tmp_path):
    import os

    from drywallqa.engine.batch import prepare_out_dir
    from drywallqa.utils.output_folders import OUTPUT_MARKER, is_output_folder

    out = tmp_path / "out"
    out.mkdir()
    os.symlink(tmp_path / "gone" / "marker", out / OUTPUT_MARKER)  # an output folder copied with its links
    assert prepare_out_dir(out) == out  # was FileNotFoundError, a traceback of `drywallqa predict --out`
    assert (out / OUTPUT_MARKER).is_file() and not (out / OUTPUT_MARKER).is_symlink()
    assert is_output_folder(out) and not (tmp_path / "gone").exists()
