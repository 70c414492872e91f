"""Adversarial review of the day's changes (default -d of ship / calibrate-*, val_cross_fg NaN, categories,
palette and 255-ignore masks, canonical_share, ...): each test fails before its fix."""

from __future__ import annotations

import json

import numpy as np

import yaml


def test_a_run_moved_from_where_it_was_trained_reads_its_dataset_file_as_written(tmp_path, monkeypatch):
    """A run trained elsewhere (a GPU machine, another checkout) records where it read a dataset YAML given by a
    relative path (train_files.json dataset_files: an absolute path of that machine). Copied here and shipped from
    the folder where the relative path is found, the recorded path, gone, was taken anyway: -d defaulted to a file
    that does not exist (exit 2, of a --dataset not given) and ship's check of the datasets left out skipped it.
    Now a recorded path not found falls back to the entry as the config writes it."""
    from pathlib import Path

    from drywallqa.engine.shipping import trained_datasets, trained_datasets_left_out

    (tmp_path / "walls" / "train" / "_masks").mkdir(parents=True)
    (tmp_path / "my.dataset.yaml").write_text(yaml.safe_dump({
        "name": "h233_walls", "concept": "wall stain", "folder": "walls",
        "prompts": ["segment wall stain"]}))
    run = tmp_path / "run"
    (run / "best").mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump({"data": {"datasets": ["cracks", "my.dataset.yaml"]}}))
    (run / "metrics.csv").write_text("epoch,val_score\n1,0.5\n")
    gone = "/nonexistent_h233/checkout/my.dataset.yaml"  # where the run read it, on the machine it was trained on
    (run / "train_files.json").write_text(json.dumps({"train": [], "val": [], "dataset_files": {"my.dataset.yaml": gone}}))
    monkeypatch.chdir(tmp_path)
    names, _, not_found = trained_datasets(run / "best")
    assert names == ["cracks", "my.dataset.yaml"] and not_found == [], names
    unchecked: list = []
    trained_datasets_left_out(Path("run"), ["cracks"], unchecked)
    assert not any("my.dataset.yaml" in u for u in unchecked), unchecked


def test_training_arrays_cached_before_the_ignore_reading_are_decoded_again(tmp_path, monkeypatch):
    """A mask of 0, 1 (a class index) and 255 'ignore' is read with its 255 as no label now (35f37e9, and a VOC
    palette's index 255: 24cb946), but the training-array cache's key (CACHE_VERSION 4) did not change: arrays
    decoded by an earlier release, the ignore band as the label, were trained on again without a word. The version
    is bumped: such arrays are decoded again."""
    from PIL import Image

    from drywallqa.data import cache
    from drywallqa.data.sample import Sample
    from drywallqa.utils.image_io import read_mask

    photo, mask_path = tmp_path / "a.png", tmp_path / "a_mask.png"
    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(photo)
    plane = np.zeros((32, 32), np.uint8)
    plane[8:24, 8:24] = 255  # the 'ignore' band around the crack
    plane[12:20, 12:20] = 1  # the crack (class 1)
    Image.fromarray(plane).save(mask_path)
    samples = [Sample(photo, "h233", "train", 32, 32, mask_path=mask_path)]
    store = tmp_path / "cache"
    store.mkdir()
    with monkeypatch.context() as m:  # the arrays a release before the change wrote, under the key it used
        m.setattr(cache, "CACHE_VERSION", 4)
        old = store / f"arrays_32_{cache.cache_key(samples, 32)}.npz"
    cache._save(old, np.full((1, 32, 32, 3), 128, np.uint8), read_mask(mask_path)[None], np.asarray([0], np.int64))
    _, masks, kept = cache.load_arrays(samples, 32, store)
    assert kept == [0]
    assert (masks[0] == 1).sum() == 64, (masks[0] == 1).sum()  # the crack alone, not its band (its band: 'ignore')


