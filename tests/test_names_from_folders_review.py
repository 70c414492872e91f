"""Review of --names-from-folders: inputs given as links, ..."""

import json
import re
import os

import numpy as np
import pytest
from PIL import Image

from drywallqa import Segmenter
from drywallqa.engine.batch import predict_paths


def _photos(root, *names, seed=0):
    rng = np.random.default_rng(seed)
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)).save(root / name)
    return root


def test_a_folder_given_also_through_a_link_is_one_photo_each_named_by_folder(tiny_model_dir, tmp_path):
    """photos/day1 and a link to it (or a file of it through the link): each photo was predicted twice, under two names
    (photos-day1-IMG_1 and link-IMG_1); by file stem a file given twice is one image, and so it is named by folder."""
    if not hasattr(os, "symlink"):
        pytest.skip("no links")
    photos = _photos(tmp_path / "photos", "day1/IMG_1.jpg", "day1/IMG_2.jpg")
    (tmp_path / "link").symlink_to(photos / "day1", target_is_directory=True)
    seg, out = Segmenter.load(tiny_model_dir), tmp_path / "out"
    for inputs in ([photos / "day1", tmp_path / "link"], [photos / "day1", tmp_path / "link" / "IMG_2.jpg"]):
        summary = predict_paths(seg, inputs, ["segment crack"], out, progress=False, names_from_folders=True,
                                overwrite=True)
        assert summary.ok and len(summary.done) == 2, (summary.done, summary.failed)
        assert len(summary.results) == 2 and len(list(out.glob("*__results.json"))) == 2
        assert len(json.loads((out / "results.json").read_text())["images"]) == 2


def test_zeroshot_same_stem_failure_names_what_zeroshot_can_do(tiny_grounding_dino_dir, tiny_sam_dir, tmp_path):
    """a/x.png and b/x.png to `drywallqa zeroshot`: the failure said to give --names-from-folders, which zeroshot has
    not (No such option) then; it says what zeroshot can do."""
    import yaml
    from typer.testing import CliRunner

    from drywallqa.cli import app

    _photos(tmp_path, "a/x.png", "b/x.png")
    cfg = tmp_path / "zs.yaml"
    cfg.write_text(yaml.safe_dump({"detector_path": str(tiny_grounding_dino_dir), "sam_path": str(tiny_sam_dir),
                                   "box_threshold": 0.0, "text_threshold": 0.0}))
    res = CliRunner().invoke(app, ["zeroshot", "--config", str(cfg), "--prompts", "fixed", "-p", "crack",
                                   str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "o")])
    text = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 1 and "has the same file stem" in text, res.output
    # zeroshot has --names-from-folders since h291: its failure names it, as predict's does
    assert "--names-from-folders" in text and "its own --out" in text


def test_rerun_by_stem_with_overwrite_after_a_job_by_folder_fails_no_photo_twice(tiny_model_dir, tmp_path):
    """A job by folder, then (as check_names says) the same inputs by file stem with --overwrite: day2/IMG_1.jpg fails
    as of day1's stem, and failed a second time, 'its results were replaced while this job ran, by another job' (none
    ran), its old results (day2-IMG_1__*) taken for another job's photo; now it fails once, its old results not listed
    as if they were today's."""
    from drywallqa.engine.batch import REPLACED_MEANWHILE

    photos = _photos(tmp_path / "photos", "day1/IMG_1.jpg", "day2/IMG_1.jpg")
    seg, out, inputs = Segmenter.load(tiny_model_dir), tmp_path / "out", [photos / "day1", photos / "day2"]
    assert predict_paths(seg, inputs, ["segment crack"], out, progress=False, names_from_folders=True).ok
    summary = predict_paths(seg, inputs, ["segment crack"], out, progress=False, overwrite=True)
    assert [p for p, _ in summary.failed] == [str(photos / "day2" / "IMG_1.jpg")], summary.failed
    assert "same file stem" in summary.failed[0][1] and REPLACED_MEANWHILE not in summary.failed[0][1]
    results = json.loads((out / "results.json").read_text())
    assert [e["image"] for e in results["images"]] == [str(photos / "day1" / "IMG_1.jpg")]
    assert "names" not in results and len(results["failed"]) == 1


