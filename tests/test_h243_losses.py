"""h243: the losses' 'ignore' check once per step."""

from __future__ import annotations

import torch

from drywallqa import losses
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
