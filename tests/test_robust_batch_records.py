"""An adversarial probe of 0.6.10's batch reruns: a rerun kept the masks of other weights (a model folder's weights
replaced under the same config.json) and a mask overwritten with another of the same size, a record edited by hand
was a traceback in the table, a job that refused every photo emptied the folder's results.json, a user's own
".notes.tmp" in --out was deleted, and predict_paths read overwrite="no" as on."""

from __future__ import annotations

import json
import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from drywallqa import Segmenter
from drywallqa.cli import app
from drywallqa.engine.batch import predict_paths

CRACK = "segment crack"


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        Image.fromarray(rng.integers(0, 255, (40, 56, 3), dtype=np.uint8)).save(folder / f"{name}.png")
    return folder


def _model(tiny_model_dir, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    return folder


def test_a_rerun_with_other_weights_predicts_again_and_a_corrected_mask_is_measured_again(tiny_model_dir, tmp_path,
                                                                                         photos):
    """Same config.json, other weights: every photo predicted again (the records kept the old masks). A mask
    written over with another PNG of the same size (a correction by hand): kept, and measured again as it is (the
    table said the old mask's numbers)."""
    from safetensors.torch import load_file, save_file

    model, out = _model(tiny_model_dir, tmp_path), tmp_path / "out"
    first = predict_paths(Segmenter.load(str(model)), photos, [CRACK], out, progress=False)
    assert len(first.done) == 2
    again = predict_paths(Segmenter.load(str(model)), photos, [CRACK], out, progress=False)
    assert len(again.skipped) == 2 and not again.done  # nothing changed: nothing redone
    corrected = np.zeros((40, 56), np.uint8)
    corrected[10:20, 5:45] = 255
    Image.fromarray(corrected).save(out / "a__segment_crack.png")  # another mask, same size
    redo = predict_paths(Segmenter.load(str(model)), photos, [CRACK], out, progress=False)
    assert len(redo.skipped) == 2 and any("measured again as they are" in w for w in redo.warnings)
    assert np.array_equal(np.asarray(Image.open(out / "a__segment_crack.png")), corrected)  # the correction kept
    listed = {e["image"][-5:]: e for e in json.loads((out / "results.json").read_text())["images"]}
    assert listed["a.png"]["prompts"][CRACK]["area_px"] == 400
    assert json.loads((out / "a__results.json").read_text())["prompts"][CRACK]["area_px"] == 400
    quiet = predict_paths(Segmenter.load(str(model)), photos, [CRACK], out, progress=False)
    assert len(quiet.skipped) == 2 and not quiet.warnings  # measured once
    copy = tmp_path / "copy"
    shutil.copytree(model, copy)  # the same bytes elsewhere (another checkout, a reinstall): the same weights
    assert len(predict_paths(Segmenter.load(str(copy)), photos, [CRACK], out, progress=False).skipped) == 2
    weights = load_file(model / "model.safetensors")
    save_file({k: v * 1.01 if v.is_floating_point() else v for k, v in weights.items()}, model / "model.safetensors")
    other = predict_paths(Segmenter.load(str(model)), photos, [CRACK], out, progress=False)
    assert len(other.done) == 2 and not other.skipped


@pytest.mark.parametrize("edit", [{"confidence": "high"}, {"area_px": "x"}, {"max_width_px": [1]},
                                  {"joints": [{"length_px": "long"}]}, {"concept": "cracks"}, {"max_width_px": None},
                                  {"components": None}, {"area_fraction": "DELETE"}, {"max_width_px": "DELETE"},
                                  {"mask": "a\u0000.png"}, {"mask": "../a__segment_crack.png"}])
def test_a_record_edited_by_hand_is_redone_or_left_out_never_a_traceback(tiny_model_dir, tmp_path, photos, edit):
    model, out = _model(tiny_model_dir, tmp_path), tmp_path / "out"
    base = ["-p", CRACK, "--model-path", str(model), "--out", str(out)]
    assert CliRunner().invoke(app, ["predict", str(photos / "a.png"), *base]).exit_code == 0
    record = out / "a__results.json"
    entry = json.loads(record.read_text())
    entry["prompts"][CRACK].update(edit)
    entry["prompts"][CRACK] = {k: v for k, v in entry["prompts"][CRACK].items() if v != "DELETE"}
    record.write_text(json.dumps(entry))
    res = CliRunner().invoke(app, ["predict", str(photos / "b.png"), *base, "--flag", f"{CRACK}: max_width_px > 1"])
    assert res.exit_code == 0 and res.exception is None, res.output  # a.png's record left out, with a warning
    results = json.loads((out / "results.json").read_text())
    assert [e["image"].endswith("b.png") for e in results["images"]] == [True]
    assert any("cannot be read" in w for w in results["warnings"])
    res = CliRunner().invoke(app, ["predict", str(photos / "a.png"), *base])
    assert res.exit_code == 0 and "1 images done" in res.output.replace("image done", "images done"), res.output


def test_a_job_refused_for_every_photo_leaves_the_folders_results_as_they_were(tiny_model_dir, tmp_path, photos):
    model, out = _model(tiny_model_dir, tmp_path), tmp_path / "out"
    seg = Segmenter.load(str(model))
    predict_paths(seg, photos, [CRACK, "segment taping area"], out, progress=False)
    before = (out / "results.json").read_bytes()
    refused = predict_paths(seg, photos, [CRACK], out, progress=False)  # would leave the tape's masks unrecorded
    assert len(refused.failed) == 2 and (out / "results.json").read_bytes() == before
    assert any("left as an earlier job wrote them" in w for w in refused.warnings)


def test_a_users_own_tmp_file_in_out_is_kept(tiny_model_dir, tmp_path, photos):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".notes.tmp").write_text("mine")
    predict_paths(Segmenter.load(str(_model(tiny_model_dir, tmp_path))), photos, [CRACK], out, progress=False)
    assert (out / ".notes.tmp").read_text() == "mine"


