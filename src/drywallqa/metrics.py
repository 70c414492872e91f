"""Mask metrics. Masks are bool arrays of one image's size; counts are pooled or averaged per image. Where the
ground truth has pixels to ignore (a *target*'s :data:`~drywallqa.utils.image_io.IGNORE_VALUE`: a mask's 255 beside
class indices, :meth:`~drywallqa.data.sample.Sample.load_target`), the scores take ``valid``
(:func:`valid_pixels`): the pixels outside it count nowhere, as if absent from both masks (:func:`scored`).

Convention: an image whose ground truth and prediction are both empty scores IoU = Dice = 1
(the model correctly found nothing); empty ground truth with a non-empty prediction scores 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .utils.image_io import IGNORE_VALUE


def valid_pixels(target):
    """Where a target (a numpy array or a torch tensor: 1 the label, 0 background, :data:`IGNORE_VALUE` 'ignore') is
    counted: a bool array of its shape, or None where it is everywhere (a bool label, a target of no ignored pixel).
    Only for targets: a 0/255 mask is no target (its 255 is its label)."""
    if target.dtype == bool:
        return None
    valid = target != IGNORE_VALUE
    return None if bool(valid.all()) else valid


def nothing_to_score(valid) -> bool:
    """Whether a target's ``valid`` (:func:`valid_pixels`) leaves no pixel to count (every pixel 'ignore': a VOC mask
    all 'void'): the photo is scored as if absent, left out (both masks empty within nothing scored IoU 1, a perfect
    photo)."""
    return valid is not None and not valid.any()


def label_and_valid(target) -> tuple[np.ndarray, np.ndarray | None]:
    """A target's label, ``(H, W)`` bool (its 1s; a bool label as it is), and where it is counted
    (:func:`valid_pixels`), for the scores' ``gt`` and ``valid``."""
    return (target if target.dtype == bool else target == 1), valid_pixels(target)


def scored(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(pred, gt)`` as bool masks, the pixels outside ``valid`` (where given: :func:`valid_pixels`) off in both, so
    that no count (true or false positive, false negative) holds them."""
    if pred.shape != gt.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ in shape")
    pred, gt = pred.astype(bool), gt.astype(bool)
    if valid is not None:
        pred, gt = pred & valid, gt & valid
    return pred, gt


def confusion(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None = None) -> tuple[int, int, int]:
    """True positives, false positives, false negatives of two same-shape bool masks (within ``valid``, where given:
    :func:`scored`)."""
    pred, gt = scored(pred, gt, valid)
    tp = int(np.count_nonzero(pred & gt))
    return tp, int(np.count_nonzero(pred)) - tp, int(np.count_nonzero(gt)) - tp


# the threshold grid swept on validation splits (engine.validator: training, evaluate, ship)
THRESHOLDS = tuple(float(t) for t in np.round(np.arange(0.1, 0.91, 0.05), 2))


def mask_iou(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None = None) -> float:
    """IoU of two bool masks (within ``valid``, where given), with the module's convention (both empty -> 1)."""
    return iou_dice(*confusion(pred, gt, valid))[0]


def iou_dice(tp: int, fp: int, fn: int) -> tuple[float, float]:
    if tp + fp + fn == 0:
        return 1.0, 1.0
    return tp / (tp + fp + fn), 2 * tp / (2 * tp + fp + fn)


@dataclass
class SegmentationMeter:
    """Accumulates per-image IoU/Dice and pooled counts over a split.

    Pooled precision is None where nothing was predicted in the whole split and recall where nothing was labelled
    (undefined, not 1: a model that marks nothing has no precision to report); pooled IoU of all-empty masks is 1,
    as for one image (:func:`iou_dice`).
    """

    ious: list = field(default_factory=list)
    dices: list = field(default_factory=list)
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def update(self, pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None = None) -> tuple[float, float]:
        tp, fp, fn = confusion(pred, gt, valid)
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
            "precision": tp / (tp + fp) if tp + fp else None,  # undefined: no pixel predicted in the whole split
            "recall": tp / (tp + fn) if tp + fn else None,  # undefined: no pixel labelled in the whole split
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

    def update(self, scores: np.ndarray, gt: np.ndarray, valid: np.ndarray | None = None) -> None:
        """Pools one image's ``scores`` against its ``gt`` (the pixels within ``valid`` alone, where given)."""
        if scores.shape != gt.shape:
            raise ValueError(f"scores {scores.shape} and ground truth {gt.shape} differ in shape")
        if valid is not None:
            scores, gt = scores[valid], gt[valid]
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


# Centre-line agreement: width-insensitive scores for thin structures (cracks), after clDice
# (Shit et al., CVPR 2021) with a tolerance. Annotators draw the same crack at very different widths, so
# IoU mixes "found the crack" with "matched the annotator's width"; these scores keep only the first.

CENTERLINE_TOLERANCE = 0.005  # fraction of the image's shorter side (3.2 px at 640x640)


def _within(mask: np.ndarray, radius: int) -> np.ndarray:
    """``mask`` grown by ``radius`` px (a disk); the mask itself when ``radius`` < 1. Radii above 32 px (large
    photos) use a Euclidean distance transform, whose cost does not grow with the radius (a 75 px disk on a
    12-megapixel mask: 0.06 s instead of 1.2 s); below, a dilation with OpenCV's elliptic kernel."""
    import cv2

    m = mask.astype(np.uint8)
    if radius < 1:
        return m.astype(bool)
    if radius > 32:
        return cv2.distanceTransform(1 - m, cv2.DIST_L2, cv2.DIST_MASK_PRECISE) <= radius
    return cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))).astype(bool)


