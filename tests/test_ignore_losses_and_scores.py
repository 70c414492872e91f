"""A true 'ignore' value: a mask of class indices beside 255 (0 background, 1 crack, 255 'ignore': VOC's and
MMSegmentation's convention; grey, or a VOC palette's index 255) had its 255 read as background, so training taught
the band as "no crack" and every score counted it. Its pixels now count nowhere: not in the losses, the validator's
or evaluate's scores; the array cache, the dataset's augmentation and its transplants keep them apart. A label of no
ignored pixel (every shipped dataset) gives the very values it gave before."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from drywallqa.data import registry
from drywallqa.data.registry import DatasetConfig, SplitSource
from drywallqa.engine.segmenter import SegmentationResult, Segmenter
from drywallqa.losses import LOSSES, CombinedLoss, lovasz_grad
from drywallqa.utils.image_io import IGNORE_VALUE

BAND = slice(8, 12)  # the columns of the 'ignore' band in the tests' targets


# --------------------------------------------------------------------------------------------- the losses
# the losses as they were (0.6.27), verbatim: a target of no ignored pixel gives exactly these values
def _bce_before(logits, target):
    return F.binary_cross_entropy_with_logits(logits, target)


def _dice_before(logits, target, smooth=1.0):
    prob = torch.sigmoid(logits).flatten(1)
    target = target.flatten(1)
    inter = (prob * target).sum(1)
    return (1 - (2 * inter + smooth) / (prob.sum(1) + target.sum(1) + smooth)).mean()


def _focal_before(logits, target, gamma=2.0, alpha=0.25):
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p_t = torch.exp(-ce)
    alpha_t = alpha * target + (1 - alpha) * (1 - target)
    return (alpha_t * (1 - p_t) ** gamma * ce).mean()


def _lovasz_before(logits, target):
    losses = []
    for lg, t in zip(logits.flatten(1), target.flatten(1)):
        signs = 2.0 * t - 1.0
        errors = 1.0 - lg * signs
        errors_sorted, order = torch.sort(errors, descending=True)
        losses.append(torch.dot(F.relu(errors_sorted), lovasz_grad(t[order])))
    return torch.stack(losses).mean()


BEFORE = {"bce": _bce_before, "dice": _dice_before, "focal": _focal_before, "lovasz": _lovasz_before}


def _batch(seed):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(3, 1, 20, 24, generator=g) * 3
    target = (torch.rand(3, 1, 20, 24, generator=g) > 0.7).float()
    return logits, target


def _banded(target):
    banded = target.clone()
    banded[..., BAND] = IGNORE_VALUE
    return banded


def _without_band(x):
    return torch.cat([x[..., :BAND.start], x[..., BAND.stop:]], -1)


def test_the_losses_of_a_target_without_ignored_pixels_are_todays_bit_for_bit():
    for seed in range(3):
        logits, target = _batch(seed)
        for name, before in BEFORE.items():
            assert torch.equal(LOSSES.get(name)(logits, target), before(logits, target)), name
        weights = {"bce": 1.0, "dice": 1.0, "focal": 0.5, "lovasz": 0.3}
        total, parts = CombinedLoss(weights)(logits, target)
        want = sum(w * BEFORE[k](logits, target) for k, w in weights.items())
        assert torch.equal(total, want) and parts == {k: float(BEFORE[k](logits, target)) for k in weights}


@pytest.mark.parametrize("name", ["bce", "dice", "focal", "lovasz"])
def test_a_loss_leaves_out_the_ignored_pixels(name):
    """Logits changed inside the band leave the loss as it was (it was the band's "no crack" loss), changed outside
    they change it; the loss is the one of the photo without the band's pixels, and none of the gradient is the
    band's."""
    loss = LOSSES.get(name)
    logits, target = _batch(1)
    banded = _banded(target)
    base = loss(logits, banded)
    inside, outside = logits.clone(), logits.clone()
    inside[..., BAND] = 8.0 - 5 * inside[..., BAND]
    outside[..., 16:] += 2.0
    assert torch.equal(loss(inside, banded), base)
    assert not torch.equal(loss(outside, banded), base)
    assert torch.isclose(base, loss(_without_band(logits), _without_band(target)), rtol=1e-5, atol=1e-7)
    assert not torch.isclose(base, loss(logits, target), rtol=1e-3)  # (the band read as background: another loss)
    logits.requires_grad_(True)
    loss(logits, banded).backward()
    assert (logits.grad[..., BAND] == 0).all() and logits.grad[..., 16:].abs().sum() > 0


def test_the_combined_loss_of_a_photo_all_ignored_is_finite():
    logits, _ = _batch(2)
    total, parts = CombinedLoss({"bce": 1, "dice": 1, "focal": 1, "lovasz": 1})(logits, torch.full_like(logits, 255.0))
    assert torch.isfinite(total) and all(np.isfinite(v) for v in parts.values()), parts


# --------------------------------------------------------------------------------------------- the scores
def _scored_arrays(seed=0, shape=(24, 32)):
    rng = np.random.default_rng(seed)
    gt = np.zeros(shape, bool)
    gt[5:15, 3:25] = True
    prob = rng.random(shape).astype(np.float32)
    pred = prob > 0.6
    target = gt.astype(np.uint8)
    target[:, BAND] = IGNORE_VALUE
    return gt, target, prob, pred


def _cut(a):
    return np.delete(a, np.r_[BAND], axis=1)


def test_scores_of_a_target_count_its_ignored_pixels_nowhere():
    from drywallqa.engine.validator import threshold_sweep
    from drywallqa.metrics import (PixelScoreMeter, SegmentationMeter, centerline_counts, confusion,
                                   error_decomposition, fixed_width_oracle, label_and_valid, mask_iou)

    gt, target, prob, pred = _scored_arrays()
    label, valid = label_and_valid(target)
    assert np.array_equal(label, gt & (target != IGNORE_VALUE)) and np.array_equal(valid, target != IGNORE_VALUE)
    assert confusion(pred, label, valid) == confusion(_cut(pred), _cut(gt)) != confusion(pred, label)
    assert mask_iou(pred, label, valid) == mask_iou(_cut(pred), _cut(gt))
    assert (threshold_sweep(prob, label, None, valid) == threshold_sweep(_cut(prob), _cut(gt), None)).all()
    meters = [SegmentationMeter(), SegmentationMeter()]
    meters[0].update(pred, label, valid)
    meters[1].update(_cut(pred), _cut(gt))
    assert meters[0].compute() == meters[1].compute()
    pixels = [PixelScoreMeter(), PixelScoreMeter()]
    pixels[0].update(prob, label, valid)
    pixels[1].update(_cut(prob), _cut(gt))
    assert pixels[0].compute() == pixels[1].compute()
    # what lies in the band, predicted or not, changes no score (the centre-line and outline ones included)
    other = pred.copy()
    other[:, BAND] = ~other[:, BAND]
    for score in (confusion, mask_iou, error_decomposition):
        assert score(other, label, valid=valid) == score(pred, label, valid=valid), score
    assert centerline_counts(other, label, 1, valid=valid) == centerline_counts(pred, label, 1, valid=valid)
    assert (fixed_width_oracle(label, valid=valid) == fixed_width_oracle(label)).all()  # (its label is off the band)


def test_a_label_without_ignored_pixels_scores_as_before():
    """A bool label, or a target of 0 and 1 only, has no pixel to ignore; and a 0/255 mask given to the scores is its
    label, as before (no target: a target is read as one where its caller says so)."""
    from drywallqa.metrics import confusion, label_and_valid, mask_iou, valid_pixels

    gt, _, _, pred = _scored_arrays(1)
    for label in (gt, gt.astype(np.uint8)):
        got, valid = label_and_valid(label)
        assert valid is None and got.dtype == bool and np.array_equal(got, gt)
    tp = int(np.count_nonzero(pred & gt))
    assert confusion(pred, gt) == confusion(pred, gt.astype(np.uint8) * 255) == (tp, int(pred.sum()) - tp,
                                                                                 int(gt.sum()) - tp)
    assert mask_iou(pred, gt * np.uint8(255)) == mask_iou(pred, gt) > 0
    assert valid_pixels(torch.zeros(2, 1, 4, 4)) is None and valid_pixels(torch.full((1, 4), 255.0)).sum() == 0


class _RedMaps(Segmenter):
    """Every prompt's map: the photo's red channel / 255 (so a photo cut is its map cut)."""

    def decode(self, encoded, prompts, threshold=None, label_shape=None):
        prob = encoded.rgb[..., 0].astype(np.float32) / 255
        return SegmentationResult(masks={p: prob > 0.5 for p in prompts}, probabilities={p: prob for p in prompts})


def _photo_of(prob):
    return np.repeat(np.round(prob * 255).astype(np.uint8)[..., None], 3, axis=2)


def test_the_validator_scores_a_target_as_if_its_ignored_pixels_were_absent(crack_dataset):
    from drywallqa.engine.validator import Validator

    gt, target, prob, _ = _scored_arrays(2)
    image = _photo_of(prob)
    banded = Validator({crack_dataset: [(image, target)]}, options=False, targets=True)(_RedMaps())
    cut = Validator({crack_dataset: [(np.ascontiguousarray(_cut(image)), _cut(gt))]}, options=False)(_RedMaps())
    plain = Validator({crack_dataset: [(image, gt)]}, options=False)(_RedMaps())
    assert np.array_equal(banded.ious[crack_dataset], cut.ious[crack_dataset])
    assert not np.array_equal(banded.ious[crack_dataset], plain.ious[crack_dataset])


def _crack_mask(shape, band=True):
    """A 0/1/255 mask: a crack of class 1, a band of 255 'ignore' in the BAND columns (beside the crack)."""
    mask = np.zeros(shape, np.uint8)
    mask[5:15, 3:25] = 1
    if band:
        mask[:, BAND] = IGNORE_VALUE
    return mask


def banded_and_cut(tmp_path, prob, mask, dataset):
    """Two samples of ``dataset``: the photo of ``prob`` with its 0/1/255 ``mask`` ("banded"), and both with the
    band's columns cut out ("cut"), written under ``tmp_path``."""
    from drywallqa.data.sample import Sample

    samples = []
    for name, photo, label in (("banded", _photo_of(prob), mask), ("cut", _cut(_photo_of(prob)), _cut(mask))):
        Image.fromarray(np.ascontiguousarray(photo)).save(tmp_path / f"{name}.png")
        Image.fromarray(np.ascontiguousarray(label)).save(tmp_path / f"{name}_mask.png")
        samples.append(Sample(tmp_path / f"{name}.png", dataset, "t", *label.shape, mask_path=tmp_path / f"{name}_mask.png"))
    return samples


def test_evaluate_scores_a_mask_of_255_ignore_as_if_its_band_were_absent(tmp_path, crack_dataset):
    """A photo and its 0/1/255 mask, and the same photo and mask with the band's columns cut out, score alike."""
    from drywallqa.engine.evaluator import EvalSet, evaluate_set

    _, _, prob, _ = _scored_arrays(3)
    mask = _crack_mask(prob.shape)
    samples = banded_and_cut(tmp_path, prob, mask, crack_dataset)
    assert not (_cut(mask) == IGNORE_VALUE).any() and (samples[0].load_target() == IGNORE_VALUE).any()
    banded, cut = (evaluate_set(_RedMaps(), EvalSet("t", crack_dataset, [s]), [crack_dataset], progress=False,
                                keep=0, keep_worst=0) for s in samples)
    keys = ("mIoU", "mDice", "pooled_IoU", "precision", "recall", "pixel_AP", "pixel_F1max")
    assert [banded.rows[0][k] for k in keys] == [cut.rows[0][k] for k in keys], (banded.rows, cut.rows)
    for k in ("mIoU_best_single_threshold", "best_single_threshold", "mIoU_best_threshold_per_image"):
        assert banded.headroom[k] == cut.headroom[k], k
    assert banded.per_image[0]["iou"] == cut.per_image[0]["iou"]


# --------------------------------------------------------------------------------------------- the data
def test_the_array_cache_keeps_the_ignored_pixels(tmp_path):
    from drywallqa.data import cache
    from drywallqa.data.sample import Sample

    photo, mask_path = tmp_path / "a.png", tmp_path / "a_mask.png"
    Image.fromarray(np.full((24, 32, 3), 128, np.uint8)).save(photo)
    Image.fromarray(_crack_mask((24, 32))).save(mask_path)
    samples = [Sample(photo, "h237", "train", 24, 32, mask_path=mask_path)]
    first = cache.load_arrays(samples, 16, tmp_path / "cache")[1]
    again = cache.load_arrays(samples, 16, tmp_path / "cache")[1]  # from the file written
    assert len(list((tmp_path / "cache").glob("arrays_*.npz"))) == 1
    assert first.dtype == again.dtype == np.uint8 and np.array_equal(first, again)
    assert set(np.unique(first)) == {0, 1, IGNORE_VALUE} and (first[0][:, 4:6] == IGNORE_VALUE).all()  # (columns 8-11 of 32)
    want = cache.resize_target(_crack_mask((24, 32)), 16)
    assert np.array_equal(first[0], want)


def test_a_target_without_ignored_pixels_resizes_as_the_label_did():
    from drywallqa.data.cache import resize_mask, resize_target
    from drywallqa.data.sample import label_at_photo

    rng = np.random.default_rng(0)
    label = rng.random((50, 70)) > 0.6
    for size in (16, 33, 90):
        assert np.array_equal(resize_target(label.astype(np.uint8), size), resize_mask(label, size))
    assert np.array_equal(label_at_photo(label.astype(np.uint8), (25, 35, 3)), label_at_photo(label, (25, 35, 3)))
    banded = _crack_mask((24, 32))
    shrunk = label_at_photo(banded, (12, 16, 3))  # a shrunk copy's label, shrunk with its 'ignore'
    assert shrunk.shape == (12, 16) and set(np.unique(shrunk)) == {0, 1, IGNORE_VALUE}


def test_the_dataset_keeps_ignore_through_its_augmentation_and_transplants_the_label_alone(monkeypatch):
    from drywallqa.data import prompted
    from drywallqa.data.prompted import PromptedSegmentationDataset
    from drywallqa.data.transforms import train_transform

    images = np.full((3, 40, 40, 3), 120, np.uint8)
    masks = np.zeros((3, 40, 40), np.uint8)
    masks[0, 10:30, 18:22] = 1  # a crack with its 'ignore' band
    masks[0, 10:30, 14:18] = masks[0, 10:30, 22:26] = IGNORE_VALUE
    masks[1, 10:30, 14:26] = IGNORE_VALUE  # a band alone: no label, no source of transplants
    ds = PromptedSegmentationDataset(images, masks, [0, 0, 1], [["segment crack"], ["segment taping area"]],
                                     transform=train_transform(32), negative_ratio=0.0, composite_pairs=[(0, 1)],
                                     composite_ratio=2.0)
    assert list(ds._sources[0]) == [0]
    seen = set()
    for i in range(4):
        ds.seed_items([1, i])
        seen |= set(np.unique(ds[0]["mask"].numpy()).tolist())
    assert seen == {0.0, 1.0, float(IGNORE_VALUE)}, seen
    pasted = []
    monkeypatch.setattr(prompted, "transplant", lambda t, s, m, **kw: pasted.append(m.copy()) or t)
    for i in range(3, len(ds)):
        ds[i]
    assert pasted and all(m.dtype == bool for m in pasted)  # the label alone (its band was pasted as label: 255)


def banded_trainer(tmp_path, tiny_kwargs, monkeypatch):
    """A Trainer (cpu, 1 epoch, tiny model) of ``ign_masks``: a mask folder of 64 px photos whose 0/1/255 masks hold
    a dark 4 px crack inside a 20 px 'ignore' band (6 in train, 2 in valid, a group split 3:1), its data built."""
    from drywallqa.data.grouping import make_group_split
    from drywallqa.engine.config import TrainConfig
    from drywallqa.engine.trainer import Trainer
    from drywallqa.models.base import PromptedSegmentationModel

    root = tmp_path / "datasets"
    for split, n in (("train", 6), ("valid", 2)):
        folder = root / "ign" / split
        (folder / "_masks").mkdir(parents=True)
        rng = np.random.default_rng(n)
        for i in range(n):
            photo = rng.integers(90, 160, (64, 64, 3)).astype(np.uint8)
            mask = np.zeros((64, 64), np.uint8)
            mask[:, 20 + i:40 + i] = IGNORE_VALUE
            mask[:, 28 + i:32 + i] = 1
            photo[:, 28 + i:32 + i] = 30
            Image.fromarray(photo).save(folder / f"{split}{i}_jpg.rf.{i:032x}.jpg")
            Image.fromarray(mask).save(folder / "_masks" / f"{split}{i}_jpg.rf.{i:032x}.png")
    registry.register_dataset(DatasetConfig("ign_masks", "ign", ("segment crack",),
                                            {"train": SplitSource("mask_folder", "train"),
                                             "valid": SplitSource("mask_folder", "valid")}))
    make_group_split("ign_masks", root, {"train": 0.75, "val": 0.25}, seed=0).to_json(tmp_path / "splits" / "ign_masks.json")
    monkeypatch.setattr(PromptedSegmentationModel, "prompt_embeddings",  # the sentence encoder's load: seconds
                        lambda self, prompts, encoder: torch.zeros(len(prompts), self.config.text_dim))
    cfg = TrainConfig.from_dict({
        "model_config": {**tiny_kwargs, "text_dim": 384},
        "data": {"datasets": ["ign_masks"], "datasets_dir": str(root), "splits_dir": str(tmp_path / "splits"),
                 "cache_size": 72, "cache_dir": str(tmp_path / "cache"), "negative_ratio": 0.0,
                 "exclude_published": []},
        "optim": {"lr": 3e-3, "batch_size": 4, "epochs": 1, "warmup_steps": 0},
        "output_dir": str(tmp_path / "run"), "bf16": False, "device": "cpu"})
    trainer = Trainer(cfg, progress=False)
    trainer.build_data()
    return trainer


def test_a_train_step_on_a_mask_folder_of_0_1_255_masks_runs(tmp_path, tiny_kwargs, monkeypatch):
    trainer = banded_trainer(tmp_path, tiny_kwargs, monkeypatch)
    assert (trainer.train_set.masks == IGNORE_VALUE).any() and (trainer.val_masks == IGNORE_VALUE).any()
    trainer.setup()
    batch = next(iter(trainer._epoch_loader(0, 0)))
    assert (batch["mask"] == IGNORE_VALUE).any() and (batch["mask"] == 1).any()
    parts = trainer.train_step(batch)
    assert np.isfinite(parts["loss"]) and parts["loss"] < 10, parts
