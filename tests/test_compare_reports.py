"""benchmarks/compare_reports.py: paired comparison of two models' per-image reports."""

import csv

import pytest

FIELDS = ["split", "dataset", "image", "prompt", "iou"]


def _write(folder, rows):
    folder.mkdir()
    with (folder / "per_image.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, FIELDS)
        w.writeheader()
        w.writerows(dict(zip(FIELDS, r)) for r in rows)
    return folder


def _rows(split, ious, extra=()):
    """Two Roboflow copies per source photo: images a.rf.1 and a.rf.2 share the source ``a``."""
    return [(split, "taping", f"/d/{split}/{chr(97 + i // 2)}.rf.{i}.jpg", "segment taping area", iou) for i, iou in enumerate(ious)] + list(extra)


def test_paired_difference_interval_and_pool(tmp_path, load_script):
    cmp = load_script("compare_reports", "benchmarks")
    old = _write(tmp_path / "old", _rows("val", [0.5, 0.5, 0.6, 0.6, 0.7, 0.7]) + _rows("group-clean test", [0.4, 0.4])
                 + [("val", "cracks", "/d/x.jpg", "segment crack", 0.3)])   # only in OLD: not paired
    new = _write(tmp_path / "new", _rows("val", [0.6, 0.6, 0.6, 0.6, 0.9, 0.9]) + _rows("group-clean test", [0.3, 0.3]))
    rows = {r["split"]: r for r in cmp.compare(old, new, pool=["val", "group-clean test"])}
    assert set(rows) == {"val", "group-clean test", "val + group-clean test"}
    val = rows["val"]
    assert val["images"] == 6 and val["old_mIoU"] == pytest.approx(0.6) and val["new_mIoU"] == pytest.approx(0.7)
    assert val["difference"] == pytest.approx(0.1)
    assert (val["new_better"], val["new_worse"]) == (4, 0)
    lo, hi = val["difference_ci95"]
    # whole source photos are resampled: their mean differences are 0.1, 0.0 and 0.2
    assert 0.0 <= lo < 0.1 < hi <= 0.2 + 1e-9
    pooled = rows["val + group-clean test"]
    assert pooled["images"] == 8 and pooled["difference"] == pytest.approx((0.6 - 0.2) / 8)
    assert rows["group-clean test"]["new_worse"] == 2
    md = cmp.to_markdown(list(rows.values()), old, new)
    assert "| val | taping | segment taping area | 6 | 0.600 | 0.700 | +0.100 |" in md


def test_pool_of_an_unknown_split_is_a_clear_error(tmp_path, load_script):
    cmp = load_script("compare_reports", "benchmarks")
    old = _write(tmp_path / "old", _rows("val", [0.5, 0.5]))
    new = _write(tmp_path / "new", _rows("val", [0.6, 0.6]))
    with pytest.raises(SystemExit, match="published valid"):
        cmp.compare(old, new, pool=["val", "published valid"])
    with pytest.raises(SystemExit, match="per_image.csv"):
        cmp.read_ious(tmp_path)
