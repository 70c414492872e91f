"""--names-from-folders: phone photos of one name in different folders (day1/IMG_1.jpg, day2/IMG_1.jpg) in one job,
each photo's outputs named by its folder and stem (day1-IMG_1__*); the default names as they were."""

import json
import re
from html import unescape
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from drywallqa import Segmenter
from drywallqa.cli import app
from drywallqa.engine.batch import folder_stem, names_root, predict_paths
from drywallqa.engine.batch_report import write_batch_report
from drywallqa.utils.slug import MAX_STEM_BYTES

from conftest import says


@pytest.fixture
def days(tmp_path):
    """day1/IMG_1.jpg (40x50) and day2/IMG_1.jpg (30x44), day2/IMG_2.jpg: a phone's names, two days."""
    rng = np.random.default_rng(0)
    for folder, name, size in (("day1", "IMG_1.jpg", (40, 50)), ("day2", "IMG_1.jpg", (30, 44)),
                               ("day2", "IMG_2.jpg", (30, 30))):
        (tmp_path / "in" / folder).mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(tmp_path / "in" / folder / name)
    return tmp_path / "in"


def _links_resolve(out: Path) -> list[str]:
    """The files report.html links to (href, src), each checked to be there."""
    page = (out / "report.html").read_text()
    links = [Path(unquote(unescape(m))).as_posix() for m in re.findall(r'(?:href|src)="([^"#:]+)"', page)]
    assert links
    missing = [link for link in links if not (out / link).is_file()]
    assert not missing, missing
    return links


def test_photos_of_one_name_in_two_folders_are_done_named_by_folder_and_resumed(tiny_model_dir, days, tmp_path):
    seg, out = Segmenter.load(tiny_model_dir), tmp_path / "out"
    inputs = [days / "day1", days / "day2"]
    summary = predict_paths(seg, inputs, ["segment crack"], out, progress=False, overlay_images=True,
                            names_from_folders=True)
    assert summary.ok and len(summary.done) == 3, summary.failed
    assert Image.open(out / "day1-IMG_1__segment_crack.png").size == (50, 40)  # each photo its own files
    assert Image.open(out / "day2-IMG_1__segment_crack.png").size == (44, 30)
    assert (out / "day2-IMG_2__results.json").is_file() and (out / "day1-IMG_1__overlay.png").is_file()
    assert not list(out.glob("IMG_1__*"))
    results = json.loads((out / "results.json").read_text())
    assert results["names"] == "folders"
    masks = {Path(e["image"]).relative_to(days).as_posix(): e["prompts"]["segment crack"]["mask"] for e in results["images"]}
    assert masks == {"day1/IMG_1.jpg": "day1-IMG_1__segment_crack.png", "day2/IMG_1.jpg": "day2-IMG_1__segment_crack.png",
                     "day2/IMG_2.jpg": "day2-IMG_2__segment_crack.png"}
    # the report: one thumbnail per photo (not one for both IMG_1), every link there
    write_batch_report(out)
    links = _links_resolve(out)
    assert {"report_files/day1-IMG_1.jpg", "report_files/day2-IMG_1.jpg"} <= set(links)
    # resumed (the folder given again, or the parent folder): nothing predicted again
    stamps = {f.name: f.stat().st_mtime_ns for f in out.glob("*__*")}
    for again_inputs in (inputs, [days], [days / "day2", days / "day1" / "IMG_1.jpg"]):
        again = predict_paths(seg, again_inputs, ["segment crack"], out, progress=False, overlay_images=True,
                              names_from_folders=True)
        assert again.ok and not again.done and len(again.skipped) == 3, (again.done, again.failed)
        assert len(again.results) == 3 and not again.warnings
    assert {f.name: f.stat().st_mtime_ns for f in out.glob("*__*")} == stamps


def test_without_the_option_the_same_stem_fails_naming_it_and_default_names_are_unchanged(tiny_model_dir, days,
                                                                                          tmp_path):
    summary = predict_paths(Segmenter.load(tiny_model_dir), [days / "day1", days / "day2"], ["segment crack"],
                            tmp_path / "out", progress=False)
    assert summary.done == [str(days / "day1" / "IMG_1.jpg"), str(days / "day2" / "IMG_2.jpg")]
    (path, why), = summary.failed
    assert path == str(days / "day2" / "IMG_1.jpg")
    assert "same file stem" in why and "--names-from-folders" in why and "day2-IMG_1__*" in why
    assert (tmp_path / "out" / "IMG_1__segment_crack.png").is_file() and (tmp_path / "out" / "IMG_2__results.json").is_file()
    assert "names" not in json.loads((tmp_path / "out" / "results.json").read_text())


