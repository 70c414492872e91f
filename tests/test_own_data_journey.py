"""Found walking the documented journey of fine-tuning on photos of one's own (docs/data.md "Your own dataset",
docs/training.md, configs/finetune_own_data.yaml) through the command line."""

import types

import torch

from drywallqa.engine import trainer as trainer_module
from drywallqa.engine.config import TrainConfig
from drywallqa.engine.trainer import Trainer


def _config(root, splits, out, tiny_kwargs):
    return TrainConfig.from_dict({
        "model_config": tiny_kwargs,
        "data": {"datasets": ["syn_crack", "syn_tape"], "datasets_dir": str(root), "splits_dir": str(splits),
                 "cache_size": 72, "cache_dir": None, "negative_ratio": 0.5},
        "optim": {"lr": 3e-3, "batch_size": 4, "epochs": 1, "warmup_steps": 2},
        "output_dir": str(out), "checkpoint_every": 100, "bf16": False, "device": "cpu",
    })


def test_elapsed_counts_the_steps_of_an_epoch_stopped_and_resumed(synthetic_datasets, syn_splits, tmp_path, tiny_kwargs,
                                                                  monkeypatch):
    """An epoch trained in several sittings (--max-minutes, Ctrl-C, each resumed) recorded as its elapsed_s only the
    last sitting's seconds (8 s in metrics.csv for an epoch of minutes): the time of a sitting that ended before the
    epoch did was kept nowhere."""
    clock = {"t": 0.0, "tick": 1000.0}

    def fake_time():
        clock["t"] += clock["tick"]
        return clock["t"]

    monkeypatch.setattr(trainer_module, "time", types.SimpleNamespace(time=fake_time))
    cfg = _config(synthetic_datasets, syn_splits, tmp_path / "run", tiny_kwargs)
    assert Trainer(cfg, progress=False).train(max_minutes=1e-9)["stopped"] == "time"  # one step: >= 1000 s by the clock
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=False)["step"] == 1
    clock["tick"] = 1.0  # the rest of the epoch in a few seconds
    final = Trainer(cfg, progress=False).train(resume=True)
    assert final["epoch"] == 1
    assert final["elapsed_s"] >= 1000  # the first sitting's seconds too


def _run_trained_on(tmp_path, tiny_model_dir, synthetic_datasets, datasets):
    import shutil

    import yaml

    run = tmp_path / "run"
    shutil.copytree(tiny_model_dir, run / "best")
    (run / "config.yaml").write_text(yaml.safe_dump({"data": {"datasets": datasets,
                                                               "datasets_dir": str(synthetic_datasets)}}))
    (run / "metrics.csv").write_text("epoch,val_score\n1,0.5\n")
    return run


def test_ship_refuses_to_leave_out_a_dataset_the_run_was_trained_on(tiny_model_dir, synthetic_datasets, syn_splits,
                                                                    tmp_path, monkeypatch):
    """A run fine-tuned on a dataset of one's own ([water_stains.yaml, cracks, taping], as
    configs/finetune_own_data.yaml trains), shipped with ship's default -d (cracks, taping): the gate was calibrated on
    those alone and the shipped model refused "segment water stain", the prompt it was fine-tuned on, as "not something
    this model was trained to find", without a word from ship."""
    import pytest
    from typer.testing import CliRunner

    import drywallqa.engine.shipping as shipping
    from drywallqa.cli import app

    own = tmp_path / "water_stains.yaml"  # (the crack photos, labelled as stains)
    own.write_text(f"name: water_stains\nfolder: {synthetic_datasets / 'crack'}\nprompts: [segment water stain]\n")
    run = _run_trained_on(tmp_path, tiny_model_dir, synthetic_datasets, [str(own), "syn_crack", "syn_tape"])

    class Swept(Exception):
        pass

    def swept(*_a, **_k):
        raise Swept

    monkeypatch.setattr(shipping, "select", swept)
    kwargs = dict(splits_dir=syn_splits, datasets_dir=synthetic_datasets, confidence=False, progress=False,
                  report=lambda *_: None)
    with pytest.raises(shipping.ShipRefused, match="water_stains.*segment water stain"):
        shipping.ship(run, tmp_path / "out", datasets=("syn_crack", "syn_tape"), **kwargs)
    res = CliRunner().invoke(app, ["ship", str(run), "--out", str(tmp_path / "out"), "-d", "syn_crack", "-d", "syn_tape",
                                   "--splits-dir", str(syn_splits), "--datasets-dir", str(synthetic_datasets)])
    assert res.exit_code == 2 and "water_stains" in res.output and "--dataset" in res.output, res.output
    assert not (tmp_path / "out").exists()
    (tmp_path / "b").mkdir()
    plain = _run_trained_on(tmp_path / "b", tiny_model_dir, synthetic_datasets, ["syn_crack", "syn_tape"])
    with pytest.raises(Swept):  # every dataset it was trained on given: shipped as before
        shipping.ship(plain, tmp_path / "out", datasets=("syn_crack", "syn_tape"), **kwargs)


