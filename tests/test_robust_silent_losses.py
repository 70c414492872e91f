"""Robustness, class 8: nothing is lost without a word. A finished training run is not overwritten unless
asked; every file met in an input folder is either read or listed with the reason it was not."""

import json
import os

import numpy as np
import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from drywallqa.cli import app
from drywallqa.engine.batch import predict_paths
from drywallqa.engine.config import TrainConfig
from drywallqa.engine.trainer import Trainer


def test_train_refuses_to_overwrite_a_run(write_train_config, tiny_kwargs, tmp_path):
    config = write_train_config("film_unet", tiny_kwargs)
    out = tmp_path / "run"
    out.mkdir()
    (out / "last.pt").write_bytes(b"a finished run's checkpoint")
    res = CliRunner().invoke(app, ["train", str(config)], terminal_width=300)
    assert res.exit_code == 2 and "--resume" in res.output and "--overwrite" in res.output
    assert "Invalid value for output_dir (the config's" in " ".join(res.output.split())  # --out was not given
    given = CliRunner().invoke(app, ["train", str(config), "--out", str(out)], terminal_width=300)
    assert given.exit_code == 2 and "Invalid value for --out" in " ".join(given.output.split())
    assert (out / "last.pt").read_bytes() == b"a finished run's checkpoint"
    with pytest.raises(FileExistsError, match="already holds a training run"):
        Trainer(TrainConfig.from_yaml(config), progress=False).train()
    assert (out / "last.pt").read_bytes() == b"a finished run's checkpoint"
    both = CliRunner().invoke(app, ["train", str(config), "--resume", "--overwrite"])
    assert both.exit_code == 2 and "choose one" in both.output
    res = CliRunner().invoke(app, ["train", str(config), "--overwrite"])
    assert res.exit_code == 0, res.output
    assert (out / "last.pt").read_bytes() != b"a finished run's checkpoint" and (out / "best").is_dir()


def test_a_broken_training_config_is_a_clean_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"modle": "film_unet"}))
    res = CliRunner().invoke(app, ["train", str(bad)])
    assert res.exit_code == 2 and "modle" in res.output
    res = CliRunner().invoke(app, ["train", str(tmp_path / "missing.yaml")])
    assert res.exit_code == 2 and "not found" in res.output


def test_every_file_in_an_input_folder_is_read_or_listed(tiny_model_dir, tmp_path):
    from drywallqa import Segmenter

    photos = tmp_path / "photos"
    (photos / "day1").mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(photos / "day1" / "a.jpg")
    Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(photos / "anim.gif")
    (photos / "notes.txt").write_text("wall 3, north side")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(elsewhere / "linked.png")
    os.symlink(elsewhere, photos / "day2")              # a link to a folder: followed
    os.symlink(photos, photos / "day1" / "loop")        # a link loop: listed, not followed forever
    os.symlink(tmp_path / "gone.jpg", photos / "dangling.jpg")  # a broken link: listed
    out = photos / "out"                                # the output folder inside the input: never read back
    out.mkdir()
    Image.new("L", (4, 4)).save(out / "old__segment_crack.png")
    summary = predict_paths(Segmenter.load(tiny_model_dir), [photos], ["segment crack"], out, progress=False)
    assert sorted(os.path.relpath(p, photos) for p in summary.done) == ["anim.gif", "day1/a.jpg", "day2/linked.png"]
    ignored = {os.path.relpath(p, photos): why for p, why in summary.ignored}
    assert set(ignored) == {"notes.txt", "day1/loop", "dangling.jpg", "out"}
    assert "not an image" in ignored["notes.txt"] and "loop" in ignored["day1/loop"]
    assert "broken link" in ignored["dangling.jpg"] and "output folder" in ignored["out"]
    assert len(json.loads((out / "results.json").read_text())["ignored"]) == 4
    res = CliRunner().invoke(app, ["predict", str(photos), "-p", "segment crack", "--out", str(out),
                                   "--model-path", str(tiny_model_dir)], terminal_width=300)
    assert res.exit_code == 0 and "4 files not read" in res.output and "notes.txt" in res.output