def test_a_job_by_stem_beside_a_job_by_folder_lists_its_photos_each_with_its_own_thumbnail(tiny_model_dir, tmp_path):
    """Into an --out of a job by folder (day1-IMG_1, day2-IMG_1), a job by file stem (--overwrite) of another photo:
    both photos of that job failed, 'its results were replaced while this job ran, by another job' (none ran; their
    records were looked for as IMG_1__results.json); now they are listed as another job's, each with its thumbnail."""
    from drywallqa.engine.batch_report import write_batch_report

    photos = _photos(tmp_path / "photos", "day1/IMG_1.jpg", "day2/IMG_1.jpg", "other/IMG_5.jpg")
    seg, out = Segmenter.load(tiny_model_dir), tmp_path / "out"
    assert predict_paths(seg, [photos / "day1", photos / "day2"], ["segment crack"], out, progress=False,
                         names_from_folders=True).ok
    summary = predict_paths(seg, [photos / "other"], ["segment crack"], out, progress=False, overwrite=True)
    assert summary.ok and not summary.failed, summary.failed
    results = json.loads((out / "results.json").read_text())
    assert len(results["images"]) == 3 and not results["failed"]
    write_batch_report(out)
    page = (out / "report.html").read_text()
    thumbs = sorted(set(re.findall(r'src="\./(report_files/[^"]+)"', page)))
    assert len(thumbs) == 3 and all((out / t).is_file() for t in thumbs), thumbs


def test_an_input_not_there_does_not_move_the_common_folder(tiny_model_dir, tmp_path):
    """photos/day1 photos/day2 and a mistyped /elsewhere/day3: the missing input fails, and it moved the common folder
    up to their common parent, the photos named photos-day1-IMG_1 (tmp-...-photos-day1-IMG_1 across disks): the run
    again with the input put right named them day1-IMG_1 and predicted every one again. Now a missing input names
    nothing."""
    from drywallqa.engine.batch import names_root

    photos = _photos(tmp_path / "site" / "photos", "day1/IMG_1.jpg", "day2/IMG_1.jpg")
    typo = tmp_path / "elsewhere" / "day3"
    assert names_root([photos / "day1", photos / "day2", typo], True) == str(photos)
    seg, out = Segmenter.load(tiny_model_dir), tmp_path / "out"
    first = predict_paths(seg, [photos / "day1", photos / "day2", typo], ["segment crack"], out, progress=False,
                          names_from_folders=True)
    assert len(first.done) == 2 and [p for p, _ in first.failed] == [str(typo)]
    assert (out / "day1-IMG_1__segment_crack.png").is_file()
    again = predict_paths(seg, [photos / "day1", photos / "day2"], ["segment crack"], out, progress=False,
                          names_from_folders=True)
    assert again.ok and not again.done and len(again.skipped) == 2


def test_coco_file_of_a_job_by_folder_names_each_photo_once(tiny_model_dir, tmp_path):
    """predictions.coco.json of a job by folder gave day1/IMG_1.jpg and day2/IMG_1.jpg one file_name, IMG_1.jpg: an
    annotation tool matching photos by name put both photos' masks on one. Now each is named by its path below the
    photos' common folder (day1/IMG_1.jpg, as a folder of photos uploaded whole is named there); by stem, the name."""
    from drywallqa.data.coco_export import write_coco_predictions

    photos = _photos(tmp_path / "photos", "day1/IMG_1.jpg", "day2/IMG_1.jpg", "day2/IMG_2.jpg")
    seg, out = Segmenter.load(tiny_model_dir), tmp_path / "out"
    assert predict_paths(seg, [photos / "day1", photos / "day2"], ["segment crack"], out, progress=False,
                         names_from_folders=True).ok
    coco = json.loads(write_coco_predictions(out).read_text())
    assert sorted(i["file_name"] for i in coco["images"]) == ["day1/IMG_1.jpg", "day2/IMG_1.jpg", "day2/IMG_2.jpg"]
    assert predict_paths(seg, [photos / "day2"], ["segment crack"], tmp_path / "stem", progress=False).ok
    coco = json.loads(write_coco_predictions(tmp_path / "stem").read_text())
    assert sorted(i["file_name"] for i in coco["images"]) == ["IMG_1.jpg", "IMG_2.jpg"]
