"""A loss a plugin registers is weighed from a config's ``loss:`` section; the losses' 'ignore' check once per
step; the cracks-on-drywall check's scores leave a label's 'ignore' pixels out."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from drywallqa import losses
from drywallqa.data import registry
from drywallqa.data.registry import DatasetConfig, SplitSource
from drywallqa.data.sample import Sample
from drywallqa.engine.segmenter import SegmentationResult, Segmenter
from drywallqa.losses import LOSSES, CombinedLoss
from drywallqa.utils.image_io import IGNORE_VALUE


def _batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, 1, 12, 16, generator=g) * 3
    target = (torch.rand(2, 1, 12, 16, generator=g) > 0.7).float()
    target[..., 4:7] = IGNORE_VALUE
    return logits, target


def test_the_combined_loss_looks_for_ignored_pixels_once_a_step_and_each_term_keeps_its_value(monkeypatch):
    """Each of bce, dice, focal and lovasz looked for the target's 'ignore' pixels itself: on a GPU a device sync
    each, four a step. The combined loss looks once and hands it to each; a loss alone still looks itself."""
    logits, target = _batch()
    weights = {"bce": 1.0, "dice": 1.0, "focal": 0.5, "lovasz": 0.3}
    alone = {k: LOSSES.get(k)(logits, target) for k in weights}
    looks = []
    real = losses.valid_pixels
    monkeypatch.setattr(losses, "valid_pixels", lambda t: looks.append(1) or real(t))
    total, parts = CombinedLoss(weights)(logits, target)
    assert len(looks) == 1
    assert parts == {k: float(v) for k, v in alone.items()}
    assert torch.equal(total, sum(w * alone[k] for k, w in weights.items()))
    looks.clear()
    assert torch.equal(LOSSES.get("dice")(logits, target), alone["dice"]) and len(looks) == 1


def test_a_registered_loss_without_valid_is_called_as_before():
    seen = []

    @losses.register_loss("h243_plain")
    def plain(logits, target):
        seen.append(target)
        return logits.mean() * 0 + 1.0

    try:
        logits, target = _batch(1)
        total, parts = CombinedLoss({"bce": 1.0, "h243_plain": 2.0})(logits, target)
        assert parts["h243_plain"] == 1.0 and seen[0] is target
        assert torch.isclose(total, LOSSES.get("bce")(logits, target) + 2.0)
    finally:
        LOSSES.remove("h243_plain")


# --------------------------------------------------------------------------------------------- cracks on drywall
class _Fixed(Segmenter):
    """Each prompt's mask the one given for it, on any photo."""

    def __init__(self, masks: dict):
        self.fixed = masks

    def decode(self, encoded, prompts, threshold=None, label_shape=None):
        masks = {p: self.fixed[p].copy() for p in prompts}
        return SegmentationResult(masks=masks, probabilities={p: m.astype(np.float32) for p, m in masks.items()})


@pytest.fixture
def h243_datasets():
    configs = [DatasetConfig("h243_crack", "crack", ("segment crack",), {"t": SplitSource("mask_folder", "t")}),
               DatasetConfig("h243_tape", "tape", ("segment taping area",), {"t": SplitSource("mask_folder", "t")})]
    for c in configs:
        registry.register_dataset(c)
    yield [c.name for c in configs]
    for c in configs:
        registry.DATASETS.remove(c.name)


def _sample(tmp_path, name, dataset, target):
    rng = np.random.default_rng(len(name))
    Image.fromarray(rng.integers(100, 160, (*target.shape, 3), dtype=np.uint8)).save(tmp_path / f"{name}.png")
    Image.fromarray(target).save(tmp_path / f"{name}_mask.png")
    return Sample(tmp_path / f"{name}.png", dataset, "t", *target.shape, mask_path=tmp_path / f"{name}_mask.png")


