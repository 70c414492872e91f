"""The one validator (training, evaluation, shipping) and ``drywallqa ship`` (engine/validator.py, engine/shipping.py)."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import drywallqa
from drywallqa.data import registry
from drywallqa.data.registry import DatasetConfig, SplitSource
from drywallqa.engine.segmenter import SegmentationResult, Segmenter
from drywallqa.engine.shipping import parse_scales, ship
from drywallqa.engine.validator import Validator


class _FakeSegmenter(Segmenter):
    """Probabilities per prompt: a faint band (cracks), a box-like blob with soft edges (taping), nothing for others."""

    def decode(self, encoded, prompts, threshold=None, label_shape=None):
        out = {}
        for p in prompts:
            prob = np.full((64, 64), 0.05, np.float32)
            if p == "segment crack":
                prob[30:34, 4:60] = 0.3      # the crack, weakly: found only below the default threshold
            elif p == "segment taping area":
                prob[10:50, 10:40] = 0.95    # the taped joint
                prob[10:50, 40:44] = 0.6     # a soft edge beyond the labelled box
                prob[20:26, 20:26] = 0.1     # a hole inside it: only a box fills it
            out[p] = prob
        return SegmentationResult(masks={p: v > 0.5 for p, v in out.items()}, probabilities=out)


@pytest.fixture
def fake_datasets():
    configs = [DatasetConfig("fake_crack", "c", ("segment crack", "segment wall crack"), {"train": SplitSource("coco", "t")}),
               DatasetConfig("fake_tape", "t", ("segment taping area",), {"train": SplitSource("coco", "t")},
                             label_shape="box")]
    for c in configs:
        registry.register_dataset(c)
    yield
    for c in configs:
        registry.DATASETS.remove(c.name)


def _items():
    crack_gt = np.zeros((64, 64), bool)
    crack_gt[30:34, 4:60] = True
    tape_gt = np.zeros((64, 64), bool)
    tape_gt[10:50, 10:40] = True
    photo = np.zeros((64, 64, 3), np.uint8)
    return {"fake_crack": [(photo, crack_gt)], "fake_tape": [lambda: (photo, tape_gt)]}  # pairs, or read when scored


def test_validator_picks_a_threshold_and_post_processing_per_dataset(fake_datasets):
    result = Validator(_items())(_FakeSegmenter())
    best = result.choose()
    assert best.dataset_thresholds["fake_crack"] < 0.3            # low enough to keep the faint crack
    assert 0.6 <= best.dataset_thresholds["fake_tape"] < 0.95     # high enough to drop the soft edge
    assert best.postprocess["fake_crack"] is None                 # dilation would only add false pixels
    assert best.postprocess["fake_tape"]["name"] == "boxes"
    assert best.val_mIoU_per_dataset == {"fake_crack": 1.0, "fake_tape": 1.0}
    assert best.prompt_thresholds() == {"segment crack": best.dataset_thresholds["fake_crack"],
                                        "segment wall crack": best.dataset_thresholds["fake_crack"],
                                        "segment taping area": best.dataset_thresholds["fake_tape"]}
    assert set(best.prompt_postprocess()) == {"segment taping area"}
    # the box adapter keeps the threshold it was chosen with; the dataset's threshold is the plain masks' best
    assert 0.6 <= best.postprocess["fake_tape"]["threshold"] < 0.95
    # the other dataset's prompt at 0.5: the taping blob on the crack photo, nothing of the crack on the tape photo
    assert result.cross_foreground == pytest.approx((40 * 34 - 36) / 64**2 / 2)


def test_validator_fast_mode_is_what_the_trainer_reports(fake_datasets):
    fast = Validator(_items(), options=False)(_FakeSegmenter())
    assert all(len(opts) == 1 and opts[0] is None for opts in fast.options.values())
    shared = fast.shared()
    # one threshold for both datasets, no post-processing: the hole in the taping blob costs IoU
    assert shared["val_mIoU_fake_crack"] == 1.0 and shared["val_mIoU_fake_tape"] < 1.0
    assert shared["val_score"] == pytest.approx((shared["val_mIoU_fake_crack"] + shared["val_mIoU_fake_tape"]) / 2)
    assert set(shared) == {"val_mIoU_fake_crack", "val_mIoU_fake_tape", "val_score", "threshold", "val_cross_fg"}
    with pytest.raises(ValueError, match="at least one photo"):
        Validator({"fake_crack": []})


def test_candidate_scales_parse_and_refuse_bad_sizes():
    assert parse_scales("448") == (448,) and parse_scales("384,512") == (384, 512)
    for bad in ("450", "abc", "384,", "-64"):
        with pytest.raises(ValueError):
            parse_scales(bad)
    with pytest.raises(ValueError, match="a size given twice"):  # was averaged with itself: twice the time
        parse_scales("384,384")


def test_scales_written_as_python_reads_numbers_are_refused(tmp_path):
    """--scales 3_84 was swept as 384 (Python's digit grouping), as were other scripts' digits ('٣٨٤', '１２８'): the
    project's number options refuse "_"; a size is written in the digits 0-9."""
    from typer.testing import CliRunner

    from drywallqa.cli import app

    for bad in ("3_84", "٣٨٤", "１２８", "384,5_12"):
        with pytest.raises(ValueError, match="digits 0-9"):
            parse_scales(bad)
        res = CliRunner().invoke(app, ["ship", str(tmp_path), "--out", str(tmp_path / "s"), "--scales", bad])
        assert res.exit_code == 2 and "--scales" in res.output and "Traceback" not in res.output
    assert parse_scales(" 384, 512") == (384, 512)


def test_ship_sweeps_a_scales_option_given_twice_once(tiny_model_dir, synthetic_datasets, syn_splits, tmp_path,
                                                       monkeypatch):
    from typer.testing import CliRunner

    from drywallqa.cli import app
    import drywallqa.engine.shipping as shipping

    asked = {}

    def stop(source, dest, datasets, candidates, *a, **k):
        asked["scales"] = candidates
        raise ValueError("stopped here")

    monkeypatch.setattr(shipping, "ship", stop)
    res = CliRunner().invoke(app, ["ship", str(tiny_model_dir), "--out", str(tmp_path / "s"), "--scales", "64",
                                   "--scales", "96", "--scales", "64", "-d", "syn_crack", "--no-confidence"])
    assert res.exit_code == 1 and asked["scales"] == ((64,), (96,)), res.output


def test_ship_writes_a_model_with_choices_made_on_val(tiny_model_dir, synthetic_datasets, syn_splits, tmp_path):
    dest = tmp_path / "shipped"
    shutil.copytree(tiny_model_dir, dest)  # the model shipped before
    (dest / "old.txt").write_text("the model shipped before")  # a file ship does not write: refused unless --overwrite
    (dest / "MODEL_CARD.md").write_text("# written by a person")
    out = ship(tiny_model_dir, dest, datasets=("syn_crack", "syn_tape"), scales=((64,),), tta=(False,),
               splits_dir=syn_splits, datasets_dir=synthetic_datasets, timing_images=2, budget=False, gate=False,
               confidence=False, overwrite=True, progress=False, report=lambda *_: None)
    meta = json.loads((dest / "config.json").read_text())
    assert not (dest / "old.txt").exists() and "model.safetensors" in out["files"]  # replaced whole (overwrite)
    assert (dest / "MODEL_CARD.md").read_text() == "# written by a person"  # but the card is kept
    assert meta["scales"] == [64] and meta["tta"] is False and "val part" in meta["selected_on"]
    assert set(meta["prompt_thresholds"]) == {"segment crack", "segment taping area", "segment joint/tape"}
    sweep = json.loads((dest / "selection.json").read_text())
    assert "selection" not in meta and sweep["candidates"][0]["median_ms_first_prompt"] > 0
    assert sweep["chosen"]["scales"] == [64]
    assert not any(p.name.startswith(".shipped") for p in tmp_path.iterdir())  # no temporary folder left behind
    plain = tmp_path / "plain"  # readable as a plain mkdir / open() would make them (a server may run as another user)
    plain.mkdir()
    (plain / "f").write_text("x")
    assert dest.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777
    assert {p.name: p.stat().st_mode & 0o777 for p in dest.iterdir()} == {p.name: (plain / "f").stat().st_mode & 0o777
                                                                        for p in dest.iterdir()}
    seg = Segmenter.load(dest)
    assert seg.describe()["scales"] == [64] and seg.predict(np.zeros((64, 64, 3), np.uint8), ["segment crack"]).masks
    with pytest.raises(FileNotFoundError, match="neither a drywallqa model folder"):
        ship(tmp_path, tmp_path / "x", datasets=("syn_crack",), splits_dir=syn_splits, datasets_dir=synthetic_datasets)


def test_shipping_a_model_folder_again_keeps_its_record_and_calibrations(tiny_model_dir, synthetic_datasets, syn_splits,
                                                                        tmp_path):
    import shutil

    source = tmp_path / "shipped_before" / "best"  # a model folder named best, in no run: still a model folder (its
    shutil.copytree(tiny_model_dir, source)     # parent was taken for a run, and its record and calibrations left out)
    (source / "training_metrics.csv").write_text("epoch,val_score\n1,0.5\n")
    calibration = (Path(drywallqa.__file__).parent / "weights" / "fast" / "confidence.json").read_text()
    (source / "confidence.json").write_text(calibration)  # a calibration of its own ("{}" is damaged: refused)
    ship(source, tmp_path / "again", datasets=("syn_crack", "syn_tape"), scales=((64,),), tta=(False,),
         splits_dir=syn_splits, datasets_dir=synthetic_datasets, timing_images=0, budget=False, gate=False,
         confidence=False, progress=False, report=lambda *_: None)
    assert (tmp_path / "again" / "training_metrics.csv").read_text() == "epoch,val_score\n1,0.5\n"
    assert (tmp_path / "again" / "confidence.json").read_text() == calibration  # not recalibrated: the source's kept
    with pytest.raises(ValueError, match="at least one timing photo"):
        ship(source, tmp_path / "x", datasets=("syn_crack",), splits_dir=syn_splits, datasets_dir=synthetic_datasets,
             timing_images=0)


def test_refined_masks_decide_the_plain_masks_and_the_box_labels_the_adapter(fake_datasets):
    """A model validated on a box-labelled dataset and on strips refined from it (same prompts): the strips choose
    the plain masks' threshold, the boxes the adapter's."""
    strips = DatasetConfig("fake_tape_strips", "t", ("segment taping area",), {"train": SplitSource("coco", "t")})
    registry.register_dataset(strips)
    try:
        items = _items()
        strip_gt = np.zeros((64, 64), bool)
        strip_gt[10:50, 10:44] = True        # the refined mask takes the soft edge in: a lower plain threshold
        strip_gt[20:26, 20:26] = False
        items["fake_tape_strips"] = [(np.zeros((64, 64, 3), np.uint8), strip_gt)]
        best = Validator(items)(_FakeSegmenter()).choose()
        assert best.dataset_thresholds["fake_tape_strips"] <= 0.55 < 0.6 <= best.dataset_thresholds["fake_tape"]
        assert best.prompt_thresholds()["segment taping area"] == best.dataset_thresholds["fake_tape_strips"]
        adapter = best.prompt_postprocess()["segment taping area"]
        assert adapter["name"] == "boxes" and 0.6 <= adapter["threshold"] < 0.95
    finally:
        registry.DATASETS.remove(strips.name)


def test_a_box_dataset_with_its_own_prompt_adapts_the_prompts_of_its_concept(fake_datasets):
    """Box labels asked under a prompt of their own (a learnt box adapter) beside strips of the same photos: the
    strips' prompts get the boxes chosen on the box labels, reading that prompt's map."""
    from drywallqa.engine.validator import prompt_postprocess

    extra = [DatasetConfig("fk_strips", "t", ("segment tape strip",), {"train": SplitSource("coco", "t")}, concept="tp"),
             DatasetConfig("fk_boxes", "t", ("box of tape",), {"train": SplitSource("coco", "t")}, label_shape="box",
                           concept="tp")]
    for c in extra:
        registry.register_dataset(c)
    try:
        boxes = {"name": "boxes", "quantile": 0.0, "threshold": 0.3}
        got = prompt_postprocess({"fake_crack": None, "fk_strips": None, "fk_boxes": boxes})
        assert got == {"box of tape": boxes, "segment tape strip": {**boxes, "prompt": "box of tape"}}
        # a plain option chosen on the strips stays beside the adapter: plain masks dilated, boxes against box labels
        dilate = {"name": "dilate", "radius_fraction": 0.004}
        got = prompt_postprocess({"fake_crack": None, "fk_strips": dilate, "fk_boxes": boxes})
        assert got["segment tape strip"] == [dilate, {**boxes, "prompt": "box of tape"}] and got["box of tape"] == boxes
        # a box dataset of another concept adapts nothing but its own prompts
        assert set(prompt_postprocess({"fake_tape": boxes, "fk_strips": None})) == {"segment taping area"}
    finally:
        for c in extra:
            registry.DATASETS.remove(c.name)


def test_ship_never_replaces_what_is_not_a_model_folder(tiny_model_dir, tmp_path):
    from typer.testing import CliRunner

    from drywallqa.cli import app

    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("important")
    (tmp_path / "file").write_text("x")
    run = tmp_path / "run"
    shutil.copytree(tiny_model_dir, run / "best")
    for dest, words, flag in ((tmp_path / "notes", "holds other files", "--out"), (tmp_path / "file", "is a file", "--out"),
                              (run, "holds the source folder", "--dest"),  # --dest: the 0.5 name
                              (run / "best" / "shipped", "lies inside the source folder", "--out")):  # gone with a new best/
        res = CliRunner().invoke(app, ["ship", str(run), flag, str(dest), "--limit", "1"])
        assert res.exit_code == 2 and isinstance(res.exception, SystemExit), res.output  # a bad option, as for export
        assert words in " ".join(res.output.replace("│", " ").split()), res.output
    assert (tmp_path / "notes" / "keep.txt").read_text() == "important" and (tmp_path / "file").read_text() == "x"
    assert (run / "best" / "config.json").is_file()


def test_ship_refuses_a_limit_too_small_for_the_confidence_before_any_work(tiny_model_dir, tmp_path, monkeypatch):
    import drywallqa.engine.shipping as shipping

    monkeypatch.setattr(shipping.Validator, "from_parts", lambda *a, **k: pytest.fail("the sweep began"))
    with pytest.raises(ValueError, match="at least 4 val photos"):
        shipping.ship(tiny_model_dir, tmp_path / "dest", limit=1)
    monkeypatch.setattr(shipping.Validator, "from_parts", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("sweep")))
    with pytest.raises(RuntimeError, match="sweep"):  # without the confidence, one photo is enough to begin
        shipping.ship(tiny_model_dir, tmp_path / "dest", limit=1, confidence=False)