def test_a_users_photos_named_with_two_underscores_are_read_beside_a_results_json(tiny_model_dir, tmp_path):
    """A photo folder holding another tool's results.json is taken for an earlier job's output folder, and its photos
    named ``wall__01.jpg`` were left out as that job's masks (exit 0, the folder named once as "an earlier job's output
    folder"); the same for a user's such photo put into a real output folder. No job writes a JPEG so named: read."""
    from pathlib import Path

    from drywallqa import Segmenter
    from drywallqa.utils.image_io import find_images

    from conftest import write_photos

    site = tmp_path / "site"
    write_photos(site, 1, stem="plain")
    for name in ("wall__01.jpg", "wall__02.jpg"):
        Image.fromarray(np.full((40, 52, 3), 128, np.uint8)).save(site / name)
    (site / "results.json").write_text('{"labels": []}')  # a labelling tool's
    summary = predict_paths(Segmenter.load(tiny_model_dir), [site], ["segment crack"], tmp_path / "out", progress=False)
    assert sorted(Path(p).name for p in summary.done) == ["plain0.jpg", "wall__01.jpg", "wall__02.jpg"]
    assert not summary.failed  # the labelling tool's results.json no job's (h273): listed as not read, as any such file
    assert [Path(p).name for p, _ in summary.ignored] == ["results.json"]
    Image.fromarray(np.full((40, 52, 3), 90, np.uint8)).save(tmp_path / "out" / "site__A.jpg")
    listing = find_images([tmp_path / "out"])  # the job's masks and records left out, the user's photo read
    assert [p.name for p in listing.images] == ["site__A.jpg"]
    assert [why.split(":")[0] for _, why in listing.skipped] == ["an earlier job's output folder"]


def test_macos_metadata_files_beside_photos_are_listed_not_failed(tmp_path):
    """A folder copied from a Mac onto a USB disk or a share holds a '._IMG_1.jpg' (AppleDouble: the photo's Finder
    metadata) beside each photo: each was taken for a photo and failed as "not a readable image" (half a job's photos
    in the failure list). Now listed as macOS metadata; a real photo whose name starts with '._' is still read."""
    from pathlib import Path

    from drywallqa.utils.image_io import find_images

    from conftest import write_photos

    write_photos(tmp_path, 2, stem="IMG_")
    for name in ("._IMG_0.jpg", "._IMG_1.jpg"):
        (tmp_path / name).write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(4000))
    Image.fromarray(np.full((40, 52, 3), 128, np.uint8)).save(tmp_path / "._odd.jpg")  # a photo so named: read
    listing = find_images([tmp_path])
    assert sorted(p.name for p in listing.images) == ["._odd.jpg", "IMG_0.jpg", "IMG_1.jpg"]
    assert sorted(Path(p).name for p, _ in listing.skipped) == ["._IMG_0.jpg", "._IMG_1.jpg"]
    assert all("macOS metadata" in why for _, why in listing.skipped)


def test_predict_on_a_folder_with_no_photo_is_an_error(tiny_model_dir, tmp_path):
    """An empty folder (a wrong path, an unmounted volume) or one of notes only was "0 images done, 0 failed" and
    exit 0: a script took it for success."""
    empty, notes = tmp_path / "empty", tmp_path / "notes"
    empty.mkdir()
    notes.mkdir()
    (notes / "a.txt").write_text("wall 3")
    for folder, said in ((empty, "no photos found in the paths given"), (notes, "only files not read as photos")):
        res = CliRunner().invoke(app, ["predict", str(folder), "-p", "segment crack", "--out", str(tmp_path / "out"),
                                       "--model-path", str(tiny_model_dir)], terminal_width=300)
        assert res.exit_code == 1 and said in res.output, res.output


