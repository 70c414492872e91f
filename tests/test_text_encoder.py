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
