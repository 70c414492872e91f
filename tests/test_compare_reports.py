"""benchmarks/compare_reports.py: paired comparison of two models' per-image reports."""

import csv
import re

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


def test_pool_of_a_split_only_old_holds_is_a_clear_error(tmp_path, load_script):
    """NEW without B made an "A + B" row of A's images only: OLD's splits alone were checked."""
    cmp = load_script("compare_reports", "benchmarks")
    old = _write(tmp_path / "old", _rows("A", [0.5, 0.5]) + _rows("B", [0.7, 0.7]))
    new = _write(tmp_path / "new", _rows("A", [0.6, 0.6]))
    with pytest.raises(SystemExit, match=r"NEW report does not hold: \['B'\]"):
        cmp.compare(old, new, pool=["A", "B"])
    with pytest.raises(SystemExit, match=r"OLD report does not hold: \['B'\]"):
        cmp.compare(new, old, pool=["A", "B"])
    # both hold B, but not for one dataset and prompt: no pooled row of A alone for it
    old = _write(tmp_path / "old2", _rows("A", [0.5, 0.5]) + _rows("B", [0.7, 0.7])
                 + [("A", "cracks", "/d/x.jpg", "segment crack", 0.3), ("B", "cracks", "/d/y.jpg", "segment crack", 0.3)])
    new = _write(tmp_path / "new2", _rows("A", [0.6, 0.6]) + _rows("B", [0.7, 0.7])
                 + [("A", "cracks", "/d/x.jpg", "segment crack", 0.4)])
    with pytest.raises(SystemExit, match=r"for cracks / 'segment crack' the OLD report holds \['A', 'B'\] and the NEW "
                                         r"report \['A'\]"):
        cmp.compare(old, new, pool=["A", "B"])
    # neither holds B for cracks (a dataset without that part): the other pooled rows are still made
    new = _write(tmp_path / "new3", _rows("A", [0.6, 0.6]) + _rows("B", [0.7, 0.7])
                 + [("A", "cracks", "/d/x.jpg", "segment crack", 0.4)])
    old = _write(tmp_path / "old3", _rows("A", [0.5, 0.5]) + _rows("B", [0.7, 0.7])
                 + [("A", "cracks", "/d/x.jpg", "segment crack", 0.3)])
    pooled = [r for r in cmp.compare(old, new, pool=["A", "B"]) if r["split"] == "A + B"]
    assert [r["dataset"] for r in pooled] == [_rows("A", [0.5])[0][1]]


@pytest.mark.parametrize("text, says", [
    ("split,dataset,prompt,image,iou\nA,taping,segment taping area,/d/a.jpg,0.6\nA,taping,segment ta",
     "per_image.csv, line 3: fewer fields"),
    ("split,dataset,prompt,image,score\nA,taping,segment taping area,/d/a.jpg,0.6\n", "per_image.csv: no column iou"),
    ("split,dataset,prompt,image,iou\nA,taping,segment taping area,/d/a.jpg,high\n", "line 2: iou 'high' is not a number"),
    ("split,dataset,prompt,image,iou\nA,taping,segment taping area,/d/a.jpg,nan\n", "line 2: iou 'nan' is not a number"),
    ("", "per_image.csv: no column split"),
    ("split,dataset,prompt,image,iou\nA,taping,segment taping area,/d/a.jpg,0.6\nA,taping,segment taping area,/d/b.jpg,0.2\n"
     "A,taping,segment taping area,/d/a.jpg,0.1\n", "line 4: /d/a.jpg is listed again for A / taping / 'segment taping "
     "area' (first on line 2)"),
], ids=["cut short", "no iou column", "a word", "nan", "empty", "an image twice"])
def test_a_damaged_per_image_csv_is_a_clear_error_naming_it(tmp_path, load_script, text, says):
    """A truncated file gave a TypeError traceback, one without an iou column a KeyError."""
    cmp = load_script("compare_reports", "benchmarks")
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "per_image.csv").write_text(text)
    with pytest.raises(SystemExit, match=re.escape(says)) as exc:
        cmp.read_ious(tmp_path / "r")
    assert str(tmp_path / "r" / "per_image.csv") in str(exc.value)


def test_out_that_is_a_file_is_refused_before_reading(tmp_path, load_script, monkeypatch, capsys):
    """--out naming an existing file raised FileExistsError from mkdir; the reports are written whole."""
    import json
    import sys

    cmp = load_script("compare_reports", "benchmarks")
    old = _write(tmp_path / "old", _rows("A", [0.5, 0.5]))
    new = _write(tmp_path / "new", _rows("A", [0.6, 0.6]))
    (tmp_path / "taken").write_text("mine")
    monkeypatch.setattr(sys, "argv", ["compare_reports.py", str(old), str(new), "--out", str(tmp_path / "taken")])
    with pytest.raises(SystemExit) as exc:
        cmp.main()
    assert exc.value.code == 2 and "is a file; give a folder" in capsys.readouterr().err
    assert (tmp_path / "taken").read_text() == "mine"
    monkeypatch.setattr(sys, "argv", ["compare_reports.py", str(old), str(new), "--out", str(tmp_path / "cmp")])
    cmp.main()
    assert json.loads((tmp_path / "cmp" / "compare.json").read_text())["rows"][0]["images"] == 2
    assert sorted(p.name for p in (tmp_path / "cmp").iterdir()) == ["compare.json", "compare.md"]  # no temporary left


def test_a_per_image_csv_saved_with_a_byte_order_mark_is_read(tmp_path, load_script):
    """A table saved again by a spreadsheet (UTF-8 with a byte-order mark) was refused: "no column split (its header:
    \\ufeffsplit, ...)"."""
    cmp = load_script("compare_reports", "benchmarks")
    for name, iou in (("old", "0.5"), ("new", "0.7")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "per_image.csv").write_bytes(
            f"split,dataset,prompt,image,iou\r\nA,taping,segment taping area,/d/a.jpg,{iou}\r\n".encode("utf-8-sig"))
    [row] = cmp.compare(tmp_path / "old", tmp_path / "new")
    assert row["split"] == "A" and row["difference"] == pytest.approx(0.2)


@pytest.mark.parametrize("pool", ["A,A", "A", "A,,B", "A, A"])
def test_a_pool_of_one_split_or_a_split_twice_is_refused(pool, tmp_path, load_script, monkeypatch, capsys):
    """--pool "A,A" (or "A") wrote an "A + A" row of A's images, said to pool two splits."""
    import sys

    cmp = load_script("compare_reports", "benchmarks")
    old = _write(tmp_path / "old", _rows("A", [0.5, 0.5]) + _rows("B", [0.7, 0.7]))
    new = _write(tmp_path / "new", _rows("A", [0.6, 0.6]) + _rows("B", [0.7, 0.7]))
    monkeypatch.setattr(sys, "argv", ["compare_reports.py", str(old), str(new), "--out", str(tmp_path / "cmp"),
                                      "--pool", pool])
    with pytest.raises(SystemExit) as exc:
        cmp.main()
    assert exc.value.code == 2 and "two or more different splits" in capsys.readouterr().err
    assert not (tmp_path / "cmp").exists()
