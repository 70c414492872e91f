"""Review of the day's changes, part B (h277): output folders, shipping's replace, tiling, measures."""

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
    for p in pipes:  # a read blocked on a pipe ends (at end of file) once a writer opens and closes it
        try:
            os.close(os.open(p, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
    worker.join(5)
    assert answers, "is_output_folder blocked on a named pipe"
    outputs, skipped = answers[0]
    assert outputs is False
    assert sorted(reason for _, reason in skipped) == ["not a regular file"] * 2
