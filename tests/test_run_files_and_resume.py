"""A run folder's records: one reading of ``train_files.json``; a resume on masks read another way than the run
began with; a loss config that leaves built-in losses at their defaults."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml


def _said(output: str) -> str:
    return " ".join(output.replace("│", " ").split())


def _fake_run(folder, tiny_model_dir, datasets):
    """A training run's folder (best/, config.yaml, metrics.csv, train_files.json) trained on ``datasets``."""
    shutil.copytree(tiny_model_dir, folder / "best")
    (folder / "config.yaml").write_text(yaml.safe_dump({"data": {"datasets": datasets}}))
    (folder / "metrics.csv").write_text("epoch,val_score\n1,0.5\n")
    for record in (folder / "train_files.json", folder / "best" / "train_files.json"):
        record.write_text(json.dumps({"train": [], "val": []}))
    return folder


def test_one_reader_of_train_files_json_a_damaged_one_is_said_not_taken_as_none(tmp_path, tiny_model_dir,
                                                                                synthetic_datasets, syn_splits,
                                                                                monkeypatch):
    """train_files.json was read by run_folder.trained_files (a damaged file: an error naming it) and by
    shipping._train_files_entry (a damaged file: None, as if the model recorded nothing), so ship and
    calibrate-confidence read other split manifests than the model was trained with, and counted no val photo it
    trained on, without a word. Now one reader (run_folder.read_train_files): no file is None (it is optional); one
    that cannot be read is an error naming it and what to do, a usage error of the folder given on the command line."""
    import drywallqa.engine.shipping as shipping
    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.engine.run_folder import TrainFilesUnreadable, read_train_files, trained_files

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    assert read_train_files(model) is None and trained_files(model) is None  # none: optional
    assert shipping.recorded_split_manifests(model) is None
    (model / "train_files.json").write_text(json.dumps({"train": [["a/b.jpg"]], "split_manifests": {"syn_crack": "/x.json"}}))
    assert read_train_files(model)["train"] == [["a/b.jpg"]] and trained_files(model) == ["a/b.jpg"]
    assert shipping.recorded_split_manifests(model) == {"syn_crack": "/x.json"}
    for bad in ("{", "[]", "\xff"):
        (model / "train_files.json").write_bytes(bad.encode("latin-1"))
        for read in (read_train_files, trained_files, shipping.recorded_split_manifests,
                     shipping.recorded_split_manifest_digests,
                     lambda m: shipping.val_photos_trained_on(m, ["syn_crack"], syn_splits, synthetic_datasets)):
            with pytest.raises(TrainFilesUnreadable, match="copy it again from the run's folder") as err:
                read(model)
            assert str(model / "train_files.json") in str(err.value) and "remove it" in str(err.value)
    run = _fake_run(tmp_path / "run", tiny_model_dir, ["syn_crack"])
    (run / "train_files.json").write_text("{")  # the run's own (where it read its dataset files), best/'s whole
    with pytest.raises(shipping.ShipRefused, match="is not a list of training files") as refused:
        shipping.ship(run, tmp_path / "out", ["syn_crack"], splits_dir=syn_splits, datasets_dir=synthetic_datasets)
    assert refused.value.option == "SOURCE" and not (tmp_path / "out").exists()
    (run / "train_files.json").write_text(json.dumps({"train": [], "val": []}))
    asked = []
    monkeypatch.setattr(shipping, "ship", lambda *a, **k: asked.append(a))
    (run / "best" / "train_files.json").write_text("{")
    for args in (["ship", str(run), "--out", str(tmp_path / "out"), "--splits-dir", str(syn_splits),
                  "--datasets-dir", str(synthetic_datasets)],
                 ["calibrate-confidence", "--model-path", str(run / "best"), "-d", "syn_crack",
                  "--splits-dir", str(syn_splits), "--datasets-dir", str(synthetic_datasets)]):
        res = CliRunner().invoke(app, args, terminal_width=400)
        said = "".join(_said(res.output).split())  # (the box wraps a path anywhere)
        assert res.exit_code == 2 and "Traceback" not in res.output, res.output
        assert f"{run / 'best' / 'train_files.json'}isnotalistoftrainingfiles" in said, res.output
        assert ("SOURCE" if args[0] == "ship" else "--model-path") in said, res.output
    assert asked == []


def _ignore_banded_cracks(root):
    """The synthetic crack masks (0/255) rewritten as class indices beside a 255 'ignore' band: 0/1/255."""
    import numpy as np
    from PIL import Image

    for mask in sorted((root / "crack" / "train" / "_masks").glob("*.png")):
        arr = np.asarray(Image.open(mask))
        labels = (arr > 0).astype(np.uint8)
        labels[:4, :] = 255  # a band not labelled: 'ignore' since 0.6.28, background before
        Image.fromarray(labels).save(mask)