def test_cracks_on_drywall_scores_a_labels_ignore_band_nowhere(tmp_path, h243_datasets):
    """The check scored against the plain label, its 255 'ignore' band as background, where the validator and
    evaluate count it nowhere: a model marking the band too lost IoU it does not lose there, and one marking the band
    alone found a crack."""
    from drywallqa.engine import cracks_on_drywall as drywall

    crack, band = np.zeros((40, 48), np.uint8), np.zeros((40, 48), bool)
    band[:, 10:20] = True
    crack[band] = IGNORE_VALUE
    crack[:, 14:16] = 1
    tape = np.zeros((40, 48), np.uint8)
    tape[:, 30:38] = IGNORE_VALUE
    tape[:, 32:36] = 1
    pair = (_sample(tmp_path, "crack", h243_datasets[0], crack), _sample(tmp_path, "wall", h243_datasets[1], tape))
    models = {"with_band": _Fixed({drywall.CRACK: band.copy(), drywall.TAPING: tape != 0}),
              "band_alone": _Fixed({drywall.CRACK: band & (crack != 1), drywall.TAPING: tape == 1})}
    rows, _ = drywall.score_cracks_on_drywall(models, [pair], progress=False)
    rows = {r["model"]: r for r in rows}
    w, b = rows["with_band"], rows["band_alone"]
    assert w["crack_mIoU_own_photo"] == w["crack_mIoU_on_drywall"] == w["taping_mIoU_on_composite"] == 1.0, w
    assert w["missed_own_photo"] == w["missed_on_drywall"] == 0
    assert b["crack_mIoU_own_photo"] == b["crack_mIoU_on_drywall"] == 0.0 and b["taping_mIoU_on_composite"] == 1.0
    assert b["missed_own_photo"] == b["missed_on_drywall"] == 1, b
    comp = drywall.make_composite(*pair)
    assert (comp.crack_label == (crack == 1)).all() and (comp.crack_valid == (crack != IGNORE_VALUE)).all()
    assert (comp.wall_label == (tape == 1)).all() and (comp.wall_valid == (tape != IGNORE_VALUE)).all()


# --------------------------------------------------------------------------------------------- a plugin's loss weighed
@pytest.fixture
def h243_loss():
    """A loss registered as a plugin registers one: 2 wherever it is asked, so its weight shows in the total."""

    @losses.register_loss("h243_loss")
    def constant(logits, target):
        return logits.float().mean() * 0 + 2.0

    yield "h243_loss"
    LOSSES.remove("h243_loss")


def test_a_registered_loss_is_weighed_from_the_configs_loss_section_and_its_overrides(h243_loss):
    """``loss:`` was the fixed dataclass of bce, dice, focal and lovasz: a loss a plugin registers could never be
    weighed from a config ("unknown keys in loss")."""
    from drywallqa.engine.config import TrainConfig

    cfg = TrainConfig.from_dict({"loss": {"dice": 0.5, h243_loss: 0.3}})
    assert (cfg.loss.bce, cfg.loss.dice, cfg.loss.focal, cfg.loss.lovasz) == (1.0, 0.5, 0.5, 0.0)  # the defaults
    assert cfg.loss.h243_loss == 0.3 and cfg.to_dict()["loss"][h243_loss] == 0.3
    logits, target = _batch(2)
    total, parts = CombinedLoss(cfg.loss)(logits, target)
    plain, _ = CombinedLoss(TrainConfig.from_dict({"loss": {"dice": 0.5}}).loss)(logits, target)
    assert parts[h243_loss] == 2.0 and torch.isclose(total, plain + 0.3 * 2.0)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg  # (what a run records, read back)
    over = TrainConfig().with_overrides([f"loss.{h243_loss}=0.5", "loss.dice=0.25"])
    assert over.loss.h243_loss == 0.5 and over.loss.dice == 0.25 and over.loss.bce == 1.0
    assert cfg.with_overrides([f"loss.{h243_loss}=0.7"]).loss.h243_loss == 0.7
    assert TrainConfig.from_dict({"loss": {"bce": 0, "dice": 0, "focal": 0, h243_loss: 1.0}}).loss.h243_loss == 1.0
    for bad, said in (({h243_loss: -1}, f"loss.{h243_loss} must be a number in [0, 100]"),
                      ({h243_loss: True}, f"loss.{h243_loss} must be a number")):
        with pytest.raises(ValueError, match=re.escape(said)):
            TrainConfig.from_dict({"loss": bad})
    with pytest.raises(ValueError, match=re.escape(f"give loss.{h243_loss} a value (it cannot be null)")):
        TrainConfig().with_overrides([f"loss.{h243_loss}="])


@pytest.fixture
def a_broken_plugin(monkeypatch):
    from drywallqa.utils.plugins import load_plugins

    monkeypatch.setenv("DRYWALLQA_PLUGINS", "h243_no_such_module")
    load_plugins.cache_clear()
    yield "h243_no_such_module"
    load_plugins.cache_clear()


