"""The prompt encoder's disk cache: a prompt seen before costs no encoder load."""

import numpy as np
import pytest

from drywallqa.text.encoder import TextEncoder


def test_cached_prompts_need_no_encoder(tmp_path):
    first = TextEncoder(cache_dir=tmp_path)
    want = first.encode(["segment crack", "segment taping area"]).numpy()
    assert first.cache_file.is_file()

    again = TextEncoder(cache_dir=tmp_path)
    got = again.encode(["segment taping area", "segment crack", "segment crack"]).numpy()
    assert again._model is None  # answered from disk
    assert again.dim == 384 and again._model is None
    np.testing.assert_array_equal(got, want[[1, 0, 0]])
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)

    # a new prompt loads the encoder and is added to the cache file
    again.encode(["segment drywall seam"])
    assert again._model is not None
    assert again.cached_prompts() == ["segment crack", "segment taping area", "segment drywall seam"]


def test_broken_cache_file_is_rebuilt(tmp_path):
    enc = TextEncoder(cache_dir=tmp_path)
    enc.cache_file.parent.mkdir(parents=True)
    enc.cache_file.write_bytes(b"not a database")
    fresh = TextEncoder(cache_dir=tmp_path)
    vec = fresh.encode(["segment crack"])
    assert vec.shape == (1, 384)
    assert fresh.cached_prompts() == ["segment crack"]


def test_memory_only_and_empty_prompt(tmp_path):
    enc = TextEncoder(cache_dir=False)
    assert enc.cache_file is None
    with pytest.raises(ValueError, match="non-empty"):
        enc.encode(["  "])


def test_loads_in_two_threads_keep_the_loading_bar_off_until_the_last_ends():
    """transformers' progress bar is one switch for the process: a load ending while another thread's was still on
    turned the bar back on under it, or one that began second turned it on for good. It stays off until the last
    local load ends, then is as the user had it."""
    import threading

    from transformers.utils import logging as hf_logging

    from drywallqa.text.encoder import _no_loading_bar

    hf_logging.enable_progress_bar()
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first():
        with _no_loading_bar(True):
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second():
        first_in.wait(5)
        with _no_loading_bar(True):
            second_in.set()
            first_out.wait(5)
            seen["after the first ended"] = hf_logging.is_progress_bar_enabled()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == {"after the first ended": False} and hf_logging.is_progress_bar_enabled()
    with _no_loading_bar(False):  # a hub download keeps its bars
        assert hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # the user's own choice is kept
    try:
        with _no_loading_bar(True):
            assert not hf_logging.is_progress_bar_enabled()
        assert not hf_logging.is_progress_bar_enabled()
    finally:
        hf_logging.enable_progress_bar()