@pytest.mark.parametrize("kwargs, words", [({"overwrite": "no"}, "overwrite must be True or False"),
                                           ({"overlay_images": "no"}, "overlay_images must be True or False"),
                                           ({"rules": 5}, "rules are texts")])
def test_predict_paths_checks_its_on_off_options_and_rules(tiny_model_dir, tmp_path, photos, kwargs, words):
    seg = Segmenter.load(str(_model(tiny_model_dir, tmp_path)))
    with pytest.raises(ValueError, match=words):
        predict_paths(seg, photos, [CRACK], tmp_path / "out", progress=False, **kwargs)


def test_an_overlay_asked_later_is_drawn_from_the_masks_a_correction_kept(tiny_model_dir, tmp_path, photos):
    """A rerun with --overlay of photos done without one draws the strips from the masks there (it predicted them
    again, writing over a mask corrected by hand meanwhile, right after saying it was kept)."""
    model, out = _model(tiny_model_dir, tmp_path), tmp_path / "out"
    predict_paths(Segmenter.load(str(model)), photos, [CRACK], out, progress=False)
    corrected = np.zeros((40, 56), np.uint8)
    corrected[:, :10] = 255
    Image.fromarray(corrected).save(out / "a__segment_crack.png")
    again = predict_paths(Segmenter.load(str(model)), photos, [CRACK], out, overlay_images=True, progress=False)
    assert not again.done and len(again.skipped) == 2
    assert np.array_equal(np.asarray(Image.open(out / "a__segment_crack.png")), corrected)
    strip = np.asarray(Image.open(out / "a__overlay.png"))
    assert strip.shape[:2] == (40, 2 * 56) and (out / "b__overlay.png").is_file()
    assert json.loads((out / "a__results.json").read_text())["overlay"] == "a__overlay.png"
    assert len(predict_paths(Segmenter.load(str(model)), photos, [CRACK], out, overlay_images=True,
                             progress=False).skipped) == 2