def test_a_dataset_whose_val_masks_are_all_empty_is_named(fake_datasets, caplog):
    """A review: a dataset of empty masks (a broken export) trained to val mIoU 1.0 and wrote best/ without a word."""
    empty = np.zeros((64, 64), bool)
    items = {**_items(), "fake_tape": [(np.zeros((64, 64, 3), np.uint8), empty)]}
    with caplog.at_level("WARNING"):
        Validator(items)(_FakeSegmenter())
    assert "'fake_tape'" in caplog.text and "no mask" in caplog.text and "'fake_crack'" not in caplog.text


def _ship_quickly(source, dest, synthetic_datasets, syn_splits, **kw):
    return ship(source, dest, datasets=("syn_crack", "syn_tape"), scales=((64,),), tta=(False,), splits_dir=syn_splits,
                datasets_dir=synthetic_datasets, timing_images=0, budget=False, gate=False, confidence=False,
                progress=False, report=lambda *_: None, **kw)


@pytest.mark.parametrize("damaged", ["confidence.json", "prompt_gate.npz"])
def test_ship_refuses_a_source_whose_calibrations_are_damaged_before_any_work(tiny_model_dir, synthetic_datasets,
                                                                              syn_splits, tmp_path, damaged, monkeypatch):
    """They were copied into the shipped folder (with --no-confidence / --no-gate), which then did not load: the model
    at --out was replaced by one that fails, and ship said "wrote"."""
    import drywallqa.engine.shipping as shipping

    source = tmp_path / "src"
    shutil.copytree(tiny_model_dir, source)
    (source / damaged).write_text("garbage{")
    dest = tmp_path / "out"
    shutil.copytree(tiny_model_dir, dest)  # the model in use
    before = {p.name: p.read_bytes() for p in dest.iterdir()}
    monkeypatch.setattr(shipping, "select", lambda *a, **k: pytest.fail("the sweep ran first"))
    with pytest.raises(ValueError, match=f"{damaged} is damaged"):
        _ship_quickly(source, dest, synthetic_datasets, syn_splits)
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == before
    from typer.testing import CliRunner

    from conftest import says

    from drywallqa.cli import app

    res = CliRunner().invoke(app, ["ship", str(source), "--out", str(dest), "--no-gate", "--no-confidence",
                                   "-d", "syn_crack", "-d", "syn_tape", "--splits-dir", str(syn_splits),
                                   "--datasets-dir", str(synthetic_datasets)], terminal_width=400)
    assert res.exit_code == 2 and says(res.output, f"{damaged} is damaged"), res.output  # it was 1
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == before


