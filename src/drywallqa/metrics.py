"""Mask metrics. Masks are bool arrays of one image's size; counts are pooled or averaged per image.

Convention: an image whose ground truth and prediction are both empty scores IoU = Dice = 1
(the model correctly found nothing); empty ground truth with a non-empty prediction scores 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def confusion(pred: np.ndarray, gt: np.ndarray) -> tuple[int, int, int]:
    """True positives, false positives, false negatives of two same-shape bool masks."""
    if pred.shape != gt.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ in shape")
    pred, gt = pred.astype(bool), gt.astype(bool)
    tp = int(np.count_nonzero(pred & gt))
    return tp, int(np.count_nonzero(pred)) - tp, int(np.count_nonzero(gt)) - tp


# the threshold grid swept on validation splits (trainer, scripts/ship_default_model.py)
THRESHOLDS = tuple(float(t) for t in np.round(np.arange(0.1, 0.91, 0.05), 2))


def mask_iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """IoU of two bool masks, with the module's convention (both empty -> 1)."""
    return iou_dice(*confusion(pred, gt))[0]


def iou_dice(tp: int, fp: int, fn: int) -> tuple[float, float]:
    if tp + fp + fn == 0:
        return 1.0, 1.0
    return tp / (tp + fp + fn), 2 * tp / (2 * tp + fp + fn)


@dataclass
class SegmentationMeter:
    """Accumulates per-image IoU/Dice and pooled counts over a split."""

    ious: list = field(default_factory=list)
    dices: list = field(default_factory=list)
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def update(self, pred: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
        tp, fp, fn = confusion(pred, gt)
        self.tp, self.fp, self.fn = self.tp + tp, self.fp + fp, self.fn + fn
        iou, dice = iou_dice(tp, fp, fn)
        self.ious.append(iou)
        self.dices.append(dice)
        return iou, dice

    def compute(self) -> dict:
        tp, fp, fn = self.tp, self.fp, self.fn
        return {
            "images": len(self.ious),
            "mIoU": float(np.mean(self.ious)) if self.ious else float("nan"),
            "mDice": float(np.mean(self.dices)) if self.dices else float("nan"),
            "pooled_IoU": tp / (tp + fp + fn) if tp + fp + fn else 1.0,
            "precision": tp / (tp + fp) if tp + fp else 1.0,
            "recall": tp / (tp + fn) if tp + fn else 1.0,
        }


@dataclass
class PixelScoreMeter:
    """Threshold-free pixel metrics from per-pixel scores in [0, 1]: average precision and F1-max.

    Scores are pooled over all images in ``bins`` equal-width bins (exact for scores that are
    multiples of 1/bins; otherwise a threshold grid of that resolution).
    """

    bins: int = 1000
    pos: np.ndarray = None
    neg: np.ndarray = None

    def __post_init__(self):
        self.pos = np.zeros(self.bins + 1, np.int64)
        self.neg = np.zeros(self.bins + 1, np.int64)

    def update(self, scores: np.ndarray, gt: np.ndarray) -> None:
        if scores.shape != gt.shape:
            raise ValueError(f"scores {scores.shape} and ground truth {gt.shape} differ in shape")
        idx = np.clip(np.rint(np.asarray(scores, np.float64) * self.bins), 0, self.bins).astype(np.int64)
        g = gt.astype(bool)
        self.pos += np.bincount(idx[g], minlength=self.bins + 1)
        self.neg += np.bincount(idx[~g], minlength=self.bins + 1)

    def compute(self) -> dict:
        # thresholds from high to low: predicted positive = score bin >= t
        tp = np.cumsum(self.pos[::-1])
        fp = np.cumsum(self.neg[::-1])
        total_pos = tp[-1]
        if total_pos == 0:
            return {"pixel_AP": float("nan"), "pixel_F1max": float("nan")}
        precision = tp / np.maximum(tp + fp, 1)
        recall = tp / total_pos
        d_recall = np.diff(np.concatenate([[0.0], recall]))
        ap = float(np.sum(precision * d_recall))
        f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
        return {"pixel_AP": ap, "pixel_F1max": float(f1.max())}


def image_auroc(scores, labels) -> float:
    """Area under the ROC curve of per-image scores against 0/1 labels (ties count one half)."""
    from scipy.stats import rankdata

    scores, labels = np.asarray(scores, np.float64), np.asarray(labels).astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