def test_a_folder_of_0_6_10_is_resumed_as_0_6_10_resumed_it(tiny_model_dir, tmp_path, photos):
    """Records keyed before the weights were part of the key, without masks' checksums: reused (predicting them
    again wrote over every mask corrected by hand since), measured again once to take the checksums, no warning."""
    from drywallqa.engine.batch import job_settings, settings_key

    model, out = _model(tiny_model_dir, tmp_path), tmp_path / "out"
    seg = Segmenter.load(str(model))
    predict_paths(seg, photos, [CRACK], out, progress=False)
    earlier = settings_key({**{k: v for k, v in job_settings(seg).items() if k != "weights"}, "threshold": None})
    corrected = np.zeros((40, 56), np.uint8)
    corrected[:4] = 255
    Image.fromarray(corrected).save(out / "a__segment_crack.png")
    for record in out.glob("*__results.json"):
        entry = json.loads(record.read_text())
        entry["settings"] = earlier
        del entry["prompts"][CRACK]["mask_crc32"]
        record.write_text(json.dumps(entry))
    again = predict_paths(seg, photos, [CRACK], out, progress=False)
    assert len(again.skipped) == 2 and not again.done and not again.warnings
    assert np.array_equal(np.asarray(Image.open(out / "a__segment_crack.png")), corrected)
    assert json.loads((out / "a__results.json").read_text())["prompts"][CRACK]["area_px"] == 4 * 56


def test_edited_records_of_a_scaled_job_and_of_other_jobs_are_left_out_with_a_warning(tiny_model_dir, tmp_path,
                                                                                      photos):
    model, out = _model(tiny_model_dir, tmp_path), tmp_path / "out"
    base = ["-p", CRACK, "--model-path", str(model), "--out", str(out), "--mm-per-px", "0.5"]
    assert CliRunner().invoke(app, ["predict", str(photos / "a.png"), *base]).exit_code == 0
    record = out / "a__results.json"
    entry = json.loads(record.read_text())
    del entry["prompts"][CRACK]["length_mm"]  # a scaled record without an mm measure: the report's sum failed
    record.write_text(json.dumps(entry))
    res = CliRunner().invoke(app, ["predict", str(photos / "b.png"), *base, "--flag", f"{CRACK}: max_width_mm > 1"])
    assert res.exit_code == 0 and res.exception is None, res.output
    for edit in ({"height": 1e9}, {"image": "/tmp/x\u0000.png"}):  # another size than its mask's; no file's name
        record.write_text(json.dumps({**json.loads(record.read_text()), **edit}))
        res = CliRunner().invoke(app, ["predict", str(photos / "b.png"), *base, "--coco", "polygon"])
        assert res.exit_code == 0 and res.exception is None, res.output
        assert [e["image"][-5:] for e in json.loads((out / "results.json").read_text())["images"]] == ["b.png"]


def test_a_missing_input_is_listed_and_an_overlay_that_cannot_be_drawn_keeps_the_results(tiny_model_dir, tmp_path,
                                                                                        photos):
    model, out = _model(tiny_model_dir, tmp_path), tmp_path / "out"
    seg = Segmenter.load(str(model))
    predict_paths(seg, photos, [CRACK], out, progress=False)
    gone = predict_paths(seg, [photos.parent / "nothere" / "a.png"], ["segment taping area"], out, progress=False)
    assert len(gone.failed) == 1 and json.loads((out / "results.json").read_text())["failed"]  # named, not hidden
    small = predict_paths(seg, photos, [CRACK], out, overlay_images=True, max_pixels=100, progress=False)
    assert len(small.skipped) == 2 and not small.failed and any("no overlay strip" in w for w in small.warnings)


@pytest.mark.parametrize("rerun", [{"mm_per_px": 0.5}, {"prompts": ["segment taping area", CRACK]},
                                   {"prompts": [CRACK, "segment taping area", "segment the window"]},
                                   {"edit": {"max_width_px": None}}])