def _two_datasets_of_one_export(tmp_path) -> list[str]:
    """The export of :func:`_two_category_export` in ``tmp_path/export``, declared as two datasets by their categories
    (``own_stains``, ``own_nails``); returns their YAML files."""
    _two_category_export(tmp_path / "export")
    files = []
    for name, category in (("own_stains", "water stain"), ("own_nails", "nail pop")):
        path = tmp_path / f"{name}.yaml"
        path.write_text(f"name: {name}\nfolder: {tmp_path / 'export'}\nprompts: [segment {category}]\n"
                        f"categories: [{category}]\n")
        files.append(str(path))
    return files


def _export_config(files, tmp_path, tiny_kwargs) -> TrainConfig:
    """One epoch of a tiny model on the datasets ``files``, their manifests in ``tmp_path/splits``."""
    return TrainConfig.from_dict({
        "model_config": tiny_kwargs,
        "data": {"datasets": files, "splits_dir": str(tmp_path / "splits"), "exclude_published": [],
                 "cache_size": 72, "cache_dir": None},
        "optim": {"batch_size": 2, "epochs": 1}, "output_dir": str(tmp_path / "run"), "bf16": False, "device": "cpu",
    })


def _two_category_export(folder, n=4):
    """A COCO export ``folder/train/`` whose photos hold a stain (category "water stain") and a nail pop ("nail pop")."""
    import json

    import numpy as np
    from PIL import Image

    split = folder / "train"
    split.mkdir(parents=True)
    rng = np.random.default_rng(0)
    images, anns = [], []
    for i in range(n):
        arr = rng.integers(150, 200, (64, 64, 3)).astype(np.uint8)
        arr[10:30, 10:30] = 120
        arr[45:50, 45:50] = 60
        Image.fromarray(arr).save(split / f"wall{i}.jpg")
        images.append({"id": i, "file_name": f"wall{i}.jpg", "height": 64, "width": 64})
        for k, (cat, (x, y, w)) in enumerate(((1, (10, 10, 20)), (2, (45, 45, 5)))):
            anns.append({"id": 2 * i + k, "image_id": i, "category_id": cat, "bbox": [x, y, w, w], "area": w * w,
                         "segmentation": [[x, y, x + w, y, x + w, y + w, x, y + w]], "iscrowd": 0})
    (split / "_annotations.coco.json").write_text(json.dumps({
        "images": images, "annotations": anns,
        "categories": [{"id": 1, "name": "water stain"}, {"id": 2, "name": "nail pop"}]}))


def test_evaluate_asks_no_photo_the_prompt_of_a_dataset_labelling_it_as_another_thing(tiny_model_dir, synthetic_datasets,
                                                                                       tmp_path):
    """One COCO export of stains and nail pops declared as two datasets by their categories (docs/data.md): evaluate's
    cross-prompt check asked each stain photo "segment nail pop" as a thing it does not show ("lower is better"), and
    counted it a negative image of that prompt, while the nail-pop dataset labels a nail pop on that very photo."""
    import json
    import math

    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.data import registry

    files = _two_datasets_of_one_export(tmp_path)
    try:
        res = CliRunner().invoke(app, ["evaluate", "--model-path", str(tiny_model_dir), "--speed-images", "0",
                                       "-d", files[0], "-d", files[1], "-d", "syn_crack", "--splits", "all",
                                       "--datasets-dir", str(synthetic_datasets), "--out", str(tmp_path / "eval")])
    finally:
        for name in ("own_stains", "own_nails"):
            if name in registry.DATASETS:
                registry.DATASETS.remove(name)
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    cross = {(r["dataset"], r["prompt"]): r["mean_foreground_fraction"] for r in report["cross_prompt"]}

    def undefined(value):
        return value is None or math.isnan(value)

    assert undefined(cross[("own_stains", "segment nail pop")])  # every stain photo holds a labelled nail pop
    assert undefined(cross[("own_nails", "segment water stain")])
    assert not undefined(cross[("own_stains", "segment crack")])  # another thing on them: asked as before
    assert not undefined(cross[("syn_crack", "segment nail pop")])
    crack_photos = next(r["images"] for r in report["metrics"] if r["dataset"] == "syn_crack")
    level = {r["prompt"]: r for r in report["image_level"] if r["split"] == "all photos"}
    assert (level["segment nail pop"]["positives"], level["segment nail pop"]["negatives"]) == (4, crack_photos)


