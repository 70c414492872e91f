"""h233: adversarial review of the day's changes (default -d of ship / calibrate-*, val_cross_fg NaN, categories,
palette and 255-ignore masks, canonical_share, ...): each test fails before its fix."""

from __future__ import annotations

import json

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
