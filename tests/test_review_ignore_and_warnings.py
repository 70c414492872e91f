"""Adversarial review of the 255 'ignore' value, plugin losses, runtimes/pipelines, --out refusal, RGBA/TIFF
reading and the own-data warnings (78e192d..)."""

from __future__ import annotations

import numpy as np
import pytest


def test_a_packed_mask_keeps_its_ignore_pixels_as_training_reads_them(tmp_path, load_script):
    """Training reads a mask's 255 'ignore' (beside class indices, a VOC palette's void) as a target value since
    8ac3219 (Sample.load_target: counted in no loss), but the pack (scripts/pack_training_images.py, 603d168) wrote
    Sample.load_mask, 'ignore' as no label, as a black and white PNG: the GPU run the pack is for trained the band as
    background, where a run here leaves it out. The packed mask reads back as the same target."""
    from PIL import Image

    from drywallqa.data.sample import Sample
    from drywallqa.utils.image_io import IGNORE_VALUE, VOC_PALETTE, read_target

    encoded = load_script("pack_training_images")._encoded
    photo = tmp_path / "a.png"
    Image.fromarray(np.full((32, 48, 3), 128, np.uint8)).save(photo)
    grey = np.zeros((32, 48), np.uint8)
    grey[6:26, 6:42] = IGNORE_VALUE  # a wide band of 'ignore' around a thin crack: the class share rule of a grey
    grey[15:17, 10:38] = 1  # mask would not read it so again
    palette = Image.fromarray(grey, mode="P")
    palette.putpalette([v for colour in VOC_PALETTE for v in colour])
    for name, mask in (("grey", Image.fromarray(np.where(grey == 1, 2, grey).astype(np.uint8))), ("voc", palette)):
        mask_path = tmp_path / f"{name}.png"
        mask.save(mask_path)
        want = read_target(mask_path)
        assert (want == IGNORE_VALUE).any() and (want == 1).sum() == 56, name
        sample = Sample(photo, "h246", "train", 32, 48, mask_path=mask_path)
        for size in (64, 24):  # as it is, and shrunk
            files = encoded(sample, tmp_path / "out" / "a.webp", size, 80)
            packed = tmp_path / f"packed_{name}_{size}.png"
            packed.write_bytes(files[1][1])
            got = read_target(packed)
            expected = want if size >= 48 else np.asarray(Image.fromarray(want).resize(got.shape[::-1], Image.NEAREST))
            assert got.shape == expected.shape and (got == expected).all(), (name, size, np.unique(got))


def test_a_packed_mask_of_no_ignore_is_black_and_white_as_before(tmp_path, load_script):
    """A mask of no 'ignore' (every shipped dataset's) is packed as it was: a black and white PNG of its label."""
    from PIL import Image

    from drywallqa.data.sample import Sample

    encoded = load_script("pack_training_images")._encoded
    photo, mask_path = tmp_path / "a.png", tmp_path / "m.png"
    Image.fromarray(np.full((32, 48, 3), 128, np.uint8)).save(photo)
    label = np.zeros((32, 48), np.uint8)
    label[8:20, 10:30] = 255
    Image.fromarray(label).save(mask_path)
    files = encoded(Sample(photo, "h246", "train", 32, 48, mask_path=mask_path), tmp_path / "out" / "a.webp", 64, 80)
    packed = tmp_path / "packed.png"
    packed.write_bytes(files[1][1])
    with Image.open(packed) as img:
        assert img.mode == "L" and (np.asarray(img) == label).all()


def test_a_warning_said_once_is_not_spent_where_it_was_held_back(tmp_path, names, monkeypatch, caplog):
    """ship and calibrate-confidence read the val parts quietly first (val_photos_trained_on: warnings_held_back),
    and the parent-category warning is said once a dataset (9c8ef73): the quiet reading spent its once, so the
    command's own reading of the dataset said it nowhere. A warning held back is said by the next reading."""
    import json
    import logging

    from drywallqa.data.sample import load_split
    from drywallqa.engine import shipping

    from test_own_data_corners import _declare, _roboflow_export

    _roboflow_export(tmp_path, "rf_h246")
    config = _declare(tmp_path, names, "rf_h246", {"train": "coco", "valid": "coco"}, categories=["crack"])
    monkeypatch.setattr(shipping, "samples_of_part", lambda d, *a, **k: load_split(config, "valid")[0])
    model = tmp_path / "model"
    model.mkdir()
    (model / "train_files.json").write_text(json.dumps({"train": [["rf_h246/train/a.jpg"]]}))
    with caplog.at_level(logging.WARNING):
        shipping.val_photos_trained_on(model, ["rf_h246"], None, None)
        assert not [r for r in caplog.records if "parent category" in r.getMessage()]  # held back there
        load_split(config, "valid")  # the command's own reading
        load_split(config, "train")
    said = [r.getMessage() for r in caplog.records if "parent category" in r.getMessage()]
    assert len(said) == 1 and "categories: 'crack' is a parent category" in said[0], said


