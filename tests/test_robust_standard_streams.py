"""Commands run where their standard streams are closed, or are files and pipes of a program (no terminal)."""

import os
import subprocess
import sys
from pathlib import Path

from conftest import write_photos

from drywallqa.utils.progress import progress_bar

SRC = str(Path(__file__).parents[1] / "src")


def _cli(args, cwd, close=(), **kwargs):
    """``python -m drywallqa args`` in ``cwd``, with the standard descriptors ``close`` closed in the child."""
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "drywallqa", *args], cwd=cwd, env=env, timeout=120,
                          preexec_fn=lambda: [os.close(fd) for fd in close], **kwargs)


def test_predict_with_standard_error_closed_segments_every_photo(tmp_path, tiny_model_dir):
    """`drywallqa predict ... 2>&-` ended at its progress bar's first line, exit 1 without a word, one photo of three
    segmented (train likewise before its run folder was made)."""
    from drywallqa import Segmenter

    write_photos(tmp_path / "in", 3)
    # the prompt's embedding in the cache, as on any run after the first: loading the text encoder (transformers'
    # logging) would have put a standard error in place
    Segmenter.load(str(tiny_model_dir)).predict(tmp_path / "in" / "p0.jpg", ["segment crack"])
    done = _cli(["predict", "in", "-p", "segment crack", "-o", "out", "--model-path", str(tiny_model_dir)],
                tmp_path, close=(2,), stdout=subprocess.PIPE, text=True)
    assert done.returncode == 0, done.stdout
    assert "3 images done, 0 failed" in done.stdout
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == [f"p{i}__segment_crack.png" for i in range(3)]


def test_a_progress_bar_without_standard_error_draws_nothing(monkeypatch):
    monkeypatch.setattr(sys, "stderr", None)
    assert list(progress_bar(range(3), desc="predict")) == [0, 1, 2]