def test_a_voc_palette_mask_is_packed_as_drywallqa_reads_it(tmp_path, load_script):
    """A VOC palette mask's index 255 ('void') is read as no label here now (24cb946), but the pack for a GPU run
    (scripts/pack_training_images.py) read the mask with OpenCV, which turns a palette into its colours: the packed
    mask was an RGB image, its void band (224, 224, 192) read there as the label. The remote run trained on another
    label than a run here. A palette mask is packed as a palette mask (resized to the nearest index)."""
    from PIL import Image

    from drywallqa.data.sample import Sample
    from drywallqa.utils.image_io import VOC_PALETTE, read_mask

    encoded = load_script("pack_training_images")._encoded
    photo, mask_path = tmp_path / "a.png", tmp_path / "a_mask.png"
    Image.fromarray(np.full((32, 48, 3), 128, np.uint8)).save(photo)
    indices = np.zeros((32, 48), np.uint8)
    indices[8:24, 8:40] = 255  # void around the crack
    indices[12:20, 12:36] = 1
    mask = Image.fromarray(indices, mode="P")
    mask.putpalette([v for colour in VOC_PALETTE for v in colour])
    mask.save(mask_path)
    sample = Sample(photo, "h233", "train", 32, 48, mask_path=mask_path)
    for size in (64, 24):  # as it is, and shrunk
        files = encoded(sample, tmp_path / "out" / "a.webp", size, 80)
        packed = tmp_path / f"packed_{size}.png"
        packed.write_bytes(files[1][1])
        got = read_mask(packed, ignore=True)
        want = read_mask(mask_path, ignore=True)
        if size < 48:
            want = np.asarray(Image.fromarray(want).resize(got.shape[::-1], Image.NEAREST))
        assert got.shape == want.shape and (got == want).all(), (size, int(got.sum()), int(want.sum()))


def test_a_damaged_record_of_the_datasets_is_not_read_letter_by_letter(tmp_path):
    """A model folder's training_config.yaml (or a run's config.yaml) whose data.datasets is no list (a hand edit:
    ``datasets: cracks``) was read as the datasets 'c', 'r', 'a', ...: calibrate-gate without -d said
    "unknown dataset 'c'" of a --dataset not given. A record that is no list records no datasets (as one that is no
    YAML)."""
    from drywallqa.engine.shipping import trained_datasets

    for i, datasets in enumerate(["cracks", {"cracks": 1}]):
        folder = tmp_path / f"m{i}"
        folder.mkdir()
        (folder / "training_config.yaml").write_text(yaml.safe_dump({"data": {"datasets": datasets}}))
        assert trained_datasets(folder) is None, datasets


def test_a_linked_dataset_file_is_recorded_where_the_run_read_it(tmp_path, monkeypatch):
    """train_files.json's dataset_files recorded a dataset YAML given by a relative path by its resolved path: a YAML
    file that is a link (into a folder of shared declarations) was recorded as its target, whose ``folder:`` (relative
    to the file) is another folder than the one the run read beside the link: ship read other photos, or none. It is
    recorded as the run read it: the path from the folder it ran in, links not followed."""
    from types import SimpleNamespace

    from drywallqa.data.registry import load_dataset_config
    from drywallqa.engine.trainer import Trainer

    shared, project = tmp_path / "shared", tmp_path / "project"
    shared.mkdir()
    (project / "walls" / "train" / "_masks").mkdir(parents=True)
    (shared / "walls" / "train" / "_masks").mkdir(parents=True)
    (shared / "walls.dataset.yaml").write_text(yaml.safe_dump({"name": "h233_linked", "folder": "walls",
                                                               "prompts": ["segment wall stain"]}))
    (project / "walls.dataset.yaml").symlink_to(shared / "walls.dataset.yaml")
    monkeypatch.chdir(project)
    read = load_dataset_config("walls.dataset.yaml").folder  # where the run reads its photos
    fake = SimpleNamespace(train_files=[], val_files=[],
                           config=SimpleNamespace(data=SimpleNamespace(datasets=["cracks", "walls.dataset.yaml"])))
    recorded = Trainer.files_record(fake)["dataset_files"]["walls.dataset.yaml"]
    monkeypatch.chdir(tmp_path)  # ship, from another folder
    assert load_dataset_config(recorded).folder == read == str(project / "walls"), (recorded, read)