def test_a_rerun_that_predicts_again_keeps_a_mask_corrected_by_hand(tiny_model_dir, tmp_path, photos, rerun):
    """Another scale, the prompts in another order or one more, a record edited since: the photo is predicted again,
    and its mask corrected by hand since was written over (now kept and measured as it is); --overwrite replaces it."""
    model, out = _model(tiny_model_dir, tmp_path), tmp_path / "out"
    seg, first = Segmenter.load(str(model)), [CRACK, "segment taping area"]
    predict_paths(seg, photos, first, out, progress=False)
    corrected = np.zeros((40, 56), np.uint8)
    corrected[5:9, :] = 255
    Image.fromarray(corrected).save(out / "a__segment_crack.png")
    if "edit" in rerun:
        entry = json.loads((out / "a__results.json").read_text())
        entry["prompts"][CRACK].update(rerun["edit"])
        (out / "a__results.json").write_text(json.dumps(entry))
    again = predict_paths(seg, photos, rerun.get("prompts", first), out, mm_per_px=rerun.get("mm_per_px"), progress=False)
    assert not again.failed and np.array_equal(np.asarray(Image.open(out / "a__segment_crack.png")), corrected)
    assert json.loads((out / "a__results.json").read_text())["prompts"][CRACK]["area_px"] == 4 * 56
    assert len(predict_paths(seg, photos, rerun.get("prompts", first), out, mm_per_px=rerun.get("mm_per_px"),
                             progress=False).skipped) == 2  # and quiet after
    predict_paths(seg, photos, first, out, overwrite=True, progress=False)
    assert not np.array_equal(np.asarray(Image.open(out / "a__segment_crack.png")), corrected)


def test_a_correction_at_another_size_fails_its_photo_and_is_left_as_it_is(tiny_model_dir, tmp_path, photos):
    """A review: a mask corrected by hand and saved at another size (an annotation tool exporting smaller) was
    predicted over without a word on the next run that predicted its photo again."""
    model, out = _model(tiny_model_dir, tmp_path), tmp_path / "out"
    seg = Segmenter.load(str(model))
    predict_paths(seg, photos, [CRACK], out, progress=False)
    small = np.zeros((20, 28), np.uint8)
    small[2:4, :] = 255
    Image.fromarray(small).save(out / "a__segment_crack.png")
    written = (out / "a__segment_crack.png").read_bytes()
    again = predict_paths(seg, photos, [CRACK], out, mm_per_px=0.5, progress=False)  # another scale: predicted again
    assert [Path(p).name for p, _ in again.failed] == ["a.png"] and "28x20" in again.failed[0][1], again.failed
    assert (out / "a__segment_crack.png").read_bytes() == written  # left as it is
    predict_paths(seg, photos, [CRACK], out, mm_per_px=0.5, overwrite=True, progress=False)
    assert (out / "a__segment_crack.png").read_bytes() != written


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_correction_is_measured_from_the_bytes_its_checksum_was_taken_of(tiny_model_dir, tmp_path, photos,
                                                                           monkeypatch, when):
    """Another job rewriting a corrected mask while this one reads it (just before or just after it is decoded): the
    record's checksum and measures are of one and the same mask, the one in the folder at the end (they were of two:
    the measures of the correction, the checksum of the other job's mask)."""
    from drywallqa.engine import batch

    model, out = _model(tiny_model_dir, tmp_path), tmp_path / "out"
    predict_paths(Segmenter.load(str(model)), photos, [CRACK], out, progress=False)
    name = out / "a__segment_crack.png"
    corrected, other = np.zeros((40, 56), np.uint8), np.zeros((40, 56), np.uint8)
    corrected[:, :10] = 255
    other[:5, :] = 255  # another job's mask
    Image.fromarray(corrected).save(name)
    real, rewrites = batch.read_mask, []

    def rewritten_meanwhile(path, *args, **kwargs):
        if path == name and not rewrites and when == "before":
            rewrites.append(Image.fromarray(other).save(name))
        mask = real(path, *args, **kwargs)
        if path == name and not rewrites:
            rewrites.append(Image.fromarray(other).save(name))
        return mask

    monkeypatch.setattr(batch, "read_mask", rewritten_meanwhile)
    predict_paths(Segmenter.load(str(model)), photos, [CRACK], out, progress=False)
    record = json.loads((out / "a__results.json").read_text())["prompts"][CRACK]
    assert rewrites and record["mask_crc32"] == zlib.crc32(name.read_bytes())
    assert record["area_px"] == 5 * 56 == int(real(name).sum())


