"""Follow-ups of the 'ignore' value (255 in class-index masks): the Validator's labels and targets, and evaluate's
pictures of a label's 'ignore' band."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from drywallqa.utils.image_io import IGNORE_VALUE

from test_ignore_losses_and_scores import _RedMaps, _photo_of, _scored_arrays, banded_trainer


# --------------------------------------------------------------------------------------------- the validator
def test_a_0_255_mask_given_to_the_validator_scores_as_its_label(crack_dataset):
    """A Python caller's 0/255 uint8 mask (cv2.imread of a mask file) was read as a target: an empty label, every 255
    pixel 'ignore' (a photo of nothing to score, or a band scored nowhere). It scores as its label, as the bool mask
    does and as the metrics read it."""
    from drywallqa.engine.validator import Validator

    gt, _, prob, _ = _scored_arrays(2)
    image = _photo_of(prob)
    as_bool = Validator({crack_dataset: [(image, gt)]}, options=False)(_RedMaps())
    for label in (gt.astype(np.uint8) * 255, gt.astype(np.uint8)):
        read = Validator({crack_dataset: [(image, label)]}, options=False)(_RedMaps())
        assert np.array_equal(read.ious[crack_dataset], as_bool.ious[crack_dataset]), label.max()
        assert read.images[crack_dataset] == 1
    full = np.full(gt.shape, 255, np.uint8)  # a mask of crack everywhere: a photo scored, not one all 'ignore'
    assert Validator({crack_dataset: [(image, full)]}, options=False)(_RedMaps()).images[crack_dataset] == 1


def test_a_target_given_to_the_validator_as_a_label_is_refused_naming_it(crack_dataset):
    """A 0/1/255 target given without targets=True would have its band scored as the label: refused, naming it; with
    targets=True its band counts nowhere."""
    from drywallqa.engine.validator import Validator, threshold_sweep
    from drywallqa.metrics import label_and_valid

    gt, target, prob, _ = _scored_arrays(2)
    image = _photo_of(prob)
    with pytest.raises(ValueError, match=r"photo 2 \(counting from 1\) of dataset 'ign_cracks' holds 0, 1 and 255.*targets=True"):
        Validator({crack_dataset: [(image, gt), lambda: (image, target)]}, options=False)(_RedMaps())
    scored = Validator({crack_dataset: [(image, target)]}, options=False, targets=True)(_RedMaps())
    label, valid = label_and_valid(target)
    assert valid is not None and not valid.all()
    assert np.array_equal(scored.ious[crack_dataset][0],
                          threshold_sweep(image[..., 0].astype(np.float32) / 255, label, None, valid))


def test_the_trainers_validator_leaves_the_band_of_its_targets_out(tmp_path, tiny_kwargs, monkeypatch):
    """The trainer's val masks are targets (0/1/255, the array cache's): its validator counts their band nowhere."""
    from drywallqa.engine.validator import threshold_sweep
    from drywallqa.metrics import label_and_valid

    trainer = banded_trainer(tmp_path, tiny_kwargs, monkeypatch)
    assert (trainer.val_masks == IGNORE_VALUE).any() and (trainer.val_masks == 1).any()
    result = trainer.validator(_RedMaps())
    expected = []
    for image, target in zip(trainer.val_images, trainer.val_masks):
        label, valid = label_and_valid(target)
        expected.append(threshold_sweep(image[..., 0].astype(np.float32) / 255, label, None, valid))
    assert np.allclose(result.ious["ign_masks"][0], np.mean(expected, axis=0))


# --------------------------------------------------------------------------------------------- evaluate's pictures
def _error_map_before(image, pred, gt):
    """viz.error_map as it was (0.6.x), verbatim: a label of no 'ignore' pixel is drawn exactly so."""
    from drywallqa.metrics import error_masks
    from drywallqa.viz import ERROR_COLORS, overlay

    out = image
    for kind, mask in error_masks(pred, gt).items():
        out = overlay(out, mask, ERROR_COLORS[kind], alpha=0.7)
    return out


def _is_grey(pixels):
    return bool((pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all())


def test_the_error_map_hatches_the_ignored_band_grey_and_draws_no_error_there():
    from drywallqa.metrics import label_and_valid
    from drywallqa.viz import error_map

    from test_ignore_losses_and_scores import BAND

    gt, target, prob, pred = _scored_arrays(4)
    image = _photo_of(prob)
    assert np.array_equal(error_map(image, pred, gt), _error_map_before(image, pred, gt))
    label, valid = label_and_valid(target)
    before = _error_map_before(image, pred, label)
    assert not _is_grey(before[:, BAND])  # the band drawn as errors (a prediction there: spurious)
    drawn = error_map(image, pred, label, valid)
    assert _is_grey(drawn[:, BAND]) and not np.array_equal(drawn[:, BAND], image[:, BAND])  # hatched, not the photo


def _evaluate_pictures(tmp_path, monkeypatch, dataset, band):
    """evaluate of one photo (its 0/1 mask, with or without a band of 255): what worst.png was drawn of."""
    from drywallqa.data.sample import Sample
    from drywallqa.engine import evaluator as ev

    from test_ignore_losses_and_scores import _crack_mask

    _, _, prob, _ = _scored_arrays(3)
    folder = tmp_path / f"data_{band}"
    folder.mkdir()
    Image.fromarray(_photo_of(prob)).save(folder / "p.png")
    Image.fromarray(_crack_mask(prob.shape, band=band)).save(folder / "p_mask.png")
    sample = Sample(folder / "p.png", dataset, "valid", *prob.shape, mask_path=folder / "p_mask.png")
    monkeypatch.setattr(ev, "build_eval_sets", lambda *a, **k: [ev.EvalSet("published valid", dataset, [sample])])
    monkeypatch.setattr(ev, "photos_held", lambda *a, **k: {})
    drawn = {}
    monkeypatch.setattr(ev, "grid", lambda rows, titles, path, **k: drawn.setdefault(Path(path).name, (rows, titles)))
    ev.evaluate(_RedMaps(), tmp_path / f"out_{band}", [dataset], which="published", speed_images=0, progress=False)
    return drawn["worst.png"], sample


def test_worst_png_draws_a_labels_ignored_band_as_ignored_and_other_photos_as_before(tmp_path, monkeypatch,
                                                                                       crack_dataset):
    """worst.png's error map drew a label's 'ignore' band as errors (spurious where the map lights it up) that the IoU
    beside it does not count: it is hatched grey, named in the legend. A photo of no 'ignore' pixel is drawn as
    before (the same arrays, the same legend)."""
    from drywallqa.engine import evaluator as ev
    from drywallqa.metrics import error_masks, label_and_valid

    from test_ignore_losses_and_scores import BAND

    (rows, titles), sample = _evaluate_pictures(tmp_path, monkeypatch, crack_dataset, band=False)
    image, gt_cell, pred_cell, errors, _ = rows[0]
    gt = sample.load_mask()
    pred = image[..., 0].astype(np.float32) / 255 > 0.5
    assert titles[3] == ev.ERROR_LEGEND and "ignored" not in titles[3]
    assert np.array_equal(errors, _error_map_before(image, pred, gt))

    (rows, titles), sample = _evaluate_pictures(tmp_path, monkeypatch, crack_dataset, band=True)
    image, _, _, errors, _ = rows[0]
    assert titles[3] == ev.ERROR_LEGEND + "\ngrey hatched: ignored (255 in the mask)"
    assert _is_grey(errors[:, BAND]) and not np.array_equal(errors[:, BAND], image[:, BAND])
    label, valid = label_and_valid(sample.load_target())
    outside = np.ones(image.shape[1], bool)
    outside[BAND] = False
    drawn_error = ~np.all(errors == image, axis=-1)  # tinted: an error kind, or the hatch
    kinds = np.any(list(error_masks(pred, label, valid=valid).values()), axis=0)
    assert np.array_equal(drawn_error[:, outside], kinds[:, outside])  # the errors the IoU counts, and only those
