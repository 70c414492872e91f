"""report.html (and results.csv) of a batch job: what it says of a mask file gone since the job, the digits of the
values a QA rule judged."""

import json

import numpy as np
from PIL import Image

from drywallqa.engine.batch_report import write_batch_report
from drywallqa.measures import mask_measures


def _job(tmp_path, mm_per_px=None, rows=4):
    """A batch output folder by hand: one photo, a crack mask (a band ``rows`` px wide) and an empty taping mask."""
    out = tmp_path / "out"
    out.mkdir()
    prompts = ["segment crack", "segment taping area"]
    Image.fromarray(np.full((200, 400, 3), 128, np.uint8)).save(tmp_path / "wall.jpg")
    entry = {"image": str(tmp_path / "wall.jpg"), "height": 200, "width": 400, "prompts": {}}
    for p, slug in zip(prompts, ("segment_crack", "segment_taping_area")):
        mask = np.zeros((200, 400), bool)
        if slug == "segment_crack":
            mask[100:100 + rows, 20:380] = True
        Image.fromarray(mask.astype(np.uint8) * 255).save(out / f"wall__{slug}.png")
        entry["prompts"][p] = {"mask": f"wall__{slug}.png", **mask_measures(mask, mm_per_px)}
    (out / "results.json").write_text(json.dumps({"prompts": prompts, "images": [entry], "failed": []}))
    return out


def test_a_deleted_or_unreadable_mask_is_named_and_the_photo_still_shown(tmp_path):
    """A mask file deleted (or spoilt) after the job made the report say "photo not readable", with no picture,
    although the photo was fine: now the photo is shown (its other masks tinted) and the mask file named."""
    out = _job(tmp_path)
    (out / "wall__segment_crack.png").unlink()
    page = write_batch_report(out).read_text()
    assert "photo not readable" not in page
    assert 'src="./report_files/wall.jpg"' in page and (out / "report_files" / "wall.jpg").is_file()
    assert "segment crack: its mask file wall__segment_crack.png is missing" in page
    (out / "wall__segment_taping_area.png").write_bytes(b"not a png")
    page = write_batch_report(out).read_text()
    assert "photo not readable" not in page and 'src="./report_files/wall.jpg"' in page
    assert "wall__segment_taping_area.png is not readable" in page


def test_a_thumbnail_drawn_without_a_mask_is_drawn_again_when_it_is_back(tmp_path):
    """The thumbnail drawn while a mask was gone is newer than the mask put back (a copy keeping its time): it must
    not be kept as if the mask were tinted on it."""
    import os
    import shutil

    out = _job(tmp_path, rows=40)
    crack = out / "wall__segment_crack.png"
    shutil.move(crack, tmp_path / "kept.png")
    write_batch_report(out)
    shutil.copy2(tmp_path / "kept.png", crack)
    os.utime(crack, (1e9, 1e9))
    page = write_batch_report(out).read_text()
    assert "missing" not in page
    pixel = np.asarray(Image.open(out / "report_files" / "wall.jpg"))[int(0.6 * 180), 180]
    assert pixel[0] > pixel[1] + 40  # the crack tinted red again
