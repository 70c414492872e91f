"""Own-data frictions: a YAML's parent category said where a user sees it, 255-'ignore' masks named once a
folder by `data stats`, ..."""

from __future__ import annotations

import logging

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from drywallqa.cli import app
from drywallqa.data import registry
from drywallqa.data.sample import load_split

from test_own_data_corners import _declare, _roboflow_export


def _parent_said(caplog) -> list:
    return [r for r in caplog.records if "parent category" in r.getMessage()]


# ------------------------------------------------------------------ 1. a parent category: said where the CLI shows it
def test_a_named_parent_category_is_a_warning_once_a_dataset(tmp_path, names, caplog):
    """categories: [crack] on a Roboflow export reads its children: said at INFO (which the CLI does not show) once
    per file; now a warning, once for the dataset (its train and valid files), naming the parent and its children."""
    _roboflow_export(tmp_path, "rf_warned")
    config = _declare(tmp_path, names, "rf_warned", {"train": "coco", "valid": "coco"}, categories=["crack"])
    with caplog.at_level(logging.WARNING):
        for split in ("train", "valid", "train"):
            load_split(config, split)
    said = _parent_said(caplog)
    assert len(said) == 1 and said[0].levelno == logging.WARNING, [r.getMessage() for r in said]
    assert "categories: 'crack' is a parent category" in said[0].getMessage()
    assert "reading its children NewCracks - v2" in said[0].getMessage()


def test_data_stats_shows_the_parent_category_once(tmp_path, names, caplog):
    """`data stats` silenced the data reader's log (its problems are listed in full): the parent read as its
    children was said nowhere. Its notice passes, once; the problems' warnings still do not."""
    _roboflow_export(tmp_path, "rf_stats")
    _declare(tmp_path, names, "rf_stats", {"train": "coco", "valid": "coco"}, categories=["crack"])
    Image.fromarray(np.full((8, 8, 3), 120, np.uint8)).save(tmp_path / "rf_stats" / "valid" / "unlisted.jpg")  # a problem
    with caplog.at_level(logging.WARNING):
        res = CliRunner().invoke(app, ["data", "stats", "-d", str(tmp_path / "rf_stats.yaml")])
    assert res.exit_code == 0 and "unlisted.jpg" in res.output, res.output
    said = _parent_said(caplog)
    assert len(said) == 1 and "NewCracks - v2" in said[0].getMessage(), [r.getMessage() for r in said]
    assert not [r for r in caplog.records if r.name == "drywallqa.data.sample" and r not in said]


# ------------------------------------------------------------------ 2. 255-'ignore' masks: once a folder in data stats
def test_data_stats_names_a_folder_of_ignore_masks_once_with_a_count(tmp_path, names):
    """`data stats` of a mask folder of 0/1/255 masks repeated the 255-'ignore' problem once per mask; it is one
    problem of the folder now, with how many masks (a few by name), as training says it once a folder. Another
    folder's such mask is its own problem; a 0/255 mask none."""
    from drywallqa.data.stats import dataset_stats

    from test_own_data_corners import _crack, _mask_folder

    _mask_folder(tmp_path, "ign_stats", {f"m{i}": _crack(1, band=255) for i in range(5)} | {"clean": _crack(255)})
    train = tmp_path / "ign_stats" / "train"
    (train / "_masks").mkdir(parents=True)
    Image.fromarray(np.full((*_crack(1).shape, 3), 120, np.uint8)).save(train / "t.jpg")
    Image.fromarray(_crack(1, band=255)).save(train / "_masks" / "t.png")
    _declare(tmp_path, names, "ign_stats", {"train": "mask_folder", "valid": "mask_folder"})
    problems = dataset_stats(str(tmp_path / "ign_stats.yaml"), progress=False)["problems"]
    ignore = [p for p in problems if "'ignore'" in p]
    assert len(ignore) == 2, problems
    valid = [p for p in ignore if str(tmp_path / "ign_stats" / "valid" / "_masks") in p]
    assert len(valid) == 1 and "5 masks of class indices beside 255" in valid[0] and "m0.png" in valid[0], ignore
    assert [p for p in ignore if "t.png" in p and "masks of class" not in p], ignore  # one mask: its own problem


