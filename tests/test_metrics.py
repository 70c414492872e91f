import numpy as np
import pytest

from drywallqa.metrics import SegmentationMeter, confusion, iou_dice, mask_iou


def test_known_iou_and_dice():
    gt = np.zeros((10, 10), bool)
    gt[:, :5] = True          # 50 px
    pred = np.zeros((10, 10), bool)
    pred[:, 2:7] = True       # 50 px, 30 overlap
    tp, fp, fn = confusion(pred, gt)
    assert (tp, fp, fn) == (30, 20, 20)
    iou, dice = iou_dice(tp, fp, fn)
    assert iou == pytest.approx(30 / 70) and dice == pytest.approx(60 / 100)


def test_empty_conventions_and_pooling():
    m = SegmentationMeter()
    empty = np.zeros((4, 4), bool)
    full = np.ones((4, 4), bool)
    assert m.update(empty, empty) == (1.0, 1.0)     # both empty: perfect
    assert m.update(full, empty) == (0.0, 0.0)      # false alarm on an empty image
    half = np.zeros((4, 4), bool)
    half[:2] = True
    m.update(half, full)                            # IoU 0.5
    r = m.compute()
    assert r["images"] == 3
    assert r["mIoU"] == pytest.approx((1 + 0 + 0.5) / 3)
    # pooled: tp 8, fp 16, fn 8
    assert r["pooled_IoU"] == pytest.approx(8 / 32)
    assert r["precision"] == pytest.approx(8 / 24) and r["recall"] == pytest.approx(8 / 16)


def test_pooled_precision_and_recall_are_undefined_not_one_where_nothing_was_marked():
    nothing, empty, full = SegmentationMeter(), np.zeros((4, 4), bool), np.ones((4, 4), bool)
    nothing.update(empty, full)                     # the model marks nothing on a labelled image
    r = nothing.compute()
    assert r["precision"] is None and r["recall"] == 0.0 and r["pooled_IoU"] == 0.0
    unlabelled = SegmentationMeter()
    unlabelled.update(full, empty)                  # a split with no labelled pixel
    r = unlabelled.compute()
    assert r["recall"] is None and r["precision"] == 0.0


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shape"):
        confusion(np.zeros((2, 2), bool), np.zeros((3, 3), bool))


def test_pixel_ap_and_f1max_on_hand_made_scores():
    from drywallqa.metrics import PixelScoreMeter

    # 4 pixels: scores 0.9 (pos), 0.8 (neg), 0.7 (pos), 0.1 (neg)
    m = PixelScoreMeter(bins=10)
    m.update(np.array([[0.9, 0.8], [0.7, 0.1]]), np.array([[1, 0], [1, 0]], bool))
    r = m.compute()
    # ranking pos, neg, pos, neg: AP = 1 * 1/2 + (2/3) * 1/2
    assert r["pixel_AP"] == pytest.approx(0.5 + 1 / 3)
    # best F1: threshold 0.7 -> P 2/3, R 1 -> F1 0.8
    assert r["pixel_F1max"] == pytest.approx(0.8)
    perfect = PixelScoreMeter()
    perfect.update(np.array([0.9, 0.2, 0.95]), np.array([1, 0, 1], bool))
    assert perfect.compute() == {"pixel_AP": 1.0, "pixel_F1max": 1.0}


def test_image_auroc_known_values():
    from drywallqa.metrics import image_auroc

    assert image_auroc([0.9, 0.8, 0.3, 0.1], [1, 1, 0, 0]) == 1.0
    assert image_auroc([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0]) == 0.0
    assert image_auroc([0.5, 0.5], [1, 0]) == 0.5
    # 1 pos at 0.6 vs negs 0.4, 0.7 -> beats one of two
    assert image_auroc([0.6, 0.4, 0.7], [1, 0, 0]) == pytest.approx(0.5)
    assert np.isnan(image_auroc([0.3], [1]))


def test_centerline_scores_ignore_stroke_width_but_not_position():
    from drywallqa.metrics import CenterlineMeter, centerline_counts, centerline_f1

    gt = np.zeros((64, 64), bool)
    gt[:, 24:40] = True                      # a wide band
    thin = np.zeros_like(gt)
    thin[:, 31:33] = True                    # its centre line drawn thin: low IoU, full centre-line agreement
    assert mask_iou(thin, gt) == pytest.approx(2 / 16)
    precision, recall, f1 = centerline_f1(*centerline_counts(thin, gt))
    assert precision == 1.0 and recall > 0.9 and f1 > 0.95
    beside = np.zeros_like(gt)
    beside[:, 50:52] = True                  # a line beside the band: no agreement, unless the tolerance reaches it
    assert centerline_f1(*centerline_counts(beside, gt))[2] == 0.0
    assert centerline_f1(*centerline_counts(beside, gt, tolerance_px=12))[0] == 1.0
    assert centerline_f1(0, 0, 0, 0) == (1.0, 1.0, 1.0)            # both empty
    assert centerline_f1(*centerline_counts(np.zeros_like(gt), gt)) == (0.0, 0.0, 0.0)
    meter = CenterlineMeter(tolerance=0.0)
    meter.update(thin, gt)
    meter.update(np.zeros_like(gt), np.zeros_like(gt))
    out = meter.compute()
    assert out["centerline_precision"] == 1.0 and out["centerline_F1"] > 0.97
    blind = CenterlineMeter(tolerance=0.0)
    blind.update(np.zeros_like(gt), gt)             # no centre line predicted in the split: precision undefined
    assert blind.compute()["centerline_precision"] is None and blind.compute()["centerline_recall"] == 0.0


