import numpy as np
import pytest

from drywallqa.metrics import SegmentationMeter, confusion, iou_dice


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


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shape"):
        confusion(np.zeros((2, 2), bool), np.zeros((3, 3), bool))
