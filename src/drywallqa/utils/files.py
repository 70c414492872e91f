"""Writing files so that a reader (or a rerun after ``kill -9``) never sees half of one; reading a batch
job's ``results.json`` back."""

from __future__ import annotations

import json
from pathlib import Path

BATCH_RESULTS = "results.json"  # what a batch job (drywallqa predict) leaves in its output folder


def write_text_atomic(text: str, path: str | Path) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file beside it and a rename; returns ``path``."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


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
