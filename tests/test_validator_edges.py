"""The validator's edges (engine/validator.py) and what reads its output (metrics.csv, metrics.json, best/config.json,
curves.png): a cross-prompt foreground that was not measured, and thresholds that all score the same."""

import csv
import json
import math

import numpy as np
import pytest

from drywallqa.data import registry
from drywallqa.data.registry import DatasetConfig, SplitSource
from drywallqa.engine.segmenter import SegmentationResult, Segmenter
from drywallqa.engine.validator import Validator


class _Everywhere(Segmenter):
    """Every prompt's map: 0.9 over the photo's left half, 0.05 elsewhere."""

    def decode(self, encoded, prompts, threshold=None, label_shape=None):
        prob = np.full((32, 32), 0.05, np.float32)
        prob[:, :16] = 0.9
        return SegmentationResult(masks={p: prob > 0.5 for p in prompts}, probabilities={p: prob for p in prompts})


@pytest.fixture
def two_datasets():
    configs = [DatasetConfig("edge_a", "a", ("segment edge a",), {"train": SplitSource("coco", "t")}),
               DatasetConfig("edge_b", "b", ("segment edge b",), {"train": SplitSource("coco", "t")})]
    for c in configs:
        registry.register_dataset(c)
    yield
    for c in configs:
        registry.DATASETS.remove(c.name)


def _pair():
    gt = np.zeros((32, 32), bool)
    gt[:, :16] = True
    return np.zeros((32, 32, 3), np.uint8), gt


def test_cross_foreground_of_one_dataset_is_not_measured_not_a_perfect_zero(two_datasets):
    """One dataset validated: no other dataset's prompt is asked, and val_cross_fg read 0.0 (a model that never
    answers another thing's prompt), the same as a perfect score."""
    result = Validator({"edge_a": [_pair()]}, options=False)(_Everywhere())
    assert math.isnan(result.cross_foreground)
    assert math.isnan(result.shared()["val_cross_fg"])


def test_cross_foreground_of_photos_every_dataset_labels_is_not_measured(two_datasets):
    """Every photo labelled by both datasets (one export's two categories): every cross prompt skipped; 0.0 read as
    perfect."""
    photos = {"edge_a": ["p.jpg"], "edge_b": ["p.jpg"]}
    held = {"edge_a": {"p.jpg"}, "edge_b": {"p.jpg"}}
    items = {"edge_a": [_pair()], "edge_b": [_pair()]}
    result = Validator(items, options=False, photos=photos, held=held)(_Everywhere())
    assert math.isnan(result.shared()["val_cross_fg"])


def test_cross_foreground_measured_is_as_it_was(two_datasets):
    """Two datasets, photos of their own: the other prompt's foreground, as before (half of each photo)."""
    assert Validator({"edge_a": [_pair()], "edge_b": [_pair()]}, options=False)(_Everywhere()).cross_foreground == 0.5


def test_an_unmeasured_cross_foreground_is_an_empty_cell_null_in_json_and_n_a_on_the_curves(
        synthetic_datasets, syn_splits, tmp_path, tiny_kwargs, monkeypatch):
    """A run of one dataset: metrics.csv's val_cross_fg cell empty (not 0.0, not "nan"), metrics.json's and
    best/config.json's null (no NaN literal: not JSON), the curves drawn with the line said n/a."""
    from drywallqa import viz
    from drywallqa.engine.config import TrainConfig
    from drywallqa.engine.trainer import Trainer

    legends = []
    save = viz._save

    def keep_legend(fig, path, dpi):
        legends.extend(t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts())
        save(fig, path, dpi)

    monkeypatch.setattr(viz, "_save", keep_legend)
    cfg = TrainConfig.from_dict({
        "model_config": tiny_kwargs,
        "data": {"datasets": ["syn_crack"], "datasets_dir": str(synthetic_datasets), "splits_dir": str(syn_splits),
                 "cache_size": 72, "cache_dir": None},
        "optim": {"lr": 1e-3, "batch_size": 4, "epochs": 1, "warmup_steps": 1},
        "output_dir": str(tmp_path / "run"), "bf16": False, "device": "cpu",
    })
    Trainer(cfg, progress=False).train()
    run = tmp_path / "run"
    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows[-1]["val_cross_fg"] == "" and float(rows[-1]["val_score"]) >= 0
    assert json.loads((run / "metrics.json").read_text())[-1]["val_cross_fg"] is None
    config_text = (run / "best" / "config.json").read_text()
    assert "NaN" not in config_text
    assert json.loads(config_text)["val"]["val_cross_fg"] is None
    assert "cross_fg (n/a)" in legends and "score" in legends


