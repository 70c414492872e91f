"""h243: the losses' 'ignore' check once per step; the cracks-on-drywall check's scores leave a label's 'ignore'
pixels out."""

from __future__ import annotations

import numpy as np
import pytest
import torch
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
