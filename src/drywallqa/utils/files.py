"""Writing files so that a reader (or a rerun after ``kill -9``) never sees half of one; reading a batch
job's ``results.json`` back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

BATCH_RESULTS = "results.json"  # what a batch job (drywallqa predict) leaves in its output folder


def write_atomic(path: str | Path, write: Callable[[Path], object]) -> Path:
    """``write(tmp)`` to a temporary file beside ``path``, then rename it to ``path`` (atomic on one file
    system: a kill leaves the old file or the new one, never half of one); returns ``path``."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    tmp.replace(path)
    return path


def write_text_atomic(text: str, path: str | Path) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file beside it and a rename; returns ``path``."""
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def read_batch_results(out_dir: str | Path) -> dict:
    """The ``results.json`` a batch job wrote to ``out_dir``.

    Raises:
        FileNotFoundError: ``out_dir`` holds none (no batch job wrote there).
    """
    out = Path(out_dir)
    path = out / BATCH_RESULTS
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found; run `drywallqa predict ... --out {out}` first")
    return json.loads(path.read_text())