def test_a_rerun_with_other_settings_redoes_the_work(tiny_model_dir, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(photos / "a.jpg")
    out = tmp_path / "out"
    base = ["predict", str(photos), "-p", "segment crack", "--out", str(out), "--model-path", str(tiny_model_dir)]
    assert CliRunner().invoke(app, base + ["--threshold", "0"]).exit_code == 0
    area = lambda: json.loads((out / "results.json").read_text())["images"][0]["prompts"]["segment crack"]["area_px"]  # noqa: E731
    assert area() == 24 * 32
    again = CliRunner().invoke(app, base + ["--threshold", "1"])  # another threshold: not the earlier masks
    assert again.exit_code == 0 and "skipped" not in again.output and area() == 0
    same = CliRunner().invoke(app, base + ["--threshold", "1"])
    assert "1 skipped" in same.output
    Image.fromarray(np.zeros((24, 32, 3), np.uint8)).save(photos / "a.jpg")  # the photo changed: done again
    changed = CliRunner().invoke(app, base + ["--threshold", "1"])
    assert "skipped" not in changed.output


def test_results_json_covers_every_job_in_a_shared_folder(tiny_model_dir, tmp_path):
    from drywallqa import Segmenter

    seg = Segmenter.load(tiny_model_dir)
    rng = np.random.default_rng(0)
    for folder in ("setA", "setB"):
        (tmp_path / folder).mkdir()
        Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(tmp_path / folder / f"{folder}.jpg")
    out = tmp_path / "shared"
    predict_paths(seg, [tmp_path / "setA"], ["segment crack"], out, progress=False)
    b = predict_paths(seg, [tmp_path / "setB"], ["segment crack"], out, progress=False)
    images = [os.path.basename(e["image"]) for e in json.loads((out / "results.json").read_text())["images"]]
    assert images == ["setA.jpg", "setB.jpg"] and not b.warnings
    before = (out / "results.json").read_bytes()
    other = predict_paths(seg, [tmp_path / "setB"], ["segment taping area"], out, progress=False)
    assert len(other.warnings) == 2 and "other prompts or settings" in other.warnings[0]
    assert "left as an earlier job wrote them" in other.warnings[1] and (out / "results.json").read_bytes() == before
    assert [f for f, _ in other.failed] == [str(tmp_path / "setB" / "setB.jpg")]  # setB's crack record kept


def two_photos_of_one_name(tmp_path):
    """a/IMG_1.jpg and b/IMG_1.jpg: two photos whose files in an output folder share names."""
    rng = np.random.default_rng(0)
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(tmp_path / folder / "IMG_1.jpg")


def test_a_job_never_replaces_another_jobs_results_unasked(tiny_model_dir, tmp_path):
    """A second job into one folder with other prompts, or a photo of the same name from another folder, would
    overwrite the per-image record (named by stem): the image fails with the reason, the earlier results stay."""
    from drywallqa import Segmenter

    seg = Segmenter.load(tiny_model_dir)
    two_photos_of_one_name(tmp_path)
    out = tmp_path / "out"
    predict_paths(seg, [tmp_path / "a"], ["segment crack"], out, progress=False)
    record = (out / "IMG_1__results.json").read_text()
    taping = predict_paths(seg, [tmp_path / "a"], ["segment taping area"], out, progress=False)
    assert taping.done == [] and "'segment crack'" in taping.failed[0][1] and "--overwrite" in taping.failed[0][1]
    other_photo = predict_paths(seg, [tmp_path / "b"], ["segment crack"], out, progress=False)
    assert other_photo.done == [] and "another photo of the same name" in other_photo.failed[0][1]
    assert (out / "IMG_1__results.json").read_text() == record
    # more prompts than before lose nothing: the photo is done again with all of them
    both = predict_paths(seg, [tmp_path / "a"], ["segment crack", "segment taping area"], out, progress=False)
    assert both.done == [str(tmp_path / "a" / "IMG_1.jpg")] and not both.failed
    # asked, the earlier results are replaced
    replaced = predict_paths(seg, [tmp_path / "b"], ["segment crack"], out, progress=False, overwrite=True)
    assert replaced.done == [str(tmp_path / "b" / "IMG_1.jpg")]
    assert json.loads((out / "IMG_1__results.json").read_text())["image"] == str(tmp_path / "b" / "IMG_1.jpg")


def test_files_written_whole_get_the_permissions_of_a_plain_write(tmp_path):
    """write_atomic's temporary file must not leave the result private to its owner (mkstemp's 0600)."""
    from drywallqa.utils.files import write_atomic

    (tmp_path / "plain.txt").write_text("x")
    write_atomic(tmp_path / "atomic.txt", lambda tmp: tmp.write_text("x"))
    assert (tmp_path / "atomic.txt").stat().st_mode & 0o777 == (tmp_path / "plain.txt").stat().st_mode & 0o777


def test_a_job_that_planned_before_another_wrote_still_keeps_its_hands_off(tiny_model_dir, tmp_path):
    """Two jobs started at once both find no record; the one that writes second finds the first one's at write
    time (under the folder's lock) and fails that image, leaving the first job's masks and record whole."""
    from drywallqa import Segmenter
    from drywallqa.engine.batch import job_options, process_image

    seg = Segmenter.load(tiny_model_dir)
    two_photos_of_one_name(tmp_path)
    out = tmp_path / "out"
    late_taping = job_options(["segment taping area"], out, False, None, None)  # planned: nothing in the folder yet
    late_other_photo = job_options(["segment crack"], out, True, None, None)
    predict_paths(seg, [tmp_path / "a"], ["segment crack"], out, progress=False)  # the other job writes first
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    with pytest.raises(ValueError, match="other prompts"):
        process_image(seg, tmp_path / "a" / "IMG_1.jpg", late_taping)
    with pytest.raises(ValueError, match="another photo of the same name"):
        process_image(seg, tmp_path / "b" / "IMG_1.jpg", late_other_photo)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def test_names_are_printed_as_they_are_never_read_as_markup(tiny_model_dir, tmp_path, monkeypatch):
    """A file named "[red]wall.jpg" or "[b]" in a reason is shown with its brackets (Rich markup would eat them)."""
    from drywallqa.engine import batch_report

    monkeypatch.setattr(batch_report, "REVIEW_BELOW", 1.01)  # every mask in the review line (the tiny model's: ~0.56)
    (tmp_path / "in").mkdir()
    Image.fromarray(np.zeros((40, 50, 3), np.uint8)).save(tmp_path / "in" / "[bold]ok.png")
    (tmp_path / "in" / "[red]broken.jpg").write_bytes(b"not an image")
    (tmp_path / "in" / "[i]notes.txt").write_text("x")
    res = CliRunner().invoke(app, ["predict", str(tmp_path / "in"), "-p", "segment crack", "--out", str(tmp_path / "o"),
                                   "--model-path", str(tiny_model_dir)], terminal_width=400)
    assert res.exit_code == 1
    assert "[red]broken.jpg" in res.output and "[i]notes.txt" in res.output and "[bold]ok.png" in res.output


def test_relative_paths_from_two_folders_never_mix_two_photos(tiny_model_dir, tmp_path, monkeypatch):
    """`predict photos` run in site A and then in site B (two photos IMG_1.jpg) into one --out: the second one used
    to replace the first one's results, the record holding only the relative path."""
    rng = np.random.default_rng(0)
    for site in ("siteA", "siteB"):
        (tmp_path / site / "photos").mkdir(parents=True)
        Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(tmp_path / site / "photos" / "IMG_1.png")
    out = tmp_path / "shared_out"
    args = ["predict", "photos", "-p", "segment crack", "--out", str(out), "--model-path", str(tiny_model_dir)]
    monkeypatch.chdir(tmp_path / "siteA")
    assert CliRunner().invoke(app, args).exit_code == 0
    first = (out / "IMG_1__results.json").read_text()
    assert json.loads(first)["image"] == str(tmp_path / "siteA" / "photos" / "IMG_1.png")
    monkeypatch.chdir(tmp_path / "siteB")
    res = CliRunner().invoke(app, args, terminal_width=400)
    assert res.exit_code == 1 and "another photo of the same name" in res.output
    assert (out / "IMG_1__results.json").read_text() == first
    monkeypatch.chdir(tmp_path)  # the same photo named from elsewhere is the same photo: done, skipped
    res = CliRunner().invoke(app, [*args[:1], "siteA/photos", *args[2:]])
    assert res.exit_code == 0 and "1 skipped" in res.output


def test_jobs_in_mm_and_in_px_in_one_folder_stay_apart(tiny_model_dir, tmp_path):
    """Records made without a scale are another job's for a job in mm (and the other way round): no traceback, no
    report totalling px and mm."""
    rng = np.random.default_rng(0)
    for d in ("px", "mm"):
        (tmp_path / d).mkdir()
        Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(tmp_path / d / f"{d}.png")
    out = tmp_path / "o"
    base = ["-p", "segment crack", "--out", str(out), "--model-path", str(tiny_model_dir)]
    assert CliRunner().invoke(app, ["predict", str(tmp_path / "px"), *base]).exit_code == 0
    res = CliRunner().invoke(app, ["predict", str(tmp_path / "mm"), *base, "--mm-per-px", "0.5",
                                   "--flag", "segment crack: max_width_mm > 1"])
    assert res.exit_code == 0 and res.exception is None, res.output
    results = json.loads((out / "results.json").read_text())
    assert [os.path.basename(e["image"]) for e in results["images"]] == ["mm.png"]
    assert any("other prompts or settings" in w for w in results["warnings"])


def test_a_moved_job_folder_resumes_and_a_photo_failing_now_is_not_listed_with_old_results(tiny_model_dir, tmp_path,
                                                                                           monkeypatch):
    import shutil

    rng = np.random.default_rng(0)
    (tmp_path / "jobA" / "photos").mkdir(parents=True)
    for name in ("a.png", "b.png"):
        Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(tmp_path / "jobA" / "photos" / name)
    args = ["predict", "photos", "-p", "segment crack", "--out", "out", "--model-path", str(tiny_model_dir)]
    monkeypatch.chdir(tmp_path / "jobA")
    assert CliRunner().invoke(app, args).exit_code == 0
    shutil.move(tmp_path / "jobA", tmp_path / "jobB")  # the whole job moved (or mounted elsewhere)
    monkeypatch.chdir(tmp_path / "jobB")
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0 and "2 skipped" in res.output, res.output
    images = json.loads((tmp_path / "jobB" / "out" / "results.json").read_text())["images"]
    assert sorted(e["image"] for e in images) == [str(tmp_path / "jobB" / "photos" / n) for n in ("a.png", "b.png")]
    res = CliRunner().invoke(app, [*args, "--overwrite", "--max-pixels", "100"])  # every photo fails now
    results = json.loads((tmp_path / "jobB" / "out" / "results.json").read_text())
    assert res.exit_code == 1 and len(results["failed"]) == 2 and results["images"] == []


def test_a_max_minutes_stop_says_where_the_run_is_and_how_to_continue(write_train_config, tiny_kwargs, tmp_path):
    """``--max-minutes`` ends the command with a checkpoint, not a finished run: it says so, names ``last.pt`` and
    the command that continues (it printed a bare ``{'stopped': 'time', 'step': 1}``)."""
    config = write_train_config("film_unet", tiny_kwargs)
    res = CliRunner().invoke(app, ["train", str(config), "--max-minutes", "1e-9"], terminal_width=300)
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "'stopped'" not in text
    assert "--max-minutes 1e-09 reached at step 1" in text and str(tmp_path / "run" / "last.pt") in text
    assert f"drywallqa train {config} --resume" in text
    again = CliRunner().invoke(app, ["train", str(config), "--resume"], terminal_width=300)  # the command it names
    assert again.exit_code == 0, again.output


@pytest.mark.parametrize("args, named", [
    (["predict", "x.jpg", "-p", "segment crack", "-o", ""], "-o"), (["predict", "x.jpg", "-p", "segment crack", "--out="], "--out"),
    (["predict", "", "-p", "segment crack", "-o", "out"], "an argument"), (["export", "onnx", "--out", ""], "--out"),
    (["evaluate", "--model-path", ""], "--model-path"), (["predict", "x.jpg", "-p", "segment crack", "-o="], "-o"),
    (["predict", "x.jpg", "-p", "segment crack", "-o", "out", "--overlay", ""], "an argument"),
    (["data", "split", "-d", "cracks", "--overwrite", ""], "an argument")])  # a flag of a command under "data"
def test_an_empty_argument_is_a_usage_error_naming_it(tmp_path, monkeypatch, args, named):
    """An unset shell variable (`-o "$OUT"`) gave "" and a path "" is the current folder: predict wrote its masks,
    results.json and report.html there."""
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, args, terminal_width=300)
    assert res.exit_code == 2 and f"{named}: must not be empty" in res.output, res.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, named, read", [
    (["predict", "x.jpg", "-p", "segment crack", "-o", "out", "--mm-per-px", "1_0"], "--mm-per-px", "10"),
    (["predict", "x.jpg", "-p", "segment crack", "-o", "out", "--threshold=0_5"], "--threshold", "5"),
    (["predict", "x.jpg", "-p", "segment crack", "-o", "out", "--workers", "1_0"], "--workers", "10"),
    (["data", "split", "-d", "cracks", "--seed", "1_000", "--out", "s"], "--seed", "1000")])