def test_ship_keeps_weights_beyond_float16_and_never_replaces_with_what_does_not_load(tiny_model_dir, synthetic_datasets,
                                                                                      syn_splits, tmp_path, monkeypatch):
    """Weights are shipped as float16: a BatchNorm variance above 65504 (the shipped model has one at 53120) became inf,
    and the shipped folder did not load (its error blamed a diverged run)."""
    import torch
    from safetensors.torch import load_file, save_file

    import drywallqa.engine.shipping as shipping

    source = tmp_path / "src"
    shutil.copytree(tiny_model_dir, source)
    weights = load_file(source / "model.safetensors")
    name = next(k for k in weights if k.endswith("running_var"))
    weights[name][0] = 70000.0
    save_file(weights, source / "model.safetensors")
    _ship_quickly(source, tmp_path / "out", synthetic_datasets, syn_splits)
    shipped = load_file(tmp_path / "out" / "model.safetensors")
    assert shipped[name][0].item() == 70000.0 and shipped[name].dtype == torch.float32
    assert next(v.dtype for k, v in shipped.items() if k != name and v.is_floating_point()) == torch.float16
    assert Segmenter.load(tmp_path / "out").predict(np.zeros((40, 40, 3), np.uint8), ["segment crack"]).masks
    # whatever else makes the written folder fail to load: nothing is replaced, and the error names --out
    dest = tmp_path / "in_use"
    shutil.copytree(tiny_model_dir, dest)
    real = shipping.write_shipped

    def damaging(model_dir, tmp, *args):
        real(model_dir, tmp, *args)
        (tmp / "confidence.json").write_text("garbage{")

    monkeypatch.setattr(shipping, "write_shipped", damaging)
    with pytest.raises(ValueError, match="would not load") as info:
        _ship_quickly(tiny_model_dir, dest, synthetic_datasets, syn_splits)
    assert str(dest) in str(info.value) and ".shipping." not in str(info.value)
    assert Segmenter.load(dest) is not None and not (dest / "confidence.json").exists()


