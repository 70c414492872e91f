"""How ``predict`` names a folder's outputs: names one file on a disk that folds case or Unicode normalisation
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


@pytest.fixture
def photos(tmp_path):
    """photos/a/IMG_2.jpg, photos/a/sub/IMG_1.jpg, photos/b/IMG_1.jpg: named by folder below photos, a-IMG_2,
    a-sub-IMG_1, b-IMG_1; below photos/a, a-IMG_2 and sub-IMG_1."""
    for i, name in enumerate(("a/IMG_2.jpg", "a/sub/IMG_1.jpg", "b/IMG_1.jpg")):
        _photo(tmp_path / "photos" / name, i)
    return tmp_path / "photos"


def _stamps(out: Path) -> dict:
    return {f.name: f.stat().st_mtime_ns for f in out.glob("*__*")}


def test_a_job_named_by_folder_resumed_on_one_of_its_folders_reuses_its_photos(tiny_model_dir, photos, tmp_path):
    seg, out = Segmenter.load(tiny_model_dir), tmp_path / "out"
    first = predict_paths(seg, [photos], ["segment crack"], out, progress=False, names_from_folders=True)
    assert first.ok and len(first.done) == 3
    assert json.loads((out / "results.json").read_text())["names_root"] == str(photos)  # the folder counted from
    assert json.loads((out / "a-sub-IMG_1__results.json").read_text())["names_root"] == str(photos)
    stamps = _stamps(out)
    # resumed on photos/a alone (the deepest folder holding its inputs, which named sub/IMG_1.jpg sub-IMG_1): the
    # names the job gave them, nothing predicted again nor left beside under another name
    again = predict_paths(seg, [photos / "a"], ["segment crack"], out, progress=False, names_from_folders=True)
    assert again.ok and not again.done and len(again.skipped) == 2, (again.done, again.failed)
    assert _stamps(out) == stamps
    assert json.loads((out / "results.json").read_text())["names_root"] == str(photos)


def test_an_older_job_named_by_folder_without_its_root_resumes_as_before(tiny_model_dir, photos, tmp_path):
    seg, out = Segmenter.load(tiny_model_dir), tmp_path / "out"
    assert predict_paths(seg, [photos / "a"], ["segment crack"], out, progress=False, names_from_folders=True).ok
    for f in [out / "results.json", *out.glob("*__results.json")]:  # as a job before the root was recorded wrote it
        held = json.loads(f.read_text())
        held.pop("names_root")
        f.write_text(json.dumps(held))
    assert (out / "sub-IMG_1__results.json").is_file()
    stamps = _stamps(out)
    again = predict_paths(seg, [photos / "a"], ["segment crack"], out, progress=False, names_from_folders=True)
    assert again.ok and not again.done and len(again.skipped) == 2, (again.done, again.failed)
    assert _stamps(out) == stamps


def test_a_job_named_by_folder_resumed_from_a_folder_above_says_the_files_it_left_under_the_first_names(
        tiny_model_dir, photos, tmp_path):
    seg, out = Segmenter.load(tiny_model_dir), tmp_path / "out"
    assert predict_paths(seg, [photos / "a"], ["segment crack"], out, progress=False, names_from_folders=True).ok
    assert (out / "sub-IMG_1__results.json").is_file()  # counted from photos/a
    again = predict_paths(seg, [photos], ["segment crack"], out, progress=False, names_from_folders=True)
    # counted from photos: photos/a/sub/IMG_1.jpg is a-sub-IMG_1 now, predicted again; its first files left, and said
    assert again.ok and again.done == [str(photos / "a" / "sub" / "IMG_1.jpg"), str(photos / "b" / "IMG_1.jpg")]
    assert (out / "sub-IMG_1__results.json").is_file() and (out / "a-sub-IMG_1__results.json").is_file()
    said = [w for w in again.warnings if "under another name" in w]
    assert len(said) == 1 and said[0].startswith("1 photos"), again.warnings
    results = json.loads((out / "results.json").read_text())
    assert sorted(e["prompts"]["segment crack"]["mask"] for e in results["images"]) == [
        "a-IMG_2__segment_crack.png", "a-sub-IMG_1__segment_crack.png", "b-IMG_1__segment_crack.png"]
    assert said[0] in results["warnings"]