def _another_threshold(seg, photo: Path) -> float:
    """A threshold that makes another mask of ``photo`` than 0.5 does (the tiny model's map is all just above 0.5)."""
    return float(np.median(seg.predict(np.asarray(Image.open(photo)), [CRACK]).probabilities[CRACK]))


def _areas(out: Path) -> dict:
    return {Path(e["image"]).name: e["prompts"][CRACK]["area_px"]
            for e in json.loads((out / "results.json").read_text())["images"]}


def test_a_job_killed_while_writing_over_masks_leaves_no_correction_by_hand(tiny_model_dir, tmp_path, photos,
                                                                           monkeypatch, caplog):
    """A job with other settings killed after writing a photo's masks but before its record left the old record with
    the new masks: the rerun of the first job took them for corrections by hand, kept them and measured them (another
    job's numbers, under a false warning). Now the record is marked while its masks are written over: predicted again."""
    import drywallqa.engine.batch as batch

    seg, out = Segmenter.load(tiny_model_dir), tmp_path / "out"
    predict_paths(seg, [photos / "a.png"], [CRACK], out, threshold=0.5, progress=False)
    first, first_bytes = _areas(out), (out / "a__segment_crack.png").read_bytes()
    write = batch.write_text_atomic

    def killed_before_the_record(text, path):
        if Path(path).name == "a__results.json" and "replacing" not in json.loads(text):  # not the mark
            raise KeyboardInterrupt  # the kill: after the masks, before the record
        return write(text, path)

    monkeypatch.setattr(batch, "write_text_atomic", killed_before_the_record)
    with pytest.raises(KeyboardInterrupt):
        predict_paths(seg, [photos / "a.png"], [CRACK], out, threshold=_another_threshold(seg, photos / "a.png"),
                      progress=False)
    monkeypatch.setattr(batch, "write_text_atomic", write)
    assert (out / "a__segment_crack.png").read_bytes() != first_bytes  # the killed job's mask is there
    with caplog.at_level("WARNING"):
        summary = predict_paths(seg, [photos / "a.png"], [CRACK], out, threshold=0.5, progress=False)
    assert summary.done == [str(photos / "a.png")] and _areas(out) == first
    assert (out / "a__segment_crack.png").read_bytes() == first_bytes
    assert not [r for r in caplog.records if "corrected by hand" in r.getMessage()]
    assert "replacing" not in json.loads((out / "a__results.json").read_text())


def test_a_photo_another_job_redid_meanwhile_with_other_settings_is_not_listed_with_old_numbers(tiny_model_dir,
                                                                                               tmp_path, photos,
                                                                                               monkeypatch):
    """Two jobs with other settings writing one folder: the first one's results.json listed its numbers for a photo
    whose masks and record the second had replaced meanwhile. Now that photo is named in its failures; a photo
    another job redid with the same settings is listed as that job left it."""
    import drywallqa.engine.batch as batch

    seg, out = Segmenter.load(tiny_model_dir), tmp_path / "out"
    process = batch.process_image
    others = []

    def and_another_job_meanwhile(segmenter, path, opts):
        done = process(segmenter, path, opts)
        if Path(path).name == "a.png" and not others:
            others.append(predict_paths(seg, [photos / "a.png"], [CRACK], out,
                                        threshold=_another_threshold(seg, photos / "a.png"), progress=False))
        return done

    monkeypatch.setattr(batch, "process_image", and_another_job_meanwhile)
    summary = predict_paths(seg, [photos / "a.png", photos / "b.png"], [CRACK], out, threshold=0.5, progress=False)
    results = json.loads((out / "results.json").read_text())
    assert [Path(e["image"]).name for e in results["images"]] == ["b.png"]
    assert dict(results["failed"])[str(photos / "a.png")] == batch.REPLACED_MEANWHILE
    assert summary.done == [str(photos / "b.png")]
    record = json.loads((out / "a__results.json").read_text())
    assert record["prompts"][CRACK]["mask_crc32"] == zlib.crc32((out / "a__segment_crack.png").read_bytes())
    assert record["settings"] == others[0].results[0]["settings"]  # the other job's, as it wrote them