def test_ship_into_the_current_folder_and_a_name_too_long_for_its_temporary_siblings(tiny_model_dir, synthetic_datasets,
                                                                                     syn_splits, tmp_path, monkeypatch):
    """``--out .`` ran the whole sweep, then failed with "PosixPath('.') has an empty name"; a 235-character name
    failed after it with "File name too long" naming a temporary file."""
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    out = _ship_quickly(tiny_model_dir, ".", synthetic_datasets, syn_splits)
    assert out["dest"] == str(here) and Segmenter.load(here) is not None
    import drywallqa.engine.shipping as shipping

    monkeypatch.setattr(shipping, "select", lambda *a, **k: pytest.fail("the sweep ran first"))
    with pytest.raises(ValueError, match="at most 200 bytes"):
        _ship_quickly(tiny_model_dir, tmp_path / ("m" * 235), synthetic_datasets, syn_splits)


def test_ship_of_a_run_still_training_chooses_and_writes_the_weights_of_one_epoch(tiny_model_dir, synthetic_datasets,
                                                                                  syn_splits, tmp_path):
    """A run still training replaces its best/ whole at each better epoch: ship read best/ again for each candidate and
    for the folder it wrote, so the thresholds were chosen on one epoch's weights and another epoch's were shipped."""
    import torch
    from safetensors.torch import load_file

    from drywallqa.models import create_model
    from conftest import TINY_MODEL

    run = tmp_path / "run"
    shutil.copytree(tiny_model_dir, run / "best")
    (run / "metrics.csv").write_text("epoch,val_score\n1,0.5\n")
    torch.manual_seed(1)
    later = create_model("film_unet", **TINY_MODEL).save_pretrained(tmp_path / "later", extra={"threshold": 0.5, "epoch": 2})
    reports = []

    def next_epoch(entry):  # the trainer saves a better epoch while the first candidate is reported
        reports.append(entry)
        if len(reports) == 1:
            shutil.rmtree(run / "best")
            shutil.copytree(later, run / "best")

    ship(run, tmp_path / "out", datasets=("syn_crack", "syn_tape"), scales=((64,), (96,)), tta=(False,),
         splits_dir=syn_splits, datasets_dir=synthetic_datasets, timing_images=0, budget=False, gate=False,
         confidence=False, progress=False, report=next_epoch)
    shipped, first = load_file(tmp_path / "out" / "model.safetensors"), load_file(tiny_model_dir / "model.safetensors")
    assert all(torch.equal(shipped[k].float(), v.to(shipped[k].dtype).float()) for k, v in first.items())
    assert not any(".source." in p.name for p in tmp_path.iterdir())  # the copy is gone
    assert (tmp_path / "out" / "training_metrics.csv").read_text() == "epoch,val_score\n1,0.5\n"


