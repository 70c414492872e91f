"""Output folders: a user's ``scan__results.json`` or ``results.json`` of another program no longer makes
a folder of theirs pass for a job's output folder; a user's ``report_files/<stem>.jpg`` is refused as their other
files are; ``ship`` keeps a file put into its destination while the folder is replaced."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image


def _said(res) -> str:
    return " ".join(res.output.replace("│", " ").split())


def _photos(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(photos / "a.jpg")
    return photos


def _predict(args):
    from typer.testing import CliRunner

    from drywallqa.cli import app

    return CliRunner().invoke(app, args, terminal_width=300)


def test_a_users_file_named_like_a_record_does_not_make_their_folder_a_jobs(tiny_model_dir, tmp_path):
    """``site`` holds the user's ``scan__results.json`` (another tool's) and ``a__segment_crack.png``: any
    ``*__results.json`` made the folder a job's, so ``predict -o site`` wrote its mask over the user's file, exit 0.
    Now the record is read: not a job's, the mask's name is refused (exit 2, named, what to do)."""
    from drywallqa.utils.output_folders import is_output_folder

    photos, site = _photos(tmp_path), tmp_path / "site"
    site.mkdir()
    (site / "scan__results.json").write_text(json.dumps({"scans": [{"file": "a.jpg", "ok": True}]}))
    mine = site / "a__segment_crack.png"
    Image.fromarray(np.full((5, 7), 7, np.uint8)).save(mine)
    before = mine.read_bytes()
    res = _predict(["predict", str(photos), "-p", "segment crack", "-o", str(site), "--model-path", str(tiny_model_dir)])
    said = _said(res)
    assert res.exit_code == 2 and "a__segment_crack.png that no drywallqa job wrote" in said, said
    assert "another --out" in said and "--overwrite" in said and "Traceback" not in res.output
    assert mine.read_bytes() == before and sorted(p.name for p in site.iterdir()) == ["a__segment_crack.png",
                                                                                         "scan__results.json"]
    assert not is_output_folder(site)


def test_folders_jobs_wrote_are_output_folders_still_with_or_without_their_marker(tiny_model_dir, tmp_path):
    """A folder a job wrote is one (its marker); without the marker (a job older than it, a copy without hidden
    files) by its records or its results.json as jobs of every version wrote them; a rerun into it goes on. A user's
    results.json of another program does not make a folder of photos one: its ``wall__01.png`` is read as a photo."""
    from drywallqa.utils.image_io import find_images
    from drywallqa.utils.output_folders import OUTPUT_MARKER, is_output_folder

    photos, out = _photos(tmp_path), tmp_path / "out"
    args = ["predict", str(photos), "-p", "segment crack", "-o", str(out), "--model-path", str(tiny_model_dir)]
    assert _predict(args).exit_code == 0
    assert is_output_folder(out)
    (out / OUTPUT_MARKER).unlink()
    assert is_output_folder(out)  # its record, its results.json
    (out / "results.json").unlink()
    assert is_output_folder(out)  # its record (a job killed before results.json)
    res = _predict(args)
    assert res.exit_code == 0 and "1 skipped" in _said(res), _said(res)
    (out / OUTPUT_MARKER).unlink()
    (out / "a__results.json").unlink()
    assert is_output_folder(out)  # its results.json
    # 0.5.0's record: no checksums, settings, stamps nor job
    old = tmp_path / "old"
    old.mkdir()
    (old / "a__results.json").write_text(json.dumps({"image": "/x/a.jpg", "height": 24, "width": 32, "prompts": {}}))
    assert is_output_folder(old)

    shots = tmp_path / "shots"
    shots.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(shots / "wall__01.png")
    (shots / "results.json").write_text(json.dumps({"labels": {"wall__01.png": "crack"}}))
    assert not is_output_folder(shots)
    assert [p.name for p in find_images([shots]).images] == ["wall__01.png"]


def test_predict_refuses_a_users_picture_at_a_thumbnails_name(tiny_model_dir, tmp_path):
    """``site`` (no job's, no report.html) holds the user's ``report_files/a.jpg``: ``predict`` wrote the report's
    thumbnail of a.jpg over it without a word. Refused, named; --no-report leaves it alone (the folder is then a job's)."""
    photos, site = _photos(tmp_path), tmp_path / "site"
    (site / "report_files").mkdir(parents=True)
    mine = site / "report_files" / "a.jpg"
    Image.fromarray(np.full((9, 9, 3), 200, np.uint8)).save(mine)
    (site / "report_files" / "b.jpg").write_bytes(mine.read_bytes())  # no photo b: no thumbnail of that name
    before = mine.read_bytes()
    args = ["predict", str(photos), "-p", "segment crack", "-o", str(site), "--model-path", str(tiny_model_dir)]
    res = _predict(args)
    said = _said(res)
    assert res.exit_code == 2 and "report_files/a.jpg that no drywallqa job wrote" in said, said
    assert "b.jpg" not in said and "--overwrite" in said and "Traceback" not in res.output
    assert mine.read_bytes() == before and sorted(p.name for p in site.iterdir()) == ["report_files"]
    res = _predict([*args, "--no-report"])
    assert res.exit_code == 0, _said(res)
    assert mine.read_bytes() == before
    res = _predict(args)  # now a job's folder: its report written
    assert res.exit_code == 0 and (site / "report.html").is_file(), _said(res)


def test_replace_dir_keeps_the_folder_it_replaced_where_it_holds_files_not_expected(tmp_path):
    """``unexpected`` is asked of the folder replaced once it is aside: where it names files, that folder is kept
    beside ``dest`` (``<name>.replaced``, then ``.replaced-2``), not deleted, and :class:`KeptAside` says so once the
    new folder is in; where it names none the folder goes, as without it."""
    from drywallqa.utils.files import KeptAside, replace_dir

    dest = tmp_path / "model"
    for n in range(1, 4):
        dest.mkdir(exist_ok=True)
        (dest / "weights.bin").write_text(f"old {n}")
        if n < 3:
            (dest / "notes.txt").write_text(f"mine {n}")
        new = tmp_path / f"new{n}"
        new.mkdir()
        (new / "weights.bin").write_text(f"new {n}")
        unexpected = lambda old: sorted(p.name for p in old.iterdir() if p.name != "weights.bin")  # noqa: E731
        if n < 3:
            with pytest.raises(KeptAside) as exc:
                replace_dir(new, dest, unexpected=unexpected)
            kept = tmp_path / ("model.replaced" if n == 1 else "model.replaced-2")
            assert exc.value.kept == kept and exc.value.names == ["notes.txt"] and str(kept) in str(exc.value)
            assert (kept / "notes.txt").read_text() == f"mine {n}" and (kept / "weights.bin").read_text() == f"old {n}"
        else:
            assert replace_dir(new, dest, unexpected=unexpected) == dest
        assert (dest / "weights.bin").read_text() == f"new {n}" and not (dest / "notes.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "model.replaced", "model.replaced-2"]


def test_ship_keeps_a_file_put_into_dest_between_its_last_look_and_the_swap(tiny_model_dir, synthetic_datasets,
                                                                           syn_splits, tmp_path, monkeypatch):
    """``ship`` looks at ``dest`` for files it does not write, then replaces it whole: a file put there in between (an
    ``evaluate --out DEST/eval`` finishing then) was deleted with the old folder, without a word. Now the old folder
    is looked at again once renamed aside: the new model is in ``dest``, the old folder is kept whole beside it, named
    (WARNING and the result's ``kept``)."""
    import drywallqa.engine.shipping as shipping

    dest = tmp_path / "shipped"
    shutil.copytree(tiny_model_dir, dest)
    listed = shipping.files_ship_does_not_write
    looks = []

    def look_then_a_file_arrives(folder):
        out = listed(folder)
        looks.append(folder)
        if len(looks) == 2:  # ship's last look at dest before the swap (the first: check_destination's)
            assert folder == dest
            (dest / "eval").mkdir()
            (dest / "eval" / "report.md").write_text("report")
        return out

    monkeypatch.setattr(shipping, "files_ship_does_not_write", look_then_a_file_arrives)
    lines = []
    out = shipping.ship(tiny_model_dir, dest, datasets=("syn_crack", "syn_tape"), scales=((64,),), tta=(False,),
                        splits_dir=syn_splits, datasets_dir=synthetic_datasets, timing_images=2, budget=False,
                        gate=False, confidence=False, drywall_check=None, progress=False,
                        report=lambda line: lines.append(str(line)))
    kept = tmp_path / "shipped.replaced"
    assert (kept / "eval" / "report.md").read_text() == "report"
    assert out["kept"] == str(kept) and (dest / "selection.json").is_file() and not (dest / "eval").exists()
    assert any("WARNING" in line and "eval/" in line and str(kept) in line for line in lines), lines
