"""Robustness: shared state under concurrent use and crashes (caches, partial results, lock files), with real
processes where it matters. A damaged entry is rebuilt or bypassed with a warning: never a traceback, never a wrong
result."""

import struct

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
