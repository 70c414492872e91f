"""Review of the tiling, run-file, output-folder and ship --out changes."""

from pathlib import Path
from types import SimpleNamespace

import pytest


def test_a_checkpoint_without_label_encoding_is_not_said_to_be_of_0_6_27_alone(tmp_path):
    """0.6.28 was released (e9c6d08) before last.pt recorded ``label_encoding`` (fd1b9df), and it already read the 255
    of a 0/1/255 mask as 'ignore': its checkpoints hold no ``label_encoding`` either. Resumed, such a run was refused
    as "written by drywallqa 0.6.27 or earlier, which read ... as background" -- false for a 0.6.28 run, whose labels
    read as they did. The message says a checkpoint without it may be 0.6.28's, read alike (go on), or 0.6.27's."""
    from drywallqa.engine.trainer import Trainer

    last = tmp_path / "run" / "last.pt"
    run = SimpleNamespace(photos_with_ignore=lambda: 3, accept_label_change=False)
    with pytest.raises(ValueError) as caught:
        Trainer.check_same_labels(run, {"step": 7}, last)
    said = " ".join(str(caught.value).split())
    assert "0.6.28 or earlier" in said and "0.6.27 or earlier" in said and "as background" in said, said
    assert "started with 0.6.28" in said and "--accept-label-change" in said and "init_from:" in said, said
    assert "3 of the run's training and val photos" in said and "step 7" in said, said


def test_docs_say_which_releases_enlarged_small_tiles_as_the_help_does():
    """0.6.28 still enlarged a tile smaller than the input size (seen at its own size since bfa4db6, after its
    release); the code and --enlarge-tiles' help say "up to 0.6.28" (88dd472), but docs/batch.md said --enlarge-tiles
    works "as through 0.6.27", and benchmarks/tile_sizes.py "as before 0.6.28", which leave 0.6.28 out."""
    from drywallqa.cli.common import ENLARGE_TILES_HELP

    assert "up to 0.6.28" in ENLARGE_TILES_HELP
    text = " ".join((Path(__file__).parents[1] / "docs" / "batch.md").read_text().split())
    said = text[text.index("`--enlarge-tiles` (`predict`, `evaluate`"):][:300]
    assert "up to 0.6.28" in said and "0.6.27" not in said, said
    bench = " ".join((Path(__file__).parents[1] / "benchmarks" / "tile_sizes.py").read_text().split())
    said = bench[bench.index("(``enlarge=True``"):][:60]
    assert "up to 0.6.28" in said, said  # (it said "as before 0.6.28")


def test_zeroshot_into_a_folder_an_unmarked_older_zeroshot_job_wrote_says_so(tmp_path):
    """A folder ``drywallqa zeroshot`` wrote before output folders were marked (0.5.0 and earlier: report.json with its
    ``stages`` and ``prompt_source``, masks ``<stem>__<prompt>.png``, no marker) was refused since 775a91d as holding
    files "that no drywallqa job wrote (another program's?)" -- a drywallqa job did. It is named as an older zero-shot
    job's results, as a marked folder of an older drywallqa is; --overwrite still the way on."""
    import json

    import numpy as np
    from PIL import Image

    from drywallqa.zeroshot.pipeline import ZeroShotConfig, earlier_job

    photos, old = tmp_path / "photos", tmp_path / "old"
    photos.mkdir()
    old.mkdir()
    Image.fromarray(np.zeros((24, 32, 3), np.uint8)).save(photos / "a.jpg")
    (old / "report.json").write_text(json.dumps({"config": {}, "prompt_source": "table", "stages": {"tags": 1},
                                                 "images": [{"image": str(photos / "a.jpg")}]}))
    (old / "a__crack.png").write_bytes(b"an older zero-shot job's mask")
    conflict = earlier_job([photos], old, ZeroShotConfig())[1]
    assert conflict is not None and "--overwrite" in conflict, conflict
    assert "no drywallqa job wrote" not in conflict and "zero-shot job" in conflict, conflict


def test_zeroshot_docs_no_longer_say_a_folder_of_the_users_files_is_written_into_unasked():
    """Since 775a91d a zero-shot --out of the user's files holding one the job would write over or remove (its
    report.json, a photo's <stem>__*.png) is refused; docs/zeroshot.md still said such a folder "is written into (they
    are left alone)"."""
    text = " ".join((Path(__file__).parents[1] / "docs" / "zeroshot.md").read_text().split())
    assert "a folder of the user's files is written into (they are left alone)" not in text
    said = text[text.index("a folder of the user's files"):][:400]
    assert "report.json" in said and "refused" in said and "--overwrite" in said, said