def test_a_loss_none_registers_is_refused_naming_the_registered_ones_and_a_broken_plugin(h243_loss, a_broken_plugin):
    from drywallqa.engine.config import TrainConfig

    with pytest.raises(ValueError) as err:
        TrainConfig.from_dict({"loss": {"bce": 1.0, "my_los": 0.3}})
    said = str(err.value)
    assert said.startswith("unknown keys in loss: ['my_los']") and f"bce, dice, focal, {h243_loss}, lovasz" in said
    assert f"plugin {a_broken_plugin!r} could not be imported" in said, said
    with pytest.raises(ValueError) as err:
        TrainConfig().with_overrides(["loss.my_los=0.3"])
    said = str(err.value)
    assert "unknown key 'loss.my_los'" in said and h243_loss in said and a_broken_plugin in said, said


def test_an_unknown_loss_override_is_a_usage_error_of_the_train_command(write_train_config, tiny_kwargs):
    from typer.testing import CliRunner

    from drywallqa.cli import app

    res = CliRunner().invoke(app, ["train", str(write_train_config("film_unet", tiny_kwargs)), "loss.my_los=0.3"],
                             terminal_width=400)
    said = " ".join(res.output.replace("│", " ").split())  # (the box's borders off its wrapped lines)
    assert res.exit_code == 2 and "unknown key 'loss.my_los'; known here: bce, dice" in said, said
    assert res.exception is None or isinstance(res.exception, SystemExit)


def _shipped_configs():
    root = Path(__file__).resolve().parents[1]
    found = [*sorted((root / "configs").glob("*.yaml")), *sorted((root / "src" / "drywallqa" / "weights").glob(
        "*/training_config.yaml")), *sorted((root / "models").glob("*/training_config.yaml"))]
    assert len(found) > 5
    return found


@pytest.mark.parametrize("path", _shipped_configs(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_configs_and_model_folders_training_configs_load_and_compare_as_before(path):
    """Every shipped config and every shipped folder's training_config.yaml (a run's config.yaml, as it recorded it)
    reads with the built-in weights alone, and compares equal with itself written and read again: a run resumed with
    it is not refused."""
    from drywallqa.engine.config import TrainConfig
    from drywallqa.engine.run_folder import changed_settings
    from drywallqa.losses import LossWeights

    cfg = TrainConfig.from_yaml(path)
    assert type(cfg.loss) is LossWeights
    saved = yaml.safe_load(yaml.safe_dump(cfg.to_dict(), sort_keys=False))  # as config.yaml and last.pt hold it
    assert set(saved["loss"]) <= {"bce", "dice", "focal", "lovasz"}
    assert changed_settings(saved, cfg.to_dict()) == [] and TrainConfig.from_dict(saved) == cfg
    written = yaml.safe_load(path.read_text())
    if isinstance(written.get("loss"), dict):
        assert {k: getattr(cfg.loss, k) for k in written["loss"]} == written["loss"]


def test_a_run_weighing_a_registered_loss_resumes_with_its_own_config_and_refuses_another_weight(
        h243_loss, write_train_config, tiny_kwargs, tmp_path):
    from drywallqa.engine.config import TrainConfig
    from drywallqa.engine.trainer import Trainer

    cfg = TrainConfig.from_yaml(write_train_config("film_unet", tiny_kwargs)).with_overrides([f"loss.{h243_loss}=0.3"])
    first = Trainer(cfg, progress=False)
    assert first.train(max_minutes=1e-9)["stopped"] == "time"  # after its first step
    assert first.epoch_losses[0][h243_loss] == 2.0
    recorded = tmp_path / "run" / "config.yaml"
    assert yaml.safe_load(recorded.read_text())["loss"][h243_loss] == 0.3
    again = TrainConfig.from_yaml(recorded)
    assert again == cfg
    assert Trainer(again, progress=False).train(resume=True, max_minutes=1e-9)["stopped"] == "time"  # not refused
    for other in (again.with_overrides([f"loss.{h243_loss}=0.5"]), again.with_overrides([f"loss.{h243_loss}=0"])):
        with pytest.raises(ValueError, match=rf"loss\.{h243_loss}: 0\.3 in the run"):
            Trainer(other, progress=False).train(resume=True, max_minutes=1e-9)