class _Maps(Segmenter):
    """Every prompt's map: ``fill`` over the photo's left half, ``background`` elsewhere, ``spot`` over a corner."""

    def __init__(self, fill, background=0.0, spot=None):
        super().__init__()
        self.fill, self.background, self.spot = fill, background, spot

    def decode(self, encoded, prompts, threshold=None, label_shape=None):
        prob = np.full((32, 32), self.background, np.float32)
        prob[:, :16] = self.fill
        if self.spot is not None:
            prob[:4, 28:] = self.spot
        return SegmentationResult(masks={p: prob > 0.5 for p in prompts}, probabilities={p: prob for p in prompts})


def test_a_model_that_answers_nothing_gets_the_default_threshold_and_a_warning(two_datasets, caplog):
    """All-zero maps score the same (0.0) at every threshold: argmax took the first, 0.1, as if it were chosen, and
    nothing said the val scores did not depend on the threshold."""
    import logging

    items = {"edge_a": [_pair()], "edge_b": [_pair()]}
    with caplog.at_level(logging.WARNING, logger="drywallqa.engine.validator"):
        result = Validator(items)(_Maps(0.0))
    said = [r.getMessage() for r in caplog.records if "scores the same at every threshold" in r.getMessage()]
    assert len(said) == 2 and "'edge_a'" in said[0] and "answers nothing" in said[0] and "0.5" in said[0]
    choice = result.choose()
    assert choice.threshold == 0.5 and choice.dataset_thresholds == {"edge_a": 0.5, "edge_b": 0.5}
    assert result.shared()["threshold"] == 0.5 and result.shared()["val_score"] == 0.0


def test_thresholds_tied_for_the_best_resolve_toward_the_default_and_a_unique_best_stays(two_datasets, caplog):
    """A map of 0.3 on the label, 0.05 elsewhere: every threshold from 0.1 to 0.25 masks the label exactly; of those
    the one nearest 0.5 (it was 0.1, the first). No warning: the scores depend on the threshold. A unique best (0.65: a
    false spot of 0.62 cut, the label's 0.7 kept) is chosen as it was."""
    import logging

    items = {"edge_a": [_pair()], "edge_b": [_pair()]}
    with caplog.at_level(logging.WARNING, logger="drywallqa.engine.validator"):
        tied = Validator(items, options=False)(_Maps(0.3, background=0.05))
    assert not [r for r in caplog.records if "every threshold" in r.getMessage()]
    assert tied.choose().threshold == 0.25 and tied.choose().dataset_thresholds["edge_a"] == 0.25
    assert tied.shared()["threshold"] == 0.25 and tied.shared()["val_score"] == 1.0
    unique = Validator(items, options=False)(_Maps(0.7, background=0.05, spot=0.62))
    assert unique.choose().threshold == 0.65 and unique.shared()["threshold"] == 0.65


def test_evaluate_reports_a_tied_best_threshold_as_the_validator_does():
    """evaluate's headroom (best single threshold) and per-image best threshold resolve ties like the validator:
    a model that answers nothing scored alike at every threshold was reported at the grid's first, 0.1."""
    from drywallqa.engine.evaluator import headroom
    from drywallqa.metrics import THRESHOLDS

    flat = np.zeros((3, len(THRESHOLDS)))
    assert headroom(list(flat), [0.0, 0.0, 0.0])["best_single_threshold"] == 0.5


def test_train_prints_a_cross_foreground_not_measured_as_n_a(write_train_config, tiny_kwargs, monkeypatch):
    """`drywallqa train`'s closing line printed val_cross_fg NaN (no cross prompt asked) as nan, where the epoch's
    line and metrics say n/a."""
    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.engine import trainer as trainer_module

    monkeypatch.setattr(trainer_module.Trainer, "train",
                        lambda self, **kw: {"epoch": 1, "val_score": 0.25, "val_cross_fg": float("nan")})
    res = CliRunner().invoke(app, ["train", str(write_train_config("film_unet", tiny_kwargs))], terminal_width=300)
    assert res.exit_code == 0, res.output
    assert "'val_cross_fg': 'n/a'" in res.output and "nan" not in res.output, res.output