def test_ship_replaces_a_shipped_folder_holding_only_a_file_browsers_metadata(tiny_model_dir, tmp_path):
    """A folder ship wrote, opened in macOS Finder (``.DS_Store``, ``._config.json`` on a FAT/SMB disk) or Windows
    Explorer (``Thumbs.db``, ``desktop.ini``), was refused since 461c03b as holding files ship does not write, to be
    moved out or --overwrite'd: the file browser writes them again whenever the folder is opened, and replacing the
    folder whole deleted them before without loss. They are not named; a user's own file still is."""
    import shutil

    from drywallqa.engine.shipping import check_destination

    dest = tmp_path / "shipped"
    shutil.copytree(tiny_model_dir, dest)
    (dest / "selection.json").write_text("written by a ship")
    for name in (".DS_Store", "._config.json", "Thumbs.db", "desktop.ini"):
        (dest / name).write_bytes(b"a file browser's")
    check_destination(tiny_model_dir, dest)
    (dest / "notes.txt").write_text("mine")
    with pytest.raises(ValueError) as caught:
        check_destination(tiny_model_dir, dest)
    assert "notes.txt" in str(caught.value) and ".DS_Store" not in str(caught.value), str(caught.value)


def test_a_tiled_jobs_resume_key_changes_only_where_enlarge_changes_the_masks(tiny_model_dir, tmp_path):
    """settings() (a batch job's resume key) took ``enlarge`` in bfa4db6 whatever the tile: a ``predict --tile 640``
    job of 0.6.28 on the 512 px model (a tile no input size enlarges: the masks are the same now) was predicted again
    photo by photo when resumed, and so was one run again with --enlarge-tiles. The key holds it only where it
    changes what the model sees (a tile smaller than an input size), as 0.6.28's key otherwise."""
    import numpy as np
    from PIL import Image

    from drywallqa import Segmenter
    from drywallqa.engine.batch import predict_paths

    big = Segmenter.load(tiny_model_dir, tile=64)  # the tiny model's input size: nothing enlarged either way
    assert big.settings() == {"class": "TiledSegmenter", "tile": 64, "overlap": 0.25,
                              "inner": big.inner.settings()}  # 0.6.28's
    assert Segmenter.load(tiny_model_dir, tile=64, tile_enlarge=True).settings() == big.settings()
    assert Segmenter.load(tiny_model_dir, tile=40).settings()["enlarge"] is False
    assert Segmenter.load(tiny_model_dir, tile=40, tile_enlarge=True).settings()["enlarge"] is True
    photos, out = tmp_path / "photos", tmp_path / "out"
    photos.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)).save(photos / "a.jpg")
    assert len(predict_paths(big, [photos], ["segment crack"], out, progress=False).done) == 1
    again = predict_paths(Segmenter.load(tiny_model_dir, tile=64, tile_enlarge=True), [photos], ["segment crack"], out,
                          progress=False)
    assert not again.done and len(again.skipped) == 1


def test_accept_label_change_without_resume_is_refused_not_dropped(tmp_path):
    """``train CONFIG --accept-label-change`` (no --resume) started a new run, or was refused as a folder holding a
    run, the option dropped without a word: it is an option of --resume (as --max-tiles is of --tile), refused
    (exit 2) before anything is read."""
    from typer.testing import CliRunner

    from drywallqa.cli import app

    config = tmp_path / "config.yaml"
    config.write_text(f"output_dir: {tmp_path / 'run'}\n")
    res = CliRunner().invoke(app, ["train", str(config), "--accept-label-change"], terminal_width=300)
    said = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 2 and "--accept-label-change" in said and "--resume" in said, res.output
    assert not (tmp_path / "run").exists()


def test_the_tile_warning_says_a_tile_of_no_multiple_of_32_is_made_smaller(tiny_model_dir):
    """A tile smaller than the input size is seen at its own side down to a multiple of 32 (TorchSegmenter.tile_scales):
    a 48 px tile on the 64 px model is seen at 32 px, its cracks 1.5 times narrower, which the warning called "seen at
    32 px (not enlarged)" alone. It says the tile is made smaller, by how much, and the tile size seen as it is."""
    from drywallqa import Segmenter

    said = " ".join(Segmenter.load(tiny_model_dir, tile=48).tile_warning().split())
    assert "seen at 32 px" in said and "1.5 times smaller" in said and "multiple of 32" in said, said
    assert "tile=32" in said, said
    said = " ".join(Segmenter.load(tiny_model_dir, tile=32).tile_warning().split())
    assert "seen at 32 px (not enlarged)" in said and "smaller," not in said, said
