"""Review of the day's changes, part B: output folders, shipping's replace, tiling, measures."""

import os
import threading

import pytest


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_named_pipe_called_results_json_is_not_read(tmp_path):
    # is_output_folder reads a results.json or *__results.json to tell a job's from another program's: a named pipe so
    # named (no writer) blocked that read for good, and find_images / predict hung where 0.6.29 skipped it
    from drywallqa.utils.image_io import find_images
    from drywallqa.utils.output_folders import is_output_folder

    pipes = [tmp_path / "results.json", tmp_path / "a__results.json"]
    for p in pipes:
        os.mkfifo(p)
    answers = []
    worker = threading.Thread(target=lambda: answers.append((is_output_folder(tmp_path),
                                                             find_images([tmp_path]).skipped)), daemon=True)
    worker.start()
    worker.join(30)
    answered = list(answers)  # before a writer ends a blocked read (it would read nothing, then answer)
    for p in pipes:  # a read blocked on a pipe ends (at end of file) once a writer opens and closes it
        try:
            os.close(os.open(p, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
    worker.join(5)
    assert answered, "is_output_folder blocked on a named pipe"
    outputs, skipped = answered[0]
    assert outputs is False
    assert sorted(reason for _, reason in skipped) == ["not a regular file"] * 2


def test_a_results_json_that_is_no_object_is_not_parsed_whole(tmp_path, monkeypatch):
    # a labelling tool's results.json, a JSON array of 50 MB beside the photos, was parsed whole each time a folder was
    # looked at (find_images, check_not_others: 4 s and 700 MB each) to learn it is no job's: its first byte says so
    import json

    from drywallqa.utils import output_folders
    from drywallqa.utils.output_folders import is_batch_results, is_output_folder

    (tmp_path / "results.json").write_text(json.dumps([{"file": f"img_{i}.jpg"} for i in range(1000)]))
    (tmp_path / "scan__results.json").write_text("\n  " + json.dumps(["not", "a", "record"]))
    (tmp_path / "a__results.json").write_text('\n {"image": "/x/a.jpg", "height": 2, "width": 2, "prompts": {}}')
    parsed, loads = [], json.loads
    monkeypatch.setattr(output_folders.json, "loads", lambda data, *a, **k: parsed.append(data) or loads(data, *a, **k))
    assert is_batch_results(tmp_path / "results.json") is False
    assert parsed == []
    assert is_output_folder(tmp_path) is True  # an image record (led by white space) is read as before
    assert len(parsed) == 1 and b"/x/a.jpg" in parsed[0]


def test_a_model_folder_a_killed_ship_left_aside_is_named_where_the_model_is_missing(tmp_path, tiny_model_dir):
    # a SIGKILL between replace_dir's two renames (ship, export: no handler can hold it back) leaves no dest and the
    # earlier model whole as .<name>.replaced until the next replace: loading dest said only "no model folder"
    import shutil

    from drywallqa.engine.segmenter import Segmenter

    dest = tmp_path / "models" / "shipped"
    dest.parent.mkdir()
    shutil.copytree(tiny_model_dir, dest.with_name(".shipped.replaced"))
    with pytest.raises(FileNotFoundError) as caught:
        Segmenter.load(dest)
    assert f"no model folder {dest}" in str(caught.value) and str(dest.with_name(".shipped.replaced")) in str(caught.value)
    shutil.rmtree(dest.with_name(".shipped.replaced"))
    with pytest.raises(FileNotFoundError) as caught:
        Segmenter.load(dest)
    assert str(caught.value) == f"no model folder {dest}"  # nothing set aside: as before


def test_an_end_whose_line_widens_behind_it_keeps_its_reach():
    # a 3-px C (an ellipse's arc, its back 8 px thick where the arc's sides meet): the end walk of e40af4d (the
    # reach read from where distances stop growing) ran from the lower end round the bend into the back, and read
    # the reach from there the way the back runs, away from the end: 31.6 px (measures version 10) read 21.8, the
    # reach -1.8 px though the mask runs 4 px past both ends of its centre line
    import cv2
    import numpy as np

    from drywallqa.centre_line import centre_line

    m = np.zeros((116, 21), np.uint8)
    cv2.ellipse(m, (13, 77), (3, 12), 90, 0, 294, 1, 3)
    line = centre_line(m.astype(bool))
    assert line.reach > 6 and line.length == pytest.approx(31.6, abs=0.5)


def test_a_hairline_running_into_a_wider_crack_is_not_cut_short_at_its_end():
    # a 1-px crack running from a 4-px one's end: the end walk took the anchor into the wide part, whose direction
    # leaves the end pixel 5.7 px off to the side (a corner's end pixel lies within half the width): 38.6 px (version
    # 10) read 33.5
    import cv2
    import numpy as np

    from drywallqa.centre_line import centre_line

    m = np.zeros((36, 32), np.uint8)
    cv2.line(m, (0, 22), (6, 29), 1, 4)
    cv2.line(m, (1, 29), (30, 14), 1, 1)
    assert centre_line(m.astype(bool)).length == pytest.approx(38.6, abs=0.5)