def test_fixed_width_oracle_finds_the_label_width():
    from drywallqa.metrics import fixed_width_oracle

    gt = np.zeros((200, 200), bool)
    gt[20:180, 96:105] = True                # a 9-px stroke: half-width 4 px = 0.02 of the shorter side
    ious = fixed_width_oracle(gt, widths=(0.005, 0.02, 0.05))
    assert ious.argmax() == 1 and ious[1] > 0.9 and ious[0] < 0.5 and ious[2] < 0.5
    np.testing.assert_array_equal(fixed_width_oracle(np.zeros((10, 10), bool), widths=(0.1, 0.2)), [1.0, 1.0])


def test_bootstrap_interval_and_groups():
    from drywallqa.metrics import bootstrap_ci

    assert bootstrap_ci([0.4] * 30) == pytest.approx((0.4, 0.4))
    rng = np.random.default_rng(0)
    values = rng.random(300)
    lo, hi = bootstrap_ci(values)
    assert lo < values.mean() < hi and 0.04 < hi - lo < 0.10           # about 4 standard errors wide
    assert bootstrap_ci(values) == (lo, hi)                             # seeded
    # 4 copies of each of 75 photos: resampling images pretends to 300 draws, resampling photos to 75
    copies, photo = np.repeat(values[:75], 4), np.repeat(np.arange(75), 4)
    narrow, wide = bootstrap_ci(copies), bootstrap_ci(copies, photo)
    assert (wide[1] - wide[0]) > 1.6 * (narrow[1] - narrow[0])
    assert np.isnan(bootstrap_ci([])[0])


def test_error_decomposition_on_hand_made_masks():
    from drywallqa.metrics import error_decomposition

    # 200x200, band 0.025 -> 5 px. GT: one bar of rows 50..59 over columns 20..179 (1,600 px) plus a
    # missed blob far from the prediction; prediction: the bar 2 rows too low (its outline differs) plus a
    # spurious blob far from the ground truth.
    gt = np.zeros((200, 200), bool)
    gt[50:60, 20:180] = True
    gt[150:160, 20:30] = True        # missed region: 100 px
    pred = np.zeros((200, 200), bool)
    pred[52:62, 20:180] = True       # 320 px boundary FP (rows 60-61), 320 px boundary FN (rows 50-51)
    pred[150:160, 150:170] = True    # spurious region: 200 px
    e = error_decomposition(pred, gt)
    assert (e["tp"], e["fp_boundary"], e["fp_region"], e["fn_boundary"], e["fn_region"]) == (1280, 320, 200, 320, 100)
    assert e["iou_boundary_only"] == pytest.approx((1280 + 100) / (1280 + 100 + 640))
    assert e["iou_without_spurious"] == pytest.approx(1280 / (1280 + 320 + 320 + 100))
    assert e["iou_without_missed"] == pytest.approx((1280 + 100) / (1280 + 100 + 320 + 200 + 320))
    assert mask_iou(pred, gt) < e["iou_without_spurious"] < e["iou_boundary_only"]
    # both empty -> 1; a prediction whose only errors are outline errors scores the same IoU either way
    empty = np.zeros((8, 8), bool)
    assert error_decomposition(empty, empty)["iou_boundary_only"] == 1.0
    shifted = np.roll(gt, 1, axis=0)
    e = error_decomposition(shifted, gt)
    assert e["fp_region"] == e["fn_region"] == 0 and e["iou_boundary_only"] == pytest.approx(mask_iou(shifted, gt))
    with pytest.raises(ValueError, match="shape"):
        error_decomposition(pred, gt[:10])


def test_growing_a_mask_by_a_large_radius_is_a_euclidean_disk():
    import cv2

    from drywallqa.metrics import _within

    m = np.zeros((201, 201), bool)
    m[100, 100] = True
    yy, xx = np.mgrid[:201, :201]
    disk = (yy - 100) ** 2 + (xx - 100) ** 2 <= 40**2
    assert np.array_equal(_within(m, 40), disk)          # distance-transform path (radius > 32)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (81, 81))
    dilated = cv2.dilate(m.astype(np.uint8), kernel).astype(bool)
    assert (dilated ^ disk).sum() < 0.02 * disk.sum()     # the small-radius path's kernel: nearly the same disk
    assert np.array_equal(_within(m, 5), cv2.dilate(m.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (11, 11))).astype(bool))