def test_two_datasets_naming_one_category_id_are_not_called_labels_of_one_thing(tmp_path, names):
    """alike_concepts (train, data stats) called two datasets 'labels of one thing' where their YAML files' categories:
    share a name, and a category is given by its id as well (categories: [1], read as '1'): two exports of their own
    projects, each of its class id 1 (a crack, a stain), were told to be one concept (which asks neither of the other
    as negatives). An id is no name of a thing; names shared still are."""
    from drywallqa.data.negatives import alike_concepts

    from test_own_data_corners import _declare

    def two(tag, a, b):
        return [_declare(tmp_path, names, f"{tag}_crack", {"train": "coco"}, categories=a, prompts=["segment crack"]),
                _declare(tmp_path, names, f"{tag}_stain", {"train": "coco"}, categories=b,
                         prompts=["segment water stain"])]

    assert alike_concepts(two("ids", [1], [1])) == []
    assert alike_concepts(two("idt", ["1"], ["1"])) == []
    said = alike_concepts(two("named", ["defect"], ["defect"]))
    assert len(said) == 1 and "categories: both read 'defect'" in said[0], said
    one_file = [_declare(tmp_path, names, f"one_{k}", {"train": "coco"}, folder="export", categories=[1],
                         prompts=[prompt]) for k, prompt in (("a", "segment crack"), ("b", "segment water stain"))]
    assert len(alike_concepts(one_file)) == 1  # one export's id 1: one category of one file


def _all_ignored(shape):
    from drywallqa.utils.image_io import IGNORE_VALUE

    return np.full(shape, IGNORE_VALUE, np.uint8)


def test_a_photo_whose_every_pixel_is_ignore_scores_as_if_absent_in_validation(crack_dataset):
    """A target of no pixel to count (a VOC mask all 'void'; the validator's scores leave 'ignore' out 'as if absent')
    scored IoU 1 at every threshold (both masks empty within nothing): a perfect photo, the val mIoU raised by it.
    It is left out of the scores, as if absent."""
    from drywallqa.engine.validator import Validator

    from test_ignore_losses_and_scores import _RedMaps, _photo_of, _scored_arrays

    gt, _, prob, _ = _scored_arrays(2)
    image = _photo_of(prob)
    alone = Validator({crack_dataset: [(image, gt)]}, options=False)(_RedMaps())
    with_it = Validator({crack_dataset: [(image, gt), (image, _all_ignored(gt.shape))]}, options=False,
                       targets=True)(_RedMaps())
    assert np.array_equal(with_it.ious[crack_dataset], alone.ious[crack_dataset]), (with_it.ious, alone.ious)
    assert with_it.images[crack_dataset] == 1


def test_a_photo_whose_every_pixel_is_ignore_is_no_perfect_photo_of_evaluate(tmp_path, crack_dataset):
    """evaluate scored a photo whose label is 'ignore' everywhere as IoU 1 (mIoU, its threshold sweep, the error
    decomposition): it is left out, named in a warning of the set."""
    from PIL import Image

    from drywallqa.data.sample import Sample
    from drywallqa.engine import evaluator as ev
    from drywallqa.engine.evaluator import EvalSet, evaluate_set
    from drywallqa.utils.image_io import VOC_PALETTE

    from test_ignore_losses_and_scores import _RedMaps, _crack_mask, _photo_of, _scored_arrays

    _, _, prob, _ = _scored_arrays(3)
    samples = []
    for name, label in (("scored", _crack_mask(prob.shape, band=False)), ("void", _all_ignored(prob.shape))):
        Image.fromarray(_photo_of(prob)).save(tmp_path / f"{name}.png")
        mask = Image.fromarray(label, mode="P")
        mask.putpalette([v for colour in VOC_PALETTE for v in colour])
        mask.save(tmp_path / f"{name}_mask.png")
        samples.append(Sample(tmp_path / f"{name}.png", crack_dataset, "t", *label.shape,
                              mask_path=tmp_path / f"{name}_mask.png"))
    assert (samples[1].load_target() == 255).all()
    alone, with_it = (evaluate_set(_RedMaps(), EvalSet("t", crack_dataset, s), [crack_dataset], progress=False,
                                   keep=0, keep_worst=0) for s in (samples[:1], samples))
    keys = ("mIoU", "mDice", "pooled_IoU", "precision", "recall")
    assert [with_it.rows[0][k] for k in keys] == [alone.rows[0][k] for k in keys], (with_it.rows, alone.rows)
    assert with_it.headroom == alone.headroom
    assert [r["image"] for r in with_it.per_image] == [str(samples[0].image_path)]
    assert not with_it.failures  # (a failure makes evaluate exit 1: the label says to score nothing there)
    assert any("void.png" in w and "'ignore'" in w for w in with_it.warnings), with_it.warnings
    with pytest.raises(ev.NothingToScoreError, match=r"1 of them labelled 'ignore' \(255\) everywhere"):
        evaluate_set(_RedMaps(), EvalSet("t", crack_dataset, samples[1:]), [crack_dataset], progress=False)


