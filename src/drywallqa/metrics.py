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