def test_an_interrupted_overwrite_job_run_again_goes_on_where_it_stopped(tiny_model_dir, tmp_path, monkeypatch):
    """An --overwrite job stopped part way said "run the same command again to segment the rest (the photos done are
    skipped)", and the same command redid every photo. Now it goes on where it stopped; once it has finished, the next
    --overwrite job redoes them all again."""
    import drywallqa.engine.batch as batch
    from drywallqa.engine.batch import JobInterrupted

    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for name in ("a", "b", "c"):
        Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(folder / f"{name}.png")
    seg, out = Segmenter.load(tiny_model_dir), tmp_path / "out"
    predict_paths(seg, folder, [CRACK], out, progress=False)
    process, seen = batch.process_image, []

    def stopped_at_the_second(segmenter, path, opts):
        seen.append(Path(path).name)
        if len(seen) >= 2 and stop:
            raise KeyboardInterrupt  # Ctrl-C while the second photo is segmented (and the third, if its thread began it)
        return process(segmenter, path, opts)

    monkeypatch.setattr(batch, "process_image", stopped_at_the_second)
    stop = True
    with pytest.raises(JobInterrupted):
        predict_paths(seg, folder, [CRACK], out, overwrite=True, progress=False)
    assert seen[:2] == ["a.png", "b.png"]
    stop, seen[:] = False, []
    summary = predict_paths(seg, folder, [CRACK], out, overwrite=True, progress=False)  # the same command again
    assert seen == ["b.png", "c.png"] and summary.skipped == [str(folder / "a.png")]
    assert not (out / batch.OVERWRITING).exists()
    seen[:] = []
    predict_paths(seg, folder, [CRACK], out, overwrite=True, progress=False)  # a new --overwrite job: all again
    assert seen == ["a.png", "b.png", "c.png"]


def test_a_rerun_with_overlay_of_strips_over_pillows_limit_writes_its_results(tiny_model_dir, tmp_path, photos,
                                                                              monkeypatch):
    """An overlay strip holds the photo once per prompt and once more: a 60-MP photo's strip of two prompts is over
    the 179 MP Pillow decodes. A rerun with --overlay read the strips of the photos done for its grid and stopped with
    a traceback (DecompressionBombError), results.json not written; such a strip is now left out of the grid. Pillow's
    limit is lowered here: a 40 x 56 photo stands in for a 60-MP one."""
    model, out = _model(tiny_model_dir, tmp_path), tmp_path / "out"
    seg = Segmenter.load(str(model))
    predict_paths(seg, photos, [CRACK, "segment taping area"], out, overlay_images=True, progress=False)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2_500)  # refused above 5,000 px: a photo (2,240), not its strip
    (out / "results.json").unlink()
    again = predict_paths(seg, photos, [CRACK, "segment taping area"], out, overlay_images=True, progress=False)
    assert len(again.skipped) == 2 and not again.failed
    assert len(json.loads((out / "results.json").read_text())["images"]) == 2


def test_a_photo_replaced_while_it_is_segmented_is_predicted_again_by_the_rerun(tiny_model_dir, tmp_path, photos):
    """The record took the photo's size and time after segmenting it: a photo replaced meanwhile (a sync tool, an edit
    saved over it) got a record of the new file holding the old one's masks, and every rerun skipped it."""
    seg, out = Segmenter.load(str(_model(tiny_model_dir, tmp_path))), tmp_path / "out"
    predict = seg.predict

    def replaced_meanwhile(image, prompts, **kw):
        result = predict(image, prompts, **kw)
        if image.shape[:2] == (40, 56):  # the job's own read, once per photo
            Image.fromarray(np.zeros((30, 20, 3), np.uint8)).save(photos / "a.png")
        return result

    seg.predict = replaced_meanwhile
    predict_paths(seg, [photos / "a.png"], [CRACK], out, progress=False)
    seg.predict = predict
    again = predict_paths(seg, [photos / "a.png"], [CRACK], out, progress=False)
    assert again.done and not again.skipped  # the photo as it is now
    assert json.loads((out / "a__results.json").read_text())["width"] == 20
