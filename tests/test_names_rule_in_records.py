"""The naming rule of a job by folder (--names-from-folders) in each photo's record too: a job killed before
its results.json, then run again with the other rule into the same --out, is refused as results.json would refuse it."""

import json
import os
import threading

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from drywallqa import Segmenter
from drywallqa.engine.batch import NAMES_FOLDERS, check_names, predict_paths


def _photos(root, *names, seed=0):
    rng = np.random.default_rng(seed)
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)).save(root / name)
    return root


@pytest.fixture()
def killed(tiny_model_dir, tmp_path):
    """A job by folder whose results.json is gone, as if killed after its photos' records (kill -9)."""
    photos = _photos(tmp_path / "photos", "day1/IMG_1.jpg", "day2/IMG_1.jpg", "day2/IMG_2.jpg")
    seg, out, inputs = Segmenter.load(tiny_model_dir), tmp_path / "out", [photos / "day1", photos / "day2"]
    assert predict_paths(seg, inputs, ["segment crack"], out, progress=False, names_from_folders=True).ok
    (out / "results.json").unlink()
    return seg, out, inputs


def test_records_of_a_job_by_folder_name_the_rule(killed):
    _, out, _ = killed
    records = sorted(out.glob("*__results.json"))
    assert [r.name for r in records] == ["day1-IMG_1__results.json", "day2-IMG_1__results.json",
                                         "day2-IMG_2__results.json"]
    assert all(json.loads(r.read_text()).get("names") == NAMES_FOLDERS for r in records)


def test_a_killed_job_by_folder_rerun_by_stem_is_refused_and_by_folder_resumes(killed):
    seg, out, inputs = killed
    with pytest.raises(ValueError, match="names-from-folders") as info:
        predict_paths(seg, [inputs[1]], ["segment crack"], out, progress=False)
    assert "day" in str(info.value) and "__results.json" in str(info.value)
    assert sorted(p.name for p in out.glob("*__results.json")) == [
        "day1-IMG_1__results.json", "day2-IMG_1__results.json", "day2-IMG_2__results.json"]  # nothing predicted
    again = predict_paths(seg, inputs, ["segment crack"], out, progress=False, names_from_folders=True)
    assert again.ok and not again.done and len(again.skipped) == 3, (again.done, again.failed)
    assert json.loads((out / "results.json").read_text())["names"] == NAMES_FOLDERS


def test_the_cli_refuses_it_with_exit_2_and_overwrite_goes_on(killed, tiny_model_dir):
    from drywallqa.cli import app

    seg, out, inputs = killed
    res = CliRunner().invoke(app, ["predict", str(inputs[1]), "-p", "segment crack", "--out", str(out),
                                   "--model-path", str(tiny_model_dir)])
    text = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 2 and "--names-from-folders" in text and "Traceback" not in text, res.output
    check_names(out, None, overwrite=True)  # --overwrite: not refused
    summary = predict_paths(seg, [inputs[1]], ["segment crack"], out, progress=False, overwrite=True)
    assert summary.ok and len(summary.done) == 2


def test_an_empty_results_json_reads_the_records_too(killed):
    _, out, _ = killed
    (out / "results.json").write_text(json.dumps({"prompts": ["segment crack"], "images": []}))
    with pytest.raises(ValueError, match="names-from-folders"):
        check_names(out, None)
    check_names(out, "/some/root")  # the same rule: resumed


def test_records_by_stem_refuse_a_job_by_folder_and_older_records_still_read(tiny_model_dir, tmp_path):
    """By stem: no "names" in a record (as every older record); a job by folder into it is refused. A record without
    the key whose name is not its photo's stem's (an older job's by folder) names no rule: not refused."""
    photos = _photos(tmp_path / "photos", "day1/IMG_1.jpg")
    seg, out = Segmenter.load(tiny_model_dir), tmp_path / "out"
    assert predict_paths(seg, [photos / "day1"], ["segment crack"], out, progress=False).ok
    (out / "results.json").unlink()
    rec = out / "IMG_1__results.json"
    assert "names" not in json.loads(rec.read_text())
    with pytest.raises(ValueError, match="file stem"):
        check_names(out, str(photos))
    check_names(out, None)
    rec.rename(out / "day1-IMG_1__results.json")  # as an older version's job by folder named it, with no key
    check_names(out, str(photos))
    check_names(out, None)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
@pytest.mark.parametrize("name", ["results.json", "a__results.json"])
def test_check_names_does_not_read_a_named_pipe(tmp_path, name):
    """check_names read results.json and the photos' records with read_text: a named pipe so named (no writer) blocked
    predict before its output folder was looked at (the check whose folder is a job's skips such files). It reads them
    as is_output_folder does: a pipe is no record, and the folder's check names it."""
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / name)
    answers = []
    worker = threading.Thread(target=lambda: answers.append(check_names(out, None, False)), daemon=True)
    worker.start()
    worker.join(20)
    answered = list(answers)  # before a writer ends a blocked read (it would read nothing, then answer)
    try:
        os.close(os.open(out / name, os.O_WRONLY | os.O_NONBLOCK))  # a blocked read ends once a writer comes and goes
    except OSError:
        pass
    worker.join(5)
    assert answered == [None], "check_names blocked on a named pipe"
