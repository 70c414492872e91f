"""A third look at --splits all, the split reader registry and the plain help and errors of a log."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("group, command, first_paragraph", [
    ([], "train", "Train a model from a config file (checkpoints, metrics CSV/JSON and curves in output_dir)."),
    (["data"], "refine-masks", "Turn box annotations into pixel masks (the box stays where nothing credible is found): "
                               "a new image/mask-folder dataset; report.json says per file which way each box went."),
    (["export"], "onnx", "ONNX graphs of a film_unet model (default: the shipped one): the image encoder (once per "
                         "image) and the prompt decoder."),
])
def test_a_groups_plain_help_lists_each_command_whole(group, command, first_paragraph):
    """Where standard error is no terminal, click's help cut each command's line at about 45 characters ("Train a
    model from a config file (checkpoints,..."): what Rich's box showed whole was lost."""
    res = subprocess.run([sys.executable, "-m", "drywallqa", *group, "--help"], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    listed = " ".join(res.stdout.split("Commands:")[1].split())
    assert f"{command} {first_paragraph}" in listed, res.stdout
    assert "..." not in listed


def _photo_and_mask(folder, stem):
    import numpy as np
    from PIL import Image

    (folder / "_masks").mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(folder / f"{stem}.jpg")
    mask = np.zeros((32, 32), np.uint8)
    mask[10:20, 5:25] = 255
    Image.fromarray(mask).save(folder / "_masks" / f"{stem}.png")


def test_a_split_this_user_may_not_read_is_its_problem_not_the_commands_end(tmp_path):
    """A reader that met a folder or file this user may not read (the built-in mask_folder reader lists its folder)
    raised PermissionError out of load_split: the command ended with the disk error 'give this user the right to
    write there', the other splits unread (evaluate --splits all scored none of them)."""
    from drywallqa.data import registry
    from drywallqa.data.grouping import load_all_splits
    from drywallqa.data.registry import load_dataset_config, register_split_reader

    def locked(config, split, folder, problems):
        raise PermissionError(13, "Permission denied", str(folder / "labels.csv"))

    register_split_reader("third_look_locked")(locked)
    try:
        _photo_and_mask(tmp_path / "own" / "valid", "a")
        (tmp_path / "own" / "train").mkdir()
        yaml = tmp_path / "own.yaml"
        yaml.write_text("name: third_look_own\nfolder: own\nprompts: [segment crack]\nsplits:\n"
                        "  train: {kind: third_look_locked, folder: train}\n"
                        "  valid: {kind: mask_folder, folder: valid}\n")
        config = load_dataset_config(yaml)
        registry.DATASETS.add(config.name, config)
        unread = {}
        samples, problems = load_all_splits(config.name, None, unread)
        assert [s.image_path.name for s in samples] == ["a.jpg"]
        assert "labels.csv" in unread["train"] and "cannot be read (Permission denied)" in unread["train"], unread
    finally:
        registry.SPLIT_READERS.remove("third_look_locked")
        registry.DATASETS.remove("third_look_own")


def test_all_photos_names_the_problem_of_a_photo_two_splits_hold_once(tmp_path):
    """A photo two split folders hold is scored once, but its problem (no mask) was a failure per split: the report
    counted two failures for one file."""
    from drywallqa.data import registry
    from drywallqa.data.registry import DatasetConfig, SplitSource
    from drywallqa.engine.evaluator import build_eval_sets

    folder = tmp_path / "own" / "train"
    _photo_and_mask(folder, "a")
    _photo_and_mask(folder, "nomask")
    (folder / "_masks" / "nomask.png").unlink()
    registry.register_dataset(DatasetConfig("third_look_twice", str(tmp_path / "own"), ("segment crack",), {
        "train": SplitSource("mask_folder", "train"), "again": SplitSource("mask_folder", "train")}))
    try:
        (es,) = build_eval_sets(("third_look_twice",), which=("all",))
    finally:
        registry.DATASETS.remove("third_look_twice")
    assert [s.image_path.name for s in es.samples] == ["a.jpg"]
    assert len(es.problems) == 1 and "nomask.jpg: no mask" in es.problems[0], es.problems


def test_help_written_to_a_file_is_plain_text_while_errors_go_to_a_terminal(tmp_path):
    """`drywallqa evaluate --help > help.txt` from a terminal: help goes to standard output, but only standard error
    was asked whether it is a terminal, so the file got Rich's boxes at 80 columns, each option's help squeezed into
    a column a third of that wide, its border in between."""
    import os
    import pty

    parent, child = pty.openpty()
    try:
        with open(tmp_path / "help.txt", "w") as out:
            res = subprocess.run([sys.executable, "-m", "drywallqa", "evaluate", "--help"], stdout=out, stderr=child,
                                 timeout=120, env={**os.environ, "COLUMNS": "80"})
    finally:
        os.close(child)
        os.close(parent)
    text = (tmp_path / "help.txt").read_text()
    assert res.returncode == 0 and text.startswith("Usage: drywallqa evaluate"), text[:300]
    assert "│" not in text and "╭" not in text
