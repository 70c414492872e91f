"""How ``predict`` names a folder's outputs (h303): names one file on a disk that folds case or Unicode normalisation
(macOS, Windows) get one output name, as stems of another case already do, and a job named by folder resumed from
another common folder reuses the photos done."""

import json
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from drywallqa import Segmenter
from drywallqa.engine.batch import predict_paths

def _photo(path: Path, seed: int = 0, size=(30, 40)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(path)
    return path


@pytest.mark.parametrize("first, second", [
    (unicodedata.normalize("NFC", "café.jpg"), unicodedata.normalize("NFD", "café.jpg")),  # one file on macOS
    (unicodedata.normalize("NFC", "Café.jpg"), unicodedata.normalize("NFD", "cafÉ.jpg")),  # and case aside
])
def test_names_one_file_under_unicode_normalisation_share_no_output(tiny_model_dir, tmp_path, first, second):
    _photo(tmp_path / "in" / first, 0)
    _photo(tmp_path / "in" / second, 1)
    assert len(list((tmp_path / "in").iterdir())) == 2  # (two files on this disk)
    out = tmp_path / "out"
    summary = predict_paths(Segmenter.load(tiny_model_dir), [tmp_path / "in"], ["segment crack"], out, progress=False)
    assert len(summary.done) == 1, summary.done
    (path, why), = summary.failed  # the other named, as of "A.jpg" beside "a.jpg", not written beside it
    assert "same file stem" in why
    # no two records whose names one file on a disk that folds normalisation and case
    records = [unicodedata.normalize("NFC", f.name).casefold() for f in out.glob("*__results.json")]
    assert len(records) == len(set(records)) == 1