def test_ship_keeps_the_concepts_a_model_folder_answers(tiny_model_dir, synthetic_datasets, syn_splits, tmp_path,
                                                        monkeypatch):
    """A shipped folder answering cracks and tape, shipped again with -d of the crack dataset only: its gate was made
    anew on cracks alone and refused every tape prompt (calibrate-gate refuses the same)."""
    from typer.testing import CliRunner

    from drywallqa.cli import app
    import drywallqa.engine.shipping as shipping
    from drywallqa.text.gate import GATE_FILE

    source = tmp_path / "shipped_before"
    shutil.copytree(tiny_model_dir, source)
    fast = Path(drywallqa.__file__).parent / "weights" / "fast"
    shutil.copy(fast / GATE_FILE, source / GATE_FILE)  # knows cracks and taping
    monkeypatch.setattr(shipping, "select", lambda *a, **k: pytest.fail("the sweep began"))
    with pytest.raises(ValueError, match="taping"):  # the gate made anew
        ship(source, tmp_path / "out", datasets=("syn_crack", "syn_tape"), splits_dir=syn_splits,
             datasets_dir=synthetic_datasets, confidence=False, progress=False, report=lambda *_: None)
    res = CliRunner().invoke(app, ["ship", str(source), "--out", str(tmp_path / "out"), "-d", "syn_crack",
                                   "--splits-dir", str(syn_splits), "--datasets-dir", str(synthetic_datasets)])
    assert res.exit_code == 2 and "taping" in res.output and "--dataset" in res.output, res.output
    assert not (tmp_path / "out").exists()


