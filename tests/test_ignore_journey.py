"""A mask folder of 0/1/255 masks walked through every command that reads labels: the 255 band ('ignore')
is treated as docs/data.md says by each (left out of the scores; shown as no label)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from drywallqa.engine.segmenter import SegmentationResult, Segmenter
from drywallqa.utils.image_io import IGNORE_VALUE

BAND = slice(8, 12)  # the columns of the 'ignore' band


class _AllCrack(Segmenter):
    """Every prompt's map: crack everywhere (so the band is predicted as crack)."""

    def decode(self, encoded, prompts, threshold=None, label_shape=None):
        prob = np.full(encoded.rgb.shape[:2], 0.9, np.float32)
        return SegmentationResult(masks={p: prob > 0.5 for p in prompts}, probabilities={p: prob for p in prompts})


def _banded_sample(tmp_path, dataset, shape=(24, 32)):
    from drywallqa.data.sample import Sample

    photo = np.full((*shape, 3), 128, np.uint8)
    mask = np.zeros(shape, np.uint8)
    mask[5:15, 3:25] = 1
    mask[:, BAND] = IGNORE_VALUE
    Image.fromarray(photo).save(tmp_path / "p.png")
    Image.fromarray(mask).save(tmp_path / "p_mask.png")
    return Sample(tmp_path / "p.png", dataset, "t", *shape, mask_path=tmp_path / "p_mask.png"), photo, mask


def test_worst_png_draws_no_error_where_the_label_is_ignore(tmp_path, crack_dataset, monkeypatch):
    """evaluate's worst.png tinted the band's pixels as errors (outline too wide / spurious) where every score counts
    them nowhere: its errors panel draws them grey (hatched), in no error's colour."""
    from drywallqa.engine import evaluator
    from drywallqa.engine.evaluator import EvalSet

    sample, photo, mask = _banded_sample(tmp_path, crack_dataset)
    monkeypatch.setattr(evaluator, "build_eval_sets", lambda *a, **k: [EvalSet("t", crack_dataset, [sample])])
    monkeypatch.setattr(evaluator, "photos_held", lambda *a, **k: {})
    drawn = {}
    monkeypatch.setattr(evaluator, "grid", lambda rows, columns, path, **k: drawn.setdefault(path.name, rows))
    out = tmp_path / "ev"
    out.mkdir()
    evaluator._evaluate(_AllCrack(), out, (crack_dataset,), ("published",), None, None, None, 0, None, False)
    errors = drawn["worst.png"][0][3]
    ignored, background = mask == IGNORE_VALUE, mask == 0
    band = errors[ignored].astype(int)
    assert (band[:, 0] == band[:, 1]).all() and (band[:, 1] == band[:, 2]).all()  # grey (hatched): no error colour
    assert not np.array_equal(errors[background], photo[background])  # the spurious crack elsewhere still is


def test_data_stats_preview_shows_the_ignore_band_apart_from_label_and_background(tmp_path, crack_dataset, monkeypatch):
    """data stats --preview drew a 0/1/255 mask's band as background: a user could not see whether the band was
    read as 'ignore', label or background -> tinted in a colour of its own, the column's title naming it."""
    from drywallqa.data import stats

    sample, photo, mask = _banded_sample(tmp_path, crack_dataset)
    monkeypatch.setattr(stats, "load_all_splits", lambda *a, **k: ([sample], []))
    drawn = {}
    monkeypatch.setattr("drywallqa.viz.grid", lambda rows, titles, path, **k: drawn.update(rows=rows, titles=titles))
    assert stats.preview(crack_dataset, tmp_path / "p.png") == 1
    truth = drawn["rows"][0][1]
    band, label, background = (mask == IGNORE_VALUE), (mask == 1), (mask == 0)
    assert np.array_equal(truth[background], photo[background])
    assert (truth[label][:, 1] > truth[label][:, 0]).all()  # the label green
    assert len(np.unique(truth[band], axis=0)) == 1  # one colour over the band (the photo is one grey)
    assert not np.array_equal(truth[band][0], photo[band][0]) and not np.array_equal(truth[band][0], truth[label][0])
    assert "'ignore'" in drawn["titles"][1]