def test_a_photo_whose_every_pixel_is_ignore_fits_no_confidence(tmp_path, crack_dataset):
    """calibrate-confidence fitted the confidence to a record of IoU 1 for a photo whose label is 'ignore'
    everywhere; it is left out, named among the failures."""
    from PIL import Image

    from drywallqa.data.sample import Sample
    from drywallqa.engine.calibrate import confidence_records
    from drywallqa.engine.evaluator import EvalSet
    from drywallqa.utils.image_io import VOC_PALETTE

    from test_ignore_losses_and_scores import _RedMaps, _photo_of, _scored_arrays

    _, _, prob, _ = _scored_arrays(3)
    Image.fromarray(_photo_of(prob)).save(tmp_path / "void.png")
    mask = Image.fromarray(_all_ignored(prob.shape), mode="P")
    mask.putpalette([v for colour in VOC_PALETTE for v in colour])
    mask.save(tmp_path / "void_mask.png")
    sample = Sample(tmp_path / "void.png", crack_dataset, "t", *prob.shape, mask_path=tmp_path / "void_mask.png")
    records, failures = confidence_records(_RedMaps(), [EvalSet("t", crack_dataset, [sample])], progress=False)
    assert records == [] and len(failures) == 1 and "'ignore'" in failures[0], (records, failures)


def test_evaluates_image_level_score_leaves_the_ignore_band_out(tmp_path, crack_dataset):
    """evaluate's image-level AUROC scores a photo by its map's highest probability: taken over the whole photo, a
    photo's 'ignore' band that the map lights up gave it its score (a photo of no label: a confident false positive),
    where every pixel score leaves the band out. The photo and the same photo with the band cut out score alike."""
    from drywallqa.engine.evaluator import EvalSet, evaluate_set
    from drywallqa.utils.image_io import IGNORE_VALUE

    from test_ignore_losses_and_scores import BAND, _RedMaps, _scored_arrays, banded_and_cut

    _, _, prob, _ = _scored_arrays(4)
    prob = prob * 0.5
    prob[:, BAND] = 1.0  # the map bright on the band alone
    mask = np.zeros(prob.shape, np.uint8)
    mask[2:6, 2:6] = 1  # a class index beside the 255 band, so that it reads as 'ignore'
    mask[:, BAND] = IGNORE_VALUE
    samples = banded_and_cut(tmp_path, prob, mask, crack_dataset)
    assert (samples[0].load_target() == IGNORE_VALUE).any()
    banded, cut = (evaluate_set(_RedMaps(), EvalSet("t", crack_dataset, [s]), [crack_dataset], progress=False,
                                keep=0, keep_worst=0) for s in samples)
    assert banded.image_scores == cut.image_scores, (banded.image_scores, cut.image_scores)
    assert banded.per_image[0]["max_probability"] == cut.per_image[0]["max_probability"] < 0.6


def test_a_set_an_interrupted_evaluate_saved_before_the_ignore_scoring_is_scored_anew(
        synthetic_datasets, syn_splits, tiny_model_dir, tmp_path, monkeypatch):
    """evaluate keeps each finished set in OUT/.partial, keyed by PARTIAL_VERSION among others, and the same command
    run again reuses it. The scores of a label's 'ignore' pixels changed (8ac3219: counted nowhere; b69eb31, 16848f8),
    but PARTIAL_VERSION did not: a set saved by an interrupted run of the earlier code, of a dataset of 0/1/255
    masks, was reused, its band scored as background, in a report of the new scores. It is scored anew."""
    from drywallqa import Segmenter
    import drywallqa.engine.evaluator as ev

    kwargs = dict(datasets=("syn_crack",), which=("published",), splits_dir=syn_splits,
                  datasets_dir=synthetic_datasets, speed_images=0, model_dir=tiny_model_dir, progress=False)
    seg, out = Segmenter.load(tiny_model_dir), tmp_path / "eval"
    (es,) = ev.build_eval_sets(("syn_crack",), ("published",), syn_splits, synthetic_datasets)
    with monkeypatch.context() as m:
        m.setattr(ev, "PARTIAL_VERSION", 7)  # the version the sets were saved under before the 'ignore' scoring
        saved = out / ev.PARTIAL_DIR / f"{ev.set_fingerprint(seg, tiny_model_dir, es, ('syn_crack',))}.pkl"
    saved.parent.mkdir(parents=True)
    ev._save_partial(ev.evaluate_set(seg, es, ("syn_crack",), progress=False), saved)
    real, scored = ev.evaluate_set, []
    monkeypatch.setattr(ev, "evaluate_set", lambda *a, **k: scored.append(1) or real(*a, **k))
    ev.evaluate(seg, out, **kwargs)
    assert scored == [1]