def test_a_model_shipped_with_limit_says_so(tiny_model_dir, synthetic_datasets, syn_splits, tmp_path, monkeypatch):
    """``ship --limit`` (a smoke run) wrote a folder whose config.json, selection.json and confidence.json said the
    options were chosen on the val part, as a folder chosen on every val photo says."""
    _ship_quickly(tiny_model_dir, tmp_path / "out", synthetic_datasets, syn_splits, limit=1)
    meta = json.loads((tmp_path / "out" / "config.json").read_text())
    sweep = json.loads((tmp_path / "out" / "selection.json").read_text())
    assert "--limit" in meta["selected_on"] and "--limit" in Segmenter.load(tmp_path / "out").describe()["threshold_source"]
    assert sweep["limit"] == 1 and sweep["val_photos"] == {"syn_crack": 1, "syn_tape": 1}
    _ship_quickly(tiny_model_dir, tmp_path / "all", synthetic_datasets, syn_splits)
    assert "--limit" not in json.loads((tmp_path / "all" / "config.json").read_text())["selected_on"]
    import types

    import drywallqa.engine.calibrate as calibrate

    monkeypatch.setattr(calibrate, "fit_confidence_model", lambda *a: types.SimpleNamespace(selection={}))  # 2-3 photos
    fit = calibrate.calibrate_model_confidence(tiny_model_dir, ("syn_crack", "syn_tape"), syn_splits, synthetic_datasets, limit=4,
                                     progress=False, save=False)
    assert "--limit" in fit.selection["fitted_on"]