def test_a_number_written_with_an_underscore_is_a_usage_error(tmp_path, monkeypatch, args, named, read):
    """Python reads "1_0" as 10: ``--mm-per-px 1_0`` (a typo of 1.0) measured every width ten times too wide, where the
    server refuses such a number (422)."""
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, args, terminal_width=300)
    said = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 2 and f"{named}: write the number without '_'" in said and f"read as {read}" in said, said
    assert list(tmp_path.iterdir()) == []
    for ok in (["--out", "1_0"], ["-p", "crack_1"]):  # "_" in a text option's value is that text
        assert "without '_'" not in CliRunner().invoke(app, ["predict", "x.jpg", "-p", "segment crack", *ok]).output


def test_help_is_shown_whatever_empty_argument_follows():
    res = CliRunner().invoke(app, ["predict", "--help", ""], terminal_width=300)
    assert res.exit_code == 0 and "Usage:" in res.output and "must not be empty" not in res.output


def test_a_failed_photo_is_named_once_on_its_line(tiny_model_dir, tmp_path):
    """"failed imgs/text.jpg: imgs/text.jpg: not a readable image ...": the reason named the file again."""
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "text.jpg").write_text("not a photo")
    res = CliRunner().invoke(app, ["predict", str(photos), "-p", "segment crack", "--out", str(tmp_path / "out"),
                                   "--model-path", str(tiny_model_dir)], terminal_width=400)
    line = next(x for x in res.output.splitlines() if x.startswith("failed"))
    assert res.exit_code == 1 and line.count("text.jpg") == 1 and "not a readable image" in line, res.output



