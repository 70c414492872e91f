"""The output files of ``drywallqa predict`` against each other: masks, overlays, the grid, the COCO file, the table."""

import gc
import json
import weakref

from PIL import Image

from drywallqa import Segmenter
from drywallqa.data.coco_export import write_coco_predictions
from drywallqa.engine import batch
from drywallqa.engine.batch import predict_paths

from conftest import write_photos


def test_a_job_with_overlays_keeps_the_grids_rows_only(tiny_model_dir, tmp_path, monkeypatch):
    """Each photo's overlay row (the photo once per prompt and once more) was kept to the end of the job, in the grid's
    list and in its thread's future, though the grid shows 12: 1,000 3-MP photos of two prompts held some 27 GB. Now
    the grid's rows only."""
    monkeypatch.setattr(batch, "GRID_ROWS", 2)
    panels, alive = [], []
    real_process, real_finish = batch.process_image, batch.finish_job

    def process(*args, **kwargs):
        entry, row = real_process(*args, **kwargs)
        panels.append(weakref.ref(row[1]))
        return entry, row

    def finish(summary, opts, rows, *args, **kwargs):
        gc.collect()
        alive.append(sum(p() is not None for p in panels))
        return real_finish(summary, opts, rows, *args, **kwargs)

    monkeypatch.setattr(batch, "process_image", process)
    monkeypatch.setattr(batch, "finish_job", finish)
    photos = write_photos(tmp_path / "photos", 6)
    summary = predict_paths(Segmenter.load(tiny_model_dir), [photos], ["segment crack"], tmp_path / "out",
                            progress=False, overlay_images=True)
    assert len(summary.done) == 6 and len(panels) == 6
    assert alive[0] <= 3  # the grid's two, and at most the last one in hand (all 6 were)


def test_a_mask_written_over_at_another_size_is_named_not_put_in_the_coco_file(tiny_model_dir, tmp_path):
    """A mask saved again at half its photo's size after the job (a tool's export): write_coco_predictions coded its
    regions at that size's coordinates on the photo (polygons in its top-left quarter, RLEs of another size), without
    a word. Now it is listed in ``masks_not_read`` with both sizes, as an unreadable mask is."""
    photos = write_photos(tmp_path / "photos", 2)
    out = tmp_path / "out"
    predict_paths(Segmenter.load(tiny_model_dir), [photos], ["segment crack"], out, progress=False)
    half = Image.new("L", (26, 20), 255)
    half.save(out / "p0__segment_crack.png")
    for segmentation in ("polygon", "rle"):
        coco = json.loads(write_coco_predictions(out, segmentation).read_text())
        assert [img["file_name"] for img in coco["images"]] == ["p0.jpg", "p1.jpg"]
        assert {a["image_id"] for a in coco["annotations"]} <= {2}  # none for p0
        (why,) = coco["info"]["masks_not_read"]
        assert "p0.jpg 'segment crack'" in why and "26x20 px where the photo is 52x40" in why


def test_a_resumed_jobs_overlay_grid_is_the_uninterrupted_jobs_with_each_row_named(tiny_model_dir, tmp_path,
                                                                                    monkeypatch):
    """overlay_grid.png of a job run again after a stop showed the photos it segmented first, then those done before
    (p2, p3, p0, p1), where the job run through showed p0 to p3; and no row said which photo it was. Now both show
    the first photos as results.json lists them, each row labelled with its photo's name."""
    import numpy as np

    labels = []
    real_grid = batch.grid

    def grid(rows, titles, path, **kwargs):
        labels.append(kwargs.get("row_labels"))
        return real_grid(rows, titles, path, **kwargs)

    monkeypatch.setattr(batch, "grid", grid)
    photos = write_photos(tmp_path / "photos", 4)
    seg = Segmenter.load(tiny_model_dir)
    predict_paths(seg, [photos], ["segment crack"], tmp_path / "through", progress=False, overlay_images=True)
    predict_paths(seg, [photos / "p0.jpg", photos / "p1.jpg"], ["segment crack"], tmp_path / "stopped",
                  progress=False, overlay_images=True)
    again = predict_paths(seg, [photos], ["segment crack"], tmp_path / "stopped", progress=False, overlay_images=True)
    assert again.done == [str(photos / "p2.jpg"), str(photos / "p3.jpg")] and len(again.skipped) == 2
    grids = [np.asarray(Image.open(tmp_path / out / "overlay_grid.png")) for out in ("through", "stopped")]
    assert np.array_equal(*grids)
    assert labels[0] == labels[2] == ["p0.jpg", "p1.jpg", "p2.jpg", "p3.jpg"]
    assert batch._grid_label("a\nb.jpg") == "a\\nb.jpg" and len(batch._grid_label("x" * 200 + ".jpg")) == 40