def test_the_ship_command_checks_its_source_once(tiny_model_dir, synthetic_datasets, syn_splits, tmp_path, monkeypatch):
    """The CLI loaded the model to ship and read its calibrations' concepts, for its usage errors, before ``ship()``
    did both again (seconds for a real model); ``ship()`` now names the option at fault (ShipRefused)."""
    from typer.testing import CliRunner

    import drywallqa.engine.shipping as shipping
    from conftest import says
    from drywallqa.cli import app

    loads, concepts = [], []
    real_loads, real_concepts = shipping.check_source_loads, shipping.check_keeps_concepts
    monkeypatch.setattr(shipping, "check_source_loads", lambda *a, **k: loads.append(1) or real_loads(*a, **k))
    monkeypatch.setattr(shipping, "check_keeps_concepts", lambda *a, **k: concepts.append(1) or real_concepts(*a, **k))
    monkeypatch.setattr("drywallqa.engine.calibrate.check_keeps_concepts", shipping.check_keeps_concepts)
    monkeypatch.setattr(shipping, "select", lambda *a, **k: (_ for _ in ()).throw(ValueError("the sweep began")))
    args = ["ship", str(tiny_model_dir), "--out", str(tmp_path / "out"), "-d", "syn_crack", "-d", "syn_tape",
            "--splits-dir", str(syn_splits), "--datasets-dir", str(synthetic_datasets), "--no-gate", "--no-confidence"]
    res = CliRunner().invoke(app, args, terminal_width=400)
    assert res.exit_code == 1 and says(res.output, "the sweep began"), res.output
    assert len(loads) == 1 and len(concepts) == 1, (loads, concepts)
    res = CliRunner().invoke(app, [*args[:-1], "--limit", "1"], terminal_width=400)  # still a usage error, before work
    assert res.exit_code == 2 and says(res.output, "at least 4 val photos") and "--limit" in res.output, res.output