def test_the_large_photos_benchmark_scores_no_ignore_pixel(tmp_path, crack_dataset, load_script):
    """benchmarks/large_photos.py read the labels with load_mask: the band scored as background (the crack found
    over it spurious), where evaluate counts it nowhere."""
    import cv2

    lp = load_script("large_photos", "benchmarks")
    sample, _, mask = _banded_sample(tmp_path, crack_dataset)
    rows, _, _ = lp.run_modes({"whole photo": _AllCrack()}, {crack_dataset: [sample]}, 1)
    target = cv2.resize(mask, (640, 640), interpolation=cv2.INTER_NEAREST)  # the mosaic's one tile
    assert rows[0]["mIoU"] == pytest.approx((target == 1).sum() / (target != IGNORE_VALUE).sum())


def test_the_prompt_gate_benchmark_scores_no_ignore_pixel(tmp_path, crack_dataset, load_script, monkeypatch):
    """benchmarks/prompt_gate.py read the labels with photo_and_label's plain label: the band scored as background."""
    pg = load_script("prompt_gate", "benchmarks")
    sample, _, mask = _banded_sample(tmp_path, crack_dataset)
    monkeypatch.setattr(pg, "DATASETS", (crack_dataset,))
    monkeypatch.setattr(pg, "load_split", lambda *a, **k: ([sample], []))
    monkeypatch.setattr(pg.Segmenter, "load", staticmethod(lambda *a, **k: _AllCrack()))
    monkeypatch.setattr(pg.vocabulary, "unrelated", lambda *a, **k: ["segment a cat"])
    monkeypatch.setattr(pg.vocabulary, "paraphrases", lambda *a, **k: [])
    report = pg.run(None, None, 0)
    canon = report["datasets"][crack_dataset]["canonical_mIoU"]
    assert canon == pytest.approx((mask == 1).sum() / (mask != IGNORE_VALUE).sum())


def test_a_bundle_of_a_config_outside_the_repository_trains_there_without_it(write_train_config, tiny_kwargs,
                                                                            tmp_path, load_script, monkeypatch):
    """gpu_run.py bundle of a config outside the repository (a dataset of 0/1/255 masks and its config in /tmp)
    named the config by its path here, which no device machine has: `train` there stopped in a FileNotFoundError
    traceback -> the bundle carries the config's text."""
    gpu_run = load_script("gpu_run")
    config = write_train_config("film_unet", tiny_kwargs)
    monkeypatch.chdir(config.parent)
    gpu_run.bundle(Path(config.name), tmp_path / "bundle", size=48)
    config.rename(config.with_suffix(".gone"))  # not on the device machine
    import drywallqa.engine.trainer as trainer

    class Stop(Exception):
        pass

    def stub(cfg):
        raise Stop(cfg)

    monkeypatch.setattr(trainer, "Trainer", stub)
    with pytest.raises(Stop) as got:
        gpu_run.train(tmp_path / "bundle", tmp_path / "OUT")
    assert got.value.args[0].data.datasets_dir == str(tmp_path / "bundle" / "pack" / "chunk0" / "datasets")


def test_evaluate_pictures_show_the_ignore_band_in_their_ground_truth(tmp_path, crack_dataset, monkeypatch):
    """examples.png and worst.png drew the band as background in their ground truth (the errors panel leaving it
    blank, unexplained) -> tinted as data stats --preview tints it, the column's title naming it."""
    from drywallqa.engine import evaluator
    from drywallqa.engine.evaluator import EvalSet

    sample, photo, mask = _banded_sample(tmp_path, crack_dataset)
    monkeypatch.setattr(evaluator, "build_eval_sets",
                        lambda *a, **k: [EvalSet("published valid", crack_dataset, [sample])])
    monkeypatch.setattr(evaluator, "photos_held", lambda *a, **k: {})
    drawn = {}
    monkeypatch.setattr(evaluator, "grid", lambda rows, titles, path, **k: drawn.setdefault(path.name, (rows, titles)))
    out = tmp_path / "ev"
    out.mkdir()
    evaluator._evaluate(_AllCrack(), out, (crack_dataset,), ("published",), None, None, None, 0, None, False)
    band, label = mask == IGNORE_VALUE, mask == 1
    for picture in ("examples.png", "worst.png"):
        rows, titles = drawn[picture]
        truth = rows[0][1]
        assert len(np.unique(truth[band], axis=0)) == 1, picture
        assert not np.array_equal(truth[band][0], photo[band][0]) and not np.array_equal(truth[band][0], truth[label][0])
        assert "'ignore'" in titles[1], picture