def skeleton(mask: np.ndarray) -> np.ndarray:
    """``(H, W)`` bool 1-px centre lines of a bool mask (scikit-image's skeletonize)."""
    from skimage.morphology import skeletonize

    return skeletonize(mask.astype(bool)) if mask.any() else np.zeros(mask.shape, bool)


def centerline_counts(pred: np.ndarray, gt: np.ndarray, tolerance_px: int = 0, gt_skeleton: np.ndarray | None = None,
                      valid: np.ndarray | None = None) -> tuple[int, int, int, int]:
    """``(hit_pred, n_pred, hit_gt, n_gt)``: predicted skeleton pixels within ``tolerance_px`` of the
    ground-truth mask, and ground-truth skeleton pixels within ``tolerance_px`` of the predicted mask.
    ``gt_skeleton``: :func:`skeleton` of ``gt``, when the caller already has it. ``valid``: the masks within it alone
    (:func:`scored`)."""
    pred, gt = scored(pred, gt, valid)
    sp, sg = skeleton(pred), (skeleton(gt) if gt_skeleton is None else gt_skeleton)
    return (int(np.count_nonzero(sp & _within(gt, tolerance_px))), int(np.count_nonzero(sp)),
            int(np.count_nonzero(sg & _within(pred, tolerance_px))), int(np.count_nonzero(sg)))


def centerline_f1(hit_pred: int, n_pred: int, hit_gt: int, n_gt: int) -> tuple[float, float, float]:
    """Centre-line precision, recall and F1 (= clDice at tolerance 0); both empty -> 1, one empty -> 0."""
    if n_pred == 0 and n_gt == 0:
        return 1.0, 1.0, 1.0
    precision = hit_pred / n_pred if n_pred else 0.0
    recall = hit_gt / n_gt if n_gt else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


@dataclass
class CenterlineMeter:
    """Per-image centre-line F1 and pooled centre-line precision/recall over a split (None where undefined: no
    centre line predicted, or none labelled, in the whole split).

    The tolerance is ``tolerance`` times the shorter side of each image, rounded to whole pixels.
    """

    tolerance: float = CENTERLINE_TOLERANCE
    f1s: list = field(default_factory=list)
    counts: np.ndarray = field(default_factory=lambda: np.zeros(4, np.int64))

    def update(self, pred: np.ndarray, gt: np.ndarray, gt_skeleton: np.ndarray | None = None,
               valid: np.ndarray | None = None) -> float:
        c = centerline_counts(pred, gt, int(round(self.tolerance * min(gt.shape[:2]))), gt_skeleton, valid)
        self.counts += c
        f1 = centerline_f1(*c)[2]
        self.f1s.append(f1)
        return f1

    def compute(self) -> dict:
        hit_pred, n_pred, hit_gt, n_gt = (int(x) for x in self.counts)
        return {"centerline_tolerance": self.tolerance,
                "centerline_F1": float(np.mean(self.f1s)) if self.f1s else float("nan"),
                "centerline_precision": hit_pred / n_pred if n_pred else None,  # None: no centre line predicted
                "centerline_recall": hit_gt / n_gt if n_gt else None}  # None: no centre line labelled


# widths tried by the fixed-width oracle, as fractions of the image's shorter side (1.3 to 26 px at 640)
ORACLE_WIDTHS = (0.002, 0.004, 0.006, 0.008, 0.01, 0.0125, 0.015, 0.02, 0.025, 0.03, 0.04)


def fixed_width_oracle(gt: np.ndarray, widths=ORACLE_WIDTHS, gt_skeleton: np.ndarray | None = None,
                       valid: np.ndarray | None = None) -> np.ndarray:
    """``(len(widths),)`` IoU against ``gt`` of its own skeleton grown to each half-width (a fraction of the
    shorter side). A diagnostic of the labels, not of a model: a prediction that has the exact centre line
    of the annotation but one stroke width for all images cannot score more than the best column's mean. (Within
    ``valid``, where given.)"""
    gt = scored(gt, gt, valid)[1]
    if not gt.any():
        return np.ones(len(widths))
    skel = skeleton(gt) if gt_skeleton is None else gt_skeleton
    side = min(gt.shape[:2])
    return np.array([mask_iou(_within(skel, max(1, int(round(w * side)))), gt, valid) for w in widths])


