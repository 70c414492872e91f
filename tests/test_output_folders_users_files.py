"""Output folders never silently destroy a user's own file."""

import json

import numpy as np
import pytest
from PIL import Image


def _said(res) -> str:
    return " ".join(res.output.replace("│", " ").split())


def test_predict_into_a_folder_no_job_wrote_refuses_to_write_over_a_users_file_at_a_masks_name(tiny_model_dir, tmp_path):
    """``predict photos -o site``, site (no drywallqa job's) holding the user's own ``a__segment_crack.png``: the job
    wrote its mask over it, exit 0, without a word (a file of the user's at results.json's name was refused). Refused
    the same, naming it; --overwrite writes; a folder a job wrote is rerun as before."""
    from typer.testing import CliRunner

    from drywallqa import Segmenter
    from drywallqa.cli import app
    from drywallqa.engine.batch import predict_paths

    photos, site = tmp_path / "photos", tmp_path / "site"
    photos.mkdir()
    site.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(photos / "a.jpg")
    mine = site / "a__segment_crack.png"
    Image.fromarray(np.full((5, 7), 7, np.uint8)).save(mine)
    before = mine.read_bytes()
    args = ["predict", str(photos), "-p", "segment crack", "-o", str(site), "--model-path", str(tiny_model_dir)]
    res = CliRunner().invoke(app, args, terminal_width=300)
    said = _said(res)
    assert res.exit_code == 2 and "a__segment_crack.png that no drywallqa job wrote" in said and "--overwrite" in said, said
    assert mine.read_bytes() == before and sorted(p.name for p in site.iterdir()) == ["a__segment_crack.png"]
    with pytest.raises(ValueError, match="a__segment_crack.png that no drywallqa job wrote"):
        predict_paths(Segmenter.load(tiny_model_dir), [photos], ["segment crack"], site, progress=False)
    assert mine.read_bytes() == before and sorted(p.name for p in site.iterdir()) == ["a__segment_crack.png"]
    # --overlay: the overlay strip's name too
    mine.rename(site / "a__overlay.png")
    res = CliRunner().invoke(app, [*args, "--overlay"], terminal_width=300)
    assert res.exit_code == 2 and "a__overlay.png that no drywallqa job wrote" in _said(res), _said(res)
    (site / "a__overlay.png").rename(mine)
    res = CliRunner().invoke(app, [*args, "--overwrite"], terminal_width=300)
    assert res.exit_code == 0, _said(res)
    assert mine.read_bytes() != before and (site / "a__results.json").is_file()
    res = CliRunner().invoke(app, args, terminal_width=300)  # the folder a job wrote: rerun, photo skipped, as before
    assert res.exit_code == 0, _said(res)


def test_predict_resumes_a_folder_a_killed_job_left_masks_in_without_records(tiny_model_dir, tmp_path):
    """A job killed after a photo's masks but before its record leaves masks no record names: the folder is marked
    as a job's, so a rerun predicts them again, as before (no refusal)."""
    from drywallqa import Segmenter
    from drywallqa.engine.batch import predict_paths
    from drywallqa.utils.output_folders import mark_output_folder

    photos, out = tmp_path / "photos", tmp_path / "out"
    photos.mkdir()
    out.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(photos / "a.jpg")
    mark_output_folder(out)
    Image.fromarray(np.zeros((24, 32), np.uint8)).save(out / "a__segment_crack.png")
    summary = predict_paths(Segmenter.load(tiny_model_dir), [photos], ["segment crack"], out, progress=False)
    assert len(summary.done) == 1 and not summary.failed


def test_evaluate_into_a_folder_no_evaluation_wrote_refuses_to_write_over_a_users_report(synthetic_datasets,
                                                                                          tiny_model_dir, tmp_path):
    """``evaluate --out notes``, notes (no evaluation's) holding the user's own report.md and examples.png: the
    evaluation deleted and replaced them, exit 0, without a word. Refused, naming them, before the model loads; a
    folder an evaluation wrote is evaluated into again as before."""
    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.engine.evaluator import check_eval_out

    notes = tmp_path / "notes"
    notes.mkdir()
    theirs = {"report.md": "# my notes\n", "examples.png": "not a picture"}
    for name, text in theirs.items():
        (notes / name).write_text(text)
    args = ["evaluate", "--model-path", str(tiny_model_dir), "-d", "syn_crack", "--splits", "published",
            "--datasets-dir", str(synthetic_datasets), "--speed-images", "0", "--limit", "2"]
    res = CliRunner().invoke(app, [*args, "--out", str(notes)], terminal_width=300)
    said = _said(res)
    assert res.exit_code == 2 and "report.md, examples.png that no evaluation wrote" in said, said
    assert {p.name: p.read_text() for p in notes.iterdir()} == theirs
    with pytest.raises(ValueError, match="report.md, examples.png that no evaluation wrote"):
        check_eval_out(notes, ["syn_crack"], synthetic_datasets)
    out = tmp_path / "eval"
    for _ in range(2):  # an evaluation's own folder: evaluated into again
        res = CliRunner().invoke(app, [*args, "--out", str(out)], terminal_width=300)
        assert res.exit_code == 0 and (out / "report.json").is_file(), _said(res)
    (out / "report.json").unlink()  # stopped after it took report.json away, its .partial/ gone too: the lock is left
    res = CliRunner().invoke(app, [*args, "--out", str(out)], terminal_width=300)
    assert res.exit_code == 0, _said(res)


def test_zeroshot_into_a_folder_no_job_wrote_refuses_to_write_over_a_users_files(tmp_path):
    """``zeroshot photos -o site``, site (no drywallqa job's) holding the user's own report.json and a__crack.png (a
    name of the photo's masks): the job deleted the report.json and wrote its masks over the other, without a word
    (earlier_job: "the folder holds no job's outputs (it may hold the user's files)"). Refused, naming them, before
    the models load; --overwrite writes; a folder of this same job is no conflict."""
    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.utils.output_folders import mark_output_folder
    from drywallqa.zeroshot.pipeline import ZeroShotConfig, earlier_job

    photos, site = tmp_path / "photos", tmp_path / "site"
    photos.mkdir()
    site.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(photos / "a.jpg")
    (site / "report.json").write_text('{"mine": 1}')
    (site / "b__crack.png").write_bytes(b"another photo's name: not this job's")
    cfg = ZeroShotConfig()
    assert earlier_job([photos], site, cfg)[1] is not None
    (site / "report.json").rename(site / "a__crack.png")
    conflict = earlier_job([photos], site, cfg)[1]
    assert conflict is not None and "a__crack.png that no drywallqa job wrote" in conflict and "--overwrite" in conflict
    assert "b__crack.png" not in conflict
    (site / "a__crack.png").rename(site / "report.json")
    res = CliRunner().invoke(app, ["zeroshot", str(photos), "-o", str(site), "--material", "drywall"],
                             terminal_width=300)
    said = _said(res)
    assert res.exit_code == 2 and "report.json that no drywallqa job wrote" in said, said
    assert (site / "report.json").read_text() == '{"mine": 1}'
    assert earlier_job([photos], site, cfg)[1] is not None
    (site / "report.json").unlink()
    assert earlier_job([photos], site, cfg)[1] is None  # b__crack.png: no name of this job's
    job = earlier_job([photos], site, cfg)[0]
    mark_output_folder(site)  # this same job's folder, stopped after a mask: run again, as before
    (site / ".zeroshot_job.json").write_text(json.dumps(job))
    (site / "a__crack.png").write_bytes(b"x")
    assert earlier_job([photos], site, cfg)[1] is None