def test_a_job_that_finds_no_photo_leaves_an_earlier_jobs_results(tiny_model_dir, tmp_path):
    """predict of an empty folder (a wrong path, an unmounted volume) into a folder another job wrote with other
    prompts replaced its results.json, results.csv and report.html with empty ones (0 photos), then said "no photos
    found"; they are now left as they were, as when every photo is refused."""
    photos, empty, out = tmp_path / "photos", tmp_path / "empty", tmp_path / "out"
    photos.mkdir()
    empty.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(photos / "a.jpg")
    base = ["--out", str(out), "--model-path", str(tiny_model_dir)]
    assert CliRunner().invoke(app, ["predict", str(photos), "-p", "segment crack", *base]).exit_code == 0
    before = {name: (out / name).read_bytes() for name in ("results.json", "results.csv")}
    res = CliRunner().invoke(app, ["predict", str(empty), "-p", "segment taping area", *base], terminal_width=300)
    assert res.exit_code == 1 and "no photos found" in res.output and "left as an earlier job wrote them" in res.output
    assert {name: (out / name).read_bytes() for name in before} == before
    assert "a.jpg" in (out / "report.html").read_text()


def test_a_reader_that_closes_the_output_early_loses_no_file(tiny_model_dir, tmp_path, monkeypatch):
    """``drywallqa predict ... | head -1``: the reader gone, click ended the command at its next print (exit 1, not a
    word) before report.html and results.csv were written. The command's work goes on; what it prints is dropped."""
    import os
    import sys

    from conftest import write_photos
    from drywallqa.cli import app

    photos = write_photos(tmp_path / "photos", 2)
    read, write = os.pipe()
    os.close(read)  # the reader has gone
    closed = os.fdopen(write, "w")
    monkeypatch.setattr(sys, "stdout", closed)
    try:
        with pytest.raises(SystemExit) as ended:
            app(["predict", str(photos), "-p", "segment crack", "--out", str(tmp_path / "out"), "--model-path",
                 str(tiny_model_dir)], prog_name="drywallqa")
    finally:
        monkeypatch.undo()
        closed.close()
    assert ended.value.code in (0, None)
    assert all((tmp_path / "out" / name).is_file() for name in ("results.json", "results.csv", "report.html"))