def test_a_val_photo_another_dataset_trains_on_is_warned_of(tiny_kwargs, tmp_path, caplog):
    """The two datasets of one two-category export split apart (`data split` of each, another seed or another day):
    a nail-pop val photo was a stain training photo, so best/ was chosen on photos the model trained on, without the
    warning a dataset's own val photo in its train part gets (its photos were compared per dataset, by name)."""
    import json
    import logging

    from drywallqa.data import registry

    files = _two_datasets_of_one_export(tmp_path)
    parts = {"own_stains": [[0, 1], [2], [3]], "own_nails": [[2, 3], [0], [1]]}  # stain train 0 is nail val 0
    for name, (train, val, test) in parts.items():
        (tmp_path / "splits").mkdir(exist_ok=True)
        (tmp_path / "splits" / f"{name}.json").write_text(json.dumps({
            "dataset": name, "seed": 0, "fractions": {"train": 0.5, "val": 0.25, "test": 0.25},
            "parts": {p: [f"train/wall{i}.jpg" for i in ids] for p, ids in zip(("train", "val", "test"), (train, val, test))}}))
    cfg = _export_config(files, tmp_path, tiny_kwargs)
    try:
        with caplog.at_level(logging.WARNING):
            Trainer(cfg, progress=False).build_data()
    finally:
        for name in parts:
            if name in registry.DATASETS:
                registry.DATASETS.remove(name)
    assert "shares 2 of its 2 photos with data.train_part" in caplog.text, caplog.text


def test_training_photos_left_out_by_exclude_published_are_said(synthetic_datasets, syn_splits, tmp_path, tiny_kwargs,
                                                                caplog):
    """configs/finetune_own_data.yaml leaves out the published valid and test photos of every dataset: an export of
    one's own lost the photos of its valid/ that data split put in the train part (6 of 28), without a word."""
    import logging

    from drywallqa.data.grouping import samples_of_part

    everything = samples_of_part("syn_crack", "train", syn_splits, synthetic_datasets)
    kept = samples_of_part("syn_crack", "train", syn_splits, synthetic_datasets, ("valid", "test"))
    assert len(kept) < len(everything)  # (the fixture's split puts valid photos in train)
    import json

    from drywallqa.data import registry

    # a dataset of one's own (declared in a YAML file): warned of
    own = tmp_path / "own_crack.yaml"
    own.write_text(f"name: own_crack\nfolder: {synthetic_datasets / 'crack'}\nprompts: [segment crack]\n"
                   "splits:\n  train: {kind: mask_folder, folder: train}\n  valid: {kind: coco, folder: valid}\n")
    manifest = json.loads((syn_splits / "syn_crack.json").read_text())
    (syn_splits / "own_crack.json").write_text(json.dumps({**manifest, "dataset": "own_crack"}))
    cfg = _config(synthetic_datasets, syn_splits, tmp_path / "run", tiny_kwargs)
    cfg.data.exclude_published = ["valid", "test"]
    cfg.data.datasets = [str(own), "syn_tape"]
    try:
        with caplog.at_level(logging.WARNING):
            Trainer(cfg, progress=False).build_data()
    finally:
        registry.DATASETS.remove("own_crack")
    said = f"'own_crack': {len(everything) - len(kept)} of the {len(everything)} photos of its train part"
    assert said in caplog.text and "valid" in caplog.text, caplog.text

    # a dataset that comes with the package (syn_crack is registered as cracks is): as meant, told, not warned of on
    # every run of the shipped recipes
    caplog.clear()
    cfg = _config(synthetic_datasets, syn_splits, tmp_path / "run2", tiny_kwargs)
    cfg.data.exclude_published = ["valid", "test"]
    with caplog.at_level(logging.INFO):
        Trainer(cfg, progress=False).build_data()
    told = [r for r in caplog.records if "'syn_crack':" in r.getMessage() and "photos of its train part" in r.getMessage()]
    assert told and all(r.levelno == logging.INFO for r in told), caplog.text


def test_the_trainer_s_cross_prompt_foreground_leaves_out_photos_the_other_dataset_labels(tiny_kwargs, tmp_path):
    """val_cross_fg (metrics.csv, each epoch's line) asked every stain val photo "segment nail pop" as a thing it does
    not show, though the nail-pop dataset of the same export labels a nail pop on it: a model that answers nail pops
    well looked as if it did not listen to the prompt."""
    import json

    from drywallqa.data import registry

    files = _two_datasets_of_one_export(tmp_path)
    for name in ("own_stains", "own_nails"):
        (tmp_path / "splits").mkdir(exist_ok=True)
        (tmp_path / "splits" / f"{name}.json").write_text(json.dumps({
            "dataset": name, "seed": 0, "fractions": {"train": 0.5, "val": 0.5, "test": 0.0},
            "parts": {"train": ["train/wall0.jpg", "train/wall1.jpg"], "val": ["train/wall2.jpg", "train/wall3.jpg"],
                      "test": []}}))
    cfg = _export_config(files, tmp_path, tiny_kwargs)
    try:
        trainer = Trainer(cfg, progress=False)
        trainer.build_data()
        trainer.setup()
        with torch.no_grad():
            trainer.eval_model.head.bias.fill_(50.0)  # every pixel foreground, whatever the prompt
        cross = trainer.validate()["val_cross_fg"]
    finally:
        for name in ("own_stains", "own_nails"):
            if name in registry.DATASETS:
                registry.DATASETS.remove(name)
    assert cross != cross  # every val photo labelled by both: no prompt is another thing on it (NaN: not measured)