def test_the_sweep_times_a_single_prompt_without_an_extra_prompt_cost(tiny_model_dir, tmp_path):
    """measure_speed gives no per-extra-prompt cost for one prompt (None, since 0.6.20): the budget check compared it
    with a number, a TypeError before any candidate was validated."""
    from conftest import write_photos

    import drywallqa.engine.shipping as shipping

    photos = sorted(write_photos(tmp_path / "photos", 1).iterdir())

    class Validated(Exception):
        pass

    def validator(segmenter):
        raise Validated

    with pytest.raises(Validated):  # within the budget, then validated
        shipping.select(tiny_model_dir, validator, photos, scales=((64,),), tta=(False,), budget_first_ms=1e9,
                        budget_extra_ms=1e9, prompts=("segment crack",), report=lambda *_: None)


@pytest.mark.parametrize("damage, words", [
    (lambda best: (best / "config.json").write_text("{cut"), "config.json is damaged, not JSON text"),
    (lambda best: (best / "model.safetensors").unlink(), "no model.safetensors"),
    (lambda best: (best / "model.safetensors").write_bytes(b"\0" * 100), "model.safetensors is damaged")])
def test_ship_of_a_run_whose_best_is_damaged_names_the_run_s_best_before_any_work(tiny_model_dir, synthetic_datasets,
                                                                                  tmp_path, monkeypatch, damage, words):
    """A run whose best/config.json was damaged was "neither a drywallqa model folder nor a training run with best/";
    one whose weights were missing or damaged was named by the temporary copy ship reads (gone by then), after the
    val photos were read, exit 1 for damaged weights."""
    from typer.testing import CliRunner

    import drywallqa.engine.shipping as shipping
    from conftest import says
    from drywallqa.cli import app

    monkeypatch.setattr(shipping.Validator, "from_parts", lambda *a, **k: pytest.fail("the sweep began"))
    run = tmp_path / "run"
    shutil.copytree(tiny_model_dir, run / "best")
    (run / "metrics.csv").write_text("epoch,val_score\n1,0.5\n")
    damage(run / "best")
    res = CliRunner().invoke(app, ["ship", str(run), "--out", str(tmp_path / "out"), "-d", "syn_crack", "-d", "syn_tape"])
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit), res.output
    assert says(res.output, "Invalid value for SOURCE", str(run / "best"), words), res.output
    assert ".source." not in res.output and not any(".source." in p.name for p in tmp_path.iterdir())
    assert not (tmp_path / "out").exists()


def test_ship_refuses_the_run_s_own_best_as_its_destination(tiny_model_dir, tmp_path):
    """``ship RUN --out RUN/best`` wrote the shipped model where the run's trainer (still running, or resumed) replaces
    it whole at its next better epoch: refused as a bad --out, the run left as it was. A folder merely named best
    (no run around it) is still re-shipped in place."""
    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.engine.shipping import check_destination

    run = tmp_path / "run"
    shutil.copytree(tiny_model_dir, run / "best")
    (run / "metrics.csv").write_text("epoch,val_score\n1,0.5\n")
    before = (run / "best" / "config.json").read_text()
    for source in (run, run / "best"):
        res = CliRunner().invoke(app, ["ship", str(source), "--out", str(run / "best"), "--limit", "1"])
        assert res.exit_code == 2 and isinstance(res.exception, SystemExit), res.output
        assert "best/ of the training run" in " ".join(res.output.replace("│", " ").split()), res.output
    assert (run / "best" / "config.json").read_text() == before
    plain = tmp_path / "shipped" / "best"
    shutil.copytree(tiny_model_dir, plain)
    check_destination(plain, plain)  # no run record beside it: a model folder, shipped again in place