# ------------------------------------------------------------------ 3. no valid/: every way on, not `--splits all` alone
def test_evaluate_without_a_valid_split_names_all_data_split_and_splits_dir(tmp_path, names):
    """A mask-folder dataset of train/ alone, evaluated by default (published,group): the refusal named only
    `--splits all`; it names a manifest made by `data split` (of the YAML file given) with `--splits group`, and
    `--splits-dir`, as docs/evaluation.md does. Before the model loads."""
    from conftest import says
    from test_own_data_corners import _crack, _mask_folder

    _mask_folder(tmp_path, "no_valid", {"a": _crack(255)})
    (tmp_path / "no_valid" / "valid").rename(tmp_path / "no_valid" / "train")
    _declare(tmp_path, names, "no_valid", {"train": "mask_folder"})
    yaml_file = str(tmp_path / "no_valid.yaml")
    res = CliRunner().invoke(app, ["evaluate", "--model-path", str(tmp_path / "no_model"), "-d", yaml_file,
                                   "--speed-images", "0", "--out", str(tmp_path / "eval")])
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output
    assert says(res.output, "'no_valid' has no split 'valid'; it has train", "--splits all",
                f"drywallqa data split -d {yaml_file} --out splits", "--splits group", "--splits-dir"), res.output


# ------------------------------------------------------------------ 4. two concepts of one thing: said
def _walls(tmp_path, names, name, prompts, **extra):
    from test_own_data_corners import _crack, _mask_folder

    _mask_folder(tmp_path, name, {"a": _crack(255)})
    return _declare(tmp_path, names, name, {"valid": "mask_folder"}, prompts=prompts, **extra)


def test_two_datasets_of_one_thing_under_two_concepts_are_warned_of(tmp_path, names):
    """Two crack datasets of different concepts: each is asked the other's prompts against an empty mask, without a
    word. Said where every prompt of both names one thing the gate knows (crack), or their categories: share a name;
    not where they share a concept, nor for cracks beside taping."""
    from drywallqa.data.negatives import alike_concepts
    from drywallqa.data.registry import get_dataset_config

    a = _walls(tmp_path, names, "walls_a", ["segment crack"], concept="crack_a")
    b = _walls(tmp_path, names, "walls_b", ["segment wall crack", "segment hairline cracks"], concept="crack_b")
    (said,) = alike_concepts([a, b])
    assert "walls_a (concept 'crack_a') and walls_b (concept 'crack_b')" in said and "names cracks" in said, said
    assert "write concept: crack_a in the YAML file of walls_b" in said, said
    cracks, taping = get_dataset_config("cracks"), get_dataset_config("taping")
    assert not alike_concepts([cracks, taping])
    (said,) = alike_concepts([b, cracks])  # a registered dataset's concept is the one to write
    assert "write concept: cracks in the YAML file of walls_b" in said, said
    one = _walls(tmp_path, names, "walls_c", ["segment crack"], concept="crack_a")
    assert not alike_concepts([a, one])  # one concept
    stains = _walls(tmp_path, names, "stains", ["segment stain"], categories=["crack"])
    dots = _walls(tmp_path, names, "dots", ["segment dot"], categories=["crack", "dot"])
    (said,) = alike_concepts([stains, dots])
    assert "categories: both read 'crack'" in said, said
    assert not alike_concepts([stains, _walls(tmp_path, names, "tapes", ["segment tape joint"])])


def test_data_stats_and_train_warn_of_two_concepts_of_one_thing(tmp_path, names, caplog):
    """`data stats -d a -d b` says it (a warning line); so does a training run, as it builds (before any photo)."""
    from types import SimpleNamespace

    from drywallqa.engine.trainer import Trainer

    _walls(tmp_path, names, "walls_a", ["segment crack"], concept="crack_a")
    _walls(tmp_path, names, "walls_b", ["segment wall crack"], concept="crack_b")
    res = CliRunner().invoke(app, ["data", "stats", "-d", str(tmp_path / "walls_a.yaml"), "-d",
                                   str(tmp_path / "walls_b.yaml")], terminal_width=400)
    assert res.exit_code == 0, res.output
    assert "warning: datasets walls_a (concept 'crack_a') and walls_b (concept 'crack_b') look like labels of one " \
           "thing" in res.output, res.output
    with caplog.at_level(logging.WARNING, logger="drywallqa.engine.trainer"):
        Trainer.warn_alike_concepts(SimpleNamespace(datasets=[registry.get_dataset_config(str(tmp_path / f"walls_{x}.yaml"))
                                                              for x in "ab"]))
    assert [r for r in caplog.records if "look like labels of one thing" in r.getMessage()], caplog.text
