"""Batch jobs that stop half-way or share a folder: every photo gets an answer, no file is left half-written."""

import io

import numpy as np
import pytest
from PIL import Image

from drywallqa import Segmenter
from drywallqa.engine.batch import predict_paths


@pytest.fixture
def photos(tmp_path):
    d = tmp_path / "photos"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (40, 52, 3), dtype=np.uint8)).save(d / f"p{i}.jpg")
    return d


def test_a_report_killed_while_writing_a_thumbnail_leaves_none_half_written(tiny_model_dir, photos, tmp_path, monkeypatch):
    """A thumbnail is written whole or not at all: a half one would be newer than its masks, so kept by every later
    report."""
    from drywallqa.engine.batch_report import write_batch_report

    out = tmp_path / "out"
    predict_paths(Segmenter.load(tiny_model_dir), [photos], ["segment crack"], out, progress=False)

    class Killed(BaseException):
        pass

    save = Image.Image.save

    def killed_half_way(self, fp, format=None, **params):
        if (format or str(fp).rsplit(".", 1)[-1]).upper() not in ("JPEG", "JPG"):
            return save(self, fp, format, **params)
        buf = io.BytesIO()
        save(self, buf, "JPEG", **params)
        with open(fp, "wb") as f:
            f.write(buf.getvalue()[:200])
        raise Killed

    monkeypatch.setattr(Image.Image, "save", killed_half_way)
    with pytest.raises(Killed):
        write_batch_report(out)
    monkeypatch.setattr(Image.Image, "save", save)
    write_batch_report(out)
    thumbs = sorted((out / "report_files").glob("*.jpg"))
    assert len(thumbs) == 3
    for t in thumbs:
        with Image.open(t) as im:
            im.load()  # a cut JPEG raises here
    assert not [f for f in (out / "report_files").iterdir() if f.name.endswith(".tmp")]