# Where a mask's errors lie (a diagnostic): an error pixel within this fraction of the image's shorter side
# (16 px at 640x640) of the other mask is a *boundary* error (the region was found, its outline differs);
# farther away it is a *region* error (a spurious region, or a region missed altogether).
BOUNDARY_BAND = 0.025
ERROR_KINDS = ("tp", "fp_boundary", "fp_region", "fn_boundary", "fn_region")


def error_masks(pred: np.ndarray, gt: np.ndarray, band: float = BOUNDARY_BAND,
                valid: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """``ERROR_KINDS`` -> ``(H, W)`` bool masks (disjoint; their union is ``pred | gt``) for two same-shape
    bool masks (within ``valid``, where given: :func:`scored`), the boundary band being ``band`` times the shorter
    side (at least 1 px)."""
    pred, gt = scored(pred, gt, valid)
    radius = max(1, int(round(band * min(gt.shape[:2]))))
    near_gt, near_pred = _within(gt, radius), _within(pred, radius)
    return {"tp": pred & gt, "fp_boundary": pred & ~gt & near_gt, "fp_region": pred & ~near_gt,
            "fn_boundary": gt & ~pred & near_pred, "fn_region": gt & ~near_pred}


def error_decomposition(pred: np.ndarray, gt: np.ndarray, band: float = BOUNDARY_BAND,
                        valid: np.ndarray | None = None) -> dict:
    """Pixel counts of :func:`error_masks`, and the IoU the prediction would have if some errors were
    fixed: ``iou_without_spurious`` (region false positives removed), ``iou_without_missed`` (missed
    regions found exactly) and ``iou_boundary_only`` (both), i.e. what outline disagreement alone costs.
    Both masks empty -> every IoU 1 (the module's convention)."""
    n = {k: int(np.count_nonzero(m)) for k, m in error_masks(pred, gt, band, valid).items()}
    tp, fpb, fpr, fnb, fnr = (n[k] for k in ERROR_KINDS)
    n.update(iou_without_spurious=iou_dice(tp, fpb, fnb + fnr)[0], iou_without_missed=iou_dice(tp + fnr, fpb + fpr, fnb)[0],
             iou_boundary_only=iou_dice(tp + fnr, fpb, fnb)[0])
    return n


def bootstrap_ci(values, groups=None, n_resamples: int = 1000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-image ``values``.

    With ``groups`` (one label per value, e.g. the source photo), whole groups are resampled, so copies
    of one photo count as one draw and the interval is not made narrower by them. Seeded: the same
    inputs give the same interval. Undefined, ``(nan, nan)``, for fewer than two draws (no value, or one photo and its
    copies): each resample is that photo again, and the interval of no width it gave read as a certain score.
    """
    values = np.asarray(values, np.float64)
    if values.size == 0:
        return float("nan"), float("nan")
    labels = np.arange(values.size) if groups is None else np.unique(np.asarray(groups), return_inverse=True)[1]
    sums = np.bincount(labels, weights=values)
    if sums.size < 2:
        return float("nan"), float("nan")
    counts = np.bincount(labels).astype(np.float64)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, sums.size, size=(n_resamples, sums.size))
    means = sums[draws].sum(1) / counts[draws].sum(1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


KEEP_FRACTIONS = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)


def confidence_ranking(confidence, iou, fractions=KEEP_FRACTIONS) -> dict:
    """How well per-mask confidences rank the masks by their true IoU.

    Returns:
        ``spearman`` (rank correlation of confidence and IoU; NaN where every confidence or every IoU is
        the same, or for fewer than three masks, which always correlate perfectly), ``kept`` (``{fraction: mIoU}`` of the
        ``fraction`` most confident masks), ``oracle_kept`` (the same ranked by the true IoU: the best any
        confidence could do), ``gain_at_80`` (``kept[0.8] - kept[1.0]``) and ``masks``. Masks of equal
        confidence at a cut count with their mean IoU (the expected mIoU of any order among them, as Spearman
        gives them their mean rank), not in the order they were listed; a NaN confidence ranks last.
    """
    from scipy.stats import spearmanr

    c, y = np.asarray(confidence, np.float64), np.asarray(iou, np.float64)
    if len(c) != len(y) or not len(c):
        raise ValueError(f"need as many confidences as IoUs, at least one; got {len(c)} and {len(y)}")

    def top(keys, fraction):
        keys = np.where(np.isnan(keys), -np.inf, keys)
        k = max(1, int(round(fraction * len(keys))))
        cut = np.sort(keys)[::-1][k - 1]  # the confidence of the k-th most confident mask
        above, tied = keys > cut, keys == cut  # of the masks tied at the cut, k - above.sum() are kept
        return float((y[above].sum() + (k - above.sum()) * y[tied].mean()) / k)

    kept = {f: top(c, f) for f in fractions}
    rho = float(spearmanr(c, y).statistic) if len(c) > 2 and np.ptp(c) > 0 and np.ptp(y) > 0 else float("nan")
    return {"spearman": rho, "kept": kept, "oracle_kept": {f: top(y, f) for f in fractions},
            "gain_at_80": top(c, 0.8) - top(c, 1.0), "masks": len(c)}