def test_a_resume_of_a_run_that_read_255_as_background_is_refused_naming_it(synthetic_datasets, syn_splits, tmp_path,
                                                                            tiny_kwargs, caplog):
    """A run started with 0.6.27 on masks holding 255 beside class indices read those pixels as background; resumed
    with 0.6.28 they became 'ignore' at the step resumed from, without a word (the data digest covers the photos and
    prompts, not how their labels are read). last.pt now records its label encoding; a checkpoint without it (0.6.27
    or earlier) resumed on photos that hold 'ignore' pixels is refused, saying what changed and what to do, unless
    --accept-label-change (a warning then). Photos without any read alike: nothing to say."""
    import logging

    import torch
    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.engine.config import TrainConfig
    from drywallqa.engine.trainer import LABEL_ENCODING, Trainer

    _ignore_banded_cracks(synthetic_datasets)
    cfg = TrainConfig.from_dict({
        "model_config": tiny_kwargs,
        "data": {"datasets": ["syn_crack", "syn_tape"], "datasets_dir": str(synthetic_datasets),
                 "splits_dir": str(syn_splits), "cache_size": 72, "cache_dir": None, "negative_ratio": 0.5},
        "optim": {"lr": 3e-3, "batch_size": 4, "epochs": 1, "warmup_steps": 2},
        "output_dir": str(tmp_path / "run"), "checkpoint_every": 2, "bf16": False, "device": "cpu"})
    assert Trainer(cfg, progress=False).train(max_minutes=1e-9)["stopped"] == "time"
    last = tmp_path / "run" / "last.pt"
    state = torch.load(last, weights_only=False)
    assert state["label_encoding"] == LABEL_ENCODING
    del state["label_encoding"]  # as 0.6.27 wrote it
    torch.save(state, last)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    res = CliRunner().invoke(app, ["train", str(config), "--resume"], terminal_width=400)
    said = _said(res.output)
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    assert "error:" in said and "0.6.27 or earlier" in said and "as background" in said, res.output
    assert "'ignore'" in said and "--accept-label-change" in said and "init_from:" in said, res.output
    assert torch.load(last, weights_only=False)["step"] == 1  # nothing trained
    resumed = Trainer(cfg, progress=False)
    with caplog.at_level(logging.WARNING, logger="drywallqa.engine.trainer"):
        result = resumed.train(resume=True, accept_label_change=True)
    assert "val_score" in result and resumed.photos_with_ignore() > 0
    warned = [r.getMessage() for r in caplog.records if "--accept-label-change" in r.getMessage()]
    assert len(warned) == 1 and "0.6.27 or earlier" in warned[0], warned
    assert torch.load(last, weights_only=False)["label_encoding"] == LABEL_ENCODING  # resumed again: as it reads now
    resumed.photos_with_ignore = lambda: 0  # photos without 'ignore' pixels: read alike by both
    resumed.accept_label_change = False
    resumed.check_same_labels({"step": 1}, last)


def test_a_loss_section_naming_some_losses_warns_of_those_left_at_their_defaults(synthetic_datasets, syn_splits,
                                                                                 tmp_path, tiny_kwargs, caplog):
    """``loss: {bce: 1, dice: 1}`` trains focal at its default 0.5 too (the built-in losses keep their defaults unless
    given: documented, and a surprise). The weights stay as they were; the run warns once, naming the losses left at
    their defaults and how to turn them off. A config naming each (every shipped one), none, or one whose override
    names the rest says nothing."""
    import logging
    from pathlib import Path

    from drywallqa.engine.config import TrainConfig
    from drywallqa.engine.trainer import Trainer
    from drywallqa.losses import LossWeights

    base = {"model_config": tiny_kwargs, "device": "cpu", "bf16": False, "output_dir": str(tmp_path / "run"),
            "data": {"datasets": ["syn_crack"], "datasets_dir": str(synthetic_datasets), "splits_dir": str(syn_splits),
                     "cache_dir": None}}
    some = TrainConfig.from_dict({**base, "loss": {"bce": 1.0, "dice": 1.0}})
    assert some.loss == LossWeights(bce=1.0, dice=1.0, focal=0.5, lovasz=0.0)  # unchanged
    assert some.losses_left_at_defaults() == {"focal": 0.5}
    assert some.with_overrides(["optim.epochs=2"]).losses_left_at_defaults() == {"focal": 0.5}
    assert some.with_overrides(["loss.focal=0"]).losses_left_at_defaults() == {}
    assert TrainConfig.from_dict(base).losses_left_at_defaults() == {}  # no section: the recipe's defaults
    assert TrainConfig.from_dict(base).with_overrides(["loss.lovasz=0.3"]).losses_left_at_defaults() == {
        "bce": 1.0, "dice": 1.0, "focal": 0.5}
    assert TrainConfig.from_dict({**base, "loss": {"bce": 1, "dice": 0, "focal": 1}}).losses_left_at_defaults() == {}
    for shipped in sorted((Path(__file__).parents[1] / "configs").glob("*.yaml")):
        assert TrainConfig.from_yaml(shipped).losses_left_at_defaults() == {}, shipped
    with caplog.at_level(logging.WARNING, logger="drywallqa.engine.trainer"):
        Trainer(some, progress=False)
        Trainer(some.with_overrides(["loss.focal=0"]), progress=False)
    said = [r.getMessage() for r in caplog.records if "loss section" in r.getMessage()]
    assert said == ["the config's loss section names bce, dice and leaves out focal, which trains at its default "
                    "weight (focal 0.5): the built-in losses keep their defaults unless given; give focal: 0 to train "
                    "without it, or its weight to keep it and say so"], said
