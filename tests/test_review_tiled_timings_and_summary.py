"""Review of the answer's schema, a tiled result's timings, a resumed job's summary and the COCO names."""

import time
from pathlib import Path

import numpy as np
from PIL import Image

from drywallqa import Segmenter
from drywallqa.engine import segmenter as segmenter_module


def test_a_tiled_result_s_read_ms_counts_reading_the_photo(tiny_model_dir, tmp_path, monkeypatch):
    """d3c6607 summed the tiles' stages: read_ms was their crops' conversions only (17.8 ms for a 3 MP PNG whose
    reading took 750 ms untiled), and total_ms began after the photo was read. Now the photo's read is counted once
    in read_ms and in total_ms, as an untiled result's read_ms counts it."""
    path = tmp_path / "wall.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(path)
    read = segmenter_module.to_rgb_array

    def slow_read(image, *args, **kwargs):  # reading the file (not an array: a tile's crop) takes 0.3 s at least
        if isinstance(image, (str, Path)):
            time.sleep(0.3)
        return read(image, *args, **kwargs)

    monkeypatch.setattr(segmenter_module, "to_rgb_array", slow_read)
    result = Segmenter.load(tiny_model_dir, tile=32).predict(path, ["segment crack"])
    t = result.timings_ms
    assert result.tiles > 1 and t["read_ms"] >= 300, t
    assert t["total_ms"] >= t["read_ms"] + t["encode_ms"] + t["decode_ms"], t


def test_a_summary_s_repr_counts_the_photos_measured_again():
    """816be68 added BatchSummary.remeasured, but its repr (counts of each list) left it out: a notebook's summary of
    a resumed job said skipped=3 and nothing of the 2 measured again. Now it counts them, where there are any."""
    from drywallqa.engine.batch import BatchSummary

    why = "QA measures version 9 -> 11"
    summary = BatchSummary(skipped=["a.jpg", "b.jpg", "c.jpg"], remeasured=[("a.jpg", why), ("b.jpg", why)])
    assert "remeasured=2" in repr(summary), repr(summary)
    assert "remeasured" not in repr(BatchSummary(skipped=["a.jpg"])), repr(BatchSummary(skipped=["a.jpg"]))


def test_a_photo_replaced_meanwhile_is_not_counted_as_measured_again(tiny_model_dir, tmp_path, monkeypatch):
    """A photo skipped and measured again, whose record another job (other prompts) replaced before this one listed
    it, failed as replaced meanwhile and left skipped, but stayed in BatchSummary.remeasured: '1 skipped (done
    before), 2 of them measured again'. Now it leaves remeasured too."""
    import json

    from drywallqa.engine import batch
    from drywallqa.engine.batch import REPLACED_MEANWHILE, predict_paths, remeasured_said
    from drywallqa.measures import MEASURES_VERSION

    from conftest import write_photos

    photos, out = write_photos(tmp_path / "photos", 2, shape=lambda i: (40, 56)), tmp_path / "out"
    seg = Segmenter.load(tiny_model_dir)
    predict_paths(seg, [photos], ["segment crack"], out, progress=False)
    records = sorted(out.glob("*__results.json"))
    for record in records:
        record.write_text(json.dumps({**json.loads(record.read_text()), "measures_version": 9}))
    real = batch._other_jobs

    def another_job_meanwhile(summary, opts):  # another job, of other prompts, writes the first photo's record
        entry = json.loads(records[0].read_text())
        other = {"segment taping area": entry["prompts"]["segment crack"]}
        records[0].write_text(json.dumps({**entry, "prompts": other}))
        return real(summary, opts)

    monkeypatch.setattr(batch, "_other_jobs", another_job_meanwhile)
    summary = predict_paths(seg, [photos], ["segment crack"], out, progress=False)
    assert [why for _, why in summary.failed] == [REPLACED_MEANWHILE] and len(summary.skipped) == 1, summary
    assert len(summary.remeasured) == 1 and summary.remeasured[0][0] in summary.skipped, summary.remeasured
    assert remeasured_said(summary) == f", 1 of them measured again (QA measures version 9 -> {MEASURES_VERSION})"