def test_inputs_of_one_name_by_folder_still_fail(tiny_model_dir, tmp_path):
    """in/a-b/IMG_1.jpg and in/a/b/IMG_1.jpg are both named a-b-IMG_1: the second fails, as photos of one stem do."""
    rng = np.random.default_rng(1)
    for folder in ("a-b", "a/b"):
        (tmp_path / "in" / folder).mkdir(parents=True)
        Image.fromarray(rng.integers(0, 255, (30, 30, 3), dtype=np.uint8)).save(tmp_path / "in" / folder / "IMG_1.jpg")
    summary = predict_paths(Segmenter.load(tiny_model_dir), [tmp_path / "in"], ["segment crack"], tmp_path / "out",
                            progress=False, names_from_folders=True)
    assert len(summary.done) == 1 and len(summary.failed) == 1
    assert "same output name" in summary.failed[0][1] and "a-b-IMG_1__*" in summary.failed[0][1]


def test_folder_names_are_safe_file_names(tmp_path):
    (tmp_path / "day1").mkdir()
    (tmp_path / "day2").mkdir()
    (tmp_path / "day2" / "IMG_1.jpg").touch()  # (an input not there names nothing: h283)
    root = names_root([tmp_path / "day1", tmp_path / "day2" / "IMG_1.jpg"], True)
    assert root == str(tmp_path)
    assert folder_stem(tmp_path / "day1" / "sub" / "IMG_1.jpg", root) == "day1-sub-IMG_1"
    one = names_root([tmp_path / "day1"], True)  # one folder given: its photos by its name, as with day2 beside it
    assert one == str(tmp_path / "day1") and folder_stem(tmp_path / "day1" / "IMG_1.jpg", one) == "day1-IMG_1"
    assert folder_stem(tmp_path / "day1" / "sub" / "IMG_1.jpg", one) == "sub-IMG_1"
    long = folder_stem(tmp_path / ("d" * 100) / ("e" * 100) / "IMG_1.jpg", root)
    assert len(long.encode()) <= MAX_STEM_BYTES and "/" not in long
    assert folder_stem(tmp_path / "a\nb" / "IMG_1.jpg", root).startswith("a_b-IMG_1-")  # no newline in a file name
    assert names_root([tmp_path / "day1"], False) is None


def test_cli_names_from_folders_and_a_resume_by_the_other_rule_is_refused(tiny_model_dir, days, tmp_path):
    runner, out = CliRunner(), tmp_path / "out"
    args = ["predict", str(days / "day1"), str(days / "day2"), "--prompt", "segment crack", "--out", str(out),
            "--model-path", str(tiny_model_dir)]
    res = runner.invoke(app, [*args, "--names-from-folders"])
    assert res.exit_code == 0, res.output
    assert "3 images done" in res.output and (out / "day2-IMG_1__segment_crack.png").is_file()
    _links_resolve(out)
    again = runner.invoke(app, [*args, "--names-from-folders"])
    assert again.exit_code == 0 and "3 skipped" in again.output, again.output
    other = runner.invoke(app, args)  # the default names: every photo again under another name, not a word said
    assert other.exit_code == 2 and says(other.output, "named by each photo's folders", "with --names-from-folders")
    assert not list(out.glob("IMG_1__*"))
    alone = runner.invoke(app, [*args[:5], "--out", str(tmp_path / "out2"), *args[-2:]])
    assert alone.exit_code == 1 and says(alone.output, "--names-from-folders"), alone.output


def test_ray_executor_names_by_folder_as_the_local_one_resumes(tiny_model_dir, days, tmp_path):
    pytest.importorskip("ray")
    from drywallqa.engine.batch_ray import predict_paths_ray

    out = tmp_path / "out"
    summary = predict_paths_ray(tiny_model_dir, [days / "day1", days / "day2"], ["segment crack"], out, workers=1,
                                batch_size=2, names_from_folders=True)
    assert summary.ok and len(summary.done) == 3, summary.failed
    assert Image.open(out / "day1-IMG_1__segment_crack.png").size == (50, 40)
    assert Image.open(out / "day2-IMG_1__segment_crack.png").size == (44, 30)
    assert json.loads((out / "results.json").read_text())["names"] == "folders"
    again = predict_paths(Segmenter.load(tiny_model_dir), [days / "day1", days / "day2"], ["segment crack"], out,
                          progress=False, names_from_folders=True)
    assert again.ok and not again.done and len(again.skipped) == 3
