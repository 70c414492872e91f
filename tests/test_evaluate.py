import csv
import json
import re

import numpy as np
import pytest

from drywallqa import Segmenter
from drywallqa.data.grouping import make_group_split
from drywallqa.engine.evaluator import evaluate
from drywallqa.utils.formats import strict_json


def test_evaluate_writes_reports_for_every_split_and_prompt(synthetic_datasets, tiny_model_dir, tmp_path):
    splits = tmp_path / "splits"
    for ds in ("syn_crack", "syn_tape"):
        make_group_split(ds, synthetic_datasets, seed=0).to_json(splits / f"{ds}.json")
    seg = Segmenter.load(tiny_model_dir)
    # the model "trained" on a copy of source photo t0 (one of the 4 syn_tape valid photos) and nothing else
    (tiny_model_dir / "train_files.json").write_text(json.dumps({"train": [[], ["x/tape/train/t0_jpg.rf.99.jpg"]]}))
    out = tmp_path / "eval"
    report = evaluate(seg, out, datasets=("syn_crack", "syn_tape"), splits_dir=splits, datasets_dir=synthetic_datasets,
                      speed_images=2, model_dir=tiny_model_dir, progress=False)
    rows = {(r["split"], r["dataset"], r["prompt"]) for r in report["metrics"]}
    assert ("published valid", "syn_tape", "segment joint/tape") in rows
    assert ("group-clean test", "syn_crack", "segment crack") in rows
    assert len(rows) == 2 * 3
    cross = {(r["dataset"], r["prompt"]) for r in report["cross_prompt"]}
    assert ("syn_crack", "segment taping area") in cross and ("syn_tape", "segment crack") in cross
    for r in report["metrics"]:
        assert 0 <= r["mIoU"] <= 1 and r["images"] > 0
        lo, hi = r["mIoU_CI95"]
        if (r["split"], r["dataset"]) == ("group-clean test", "syn_crack"):  # two copies of one source photo: no interval
            assert np.isnan(lo) and np.isnan(hi)
            continue
        assert 0 <= lo <= r["mIoU"] + 1e-9 and r["mIoU"] <= hi + 1e-9 and hi <= 1
    assert report["speed"]["images"] == 2 and report["speed"]["median_ms_first_prompt"] > 0
    assert report["model"]["parameters"] > 0 and report["model"]["threshold"] == 0.5
    saved = json.loads((out / "report.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    assert [r["mIoU"] for r in saved["metrics"]] == [r["mIoU"] for r in report["metrics"]]
    md = (out / "report.md").read_text()
    assert "| published valid | syn_tape | segment taping area |" in md
    assert (out / "examples.png").stat().st_size > 0
    qa = {(r["split"], r["dataset"], r["masks"]): r for r in report["qa_measures"]}
    gt = qa[("published valid", "syn_tape", "ground truth")]
    assert gt["components"] == 1 and gt["area_fraction"] == pytest.approx(200 / 4096)  # one 10x20 box per 64x64 image
    assert ("published valid", "syn_tape", "segment taping area") in qa
    assert "## QA measures" in md
    for r in report["metrics"]:
        assert 0 <= r["pixel_AP"] <= 1 and 0 <= r["pixel_F1max"] <= 1
    auroc = {(r["split"], r["prompt"]): r for r in report["image_level"]}
    crack = auroc[("published valid", "segment crack")]
    assert crack["positives"] == 4 and crack["negatives"] == 4  # syn_crack valid vs syn_tape valid images
    assert "AUROC" in md
    # per-image records (canonical prompts also carry their best threshold), the worst images, headroom
    with open(out / "per_image.csv") as f:
        records = list(csv.DictReader(f))
    assert len(records) == sum(r["images"] for r in report["metrics"])
    canon = [r for r in records if r["prompt"] == "segment crack" and r["split"] == "published valid"]
    assert len(canon) == 4 and all(r["best_threshold"] for r in canon)
    assert all(float(r["iou_at_best_threshold"]) >= float(r["iou"]) - 1e-9 for r in canon)  # 0.5 is on the sweep grid
    assert (out / "worst.png").stat().st_size > 0 and "worst.png" in md
    room = {(r["split"], r["dataset"]): r for r in report["headroom"]}
    assert len(room) == 4
    for r in room.values():
        assert r["mIoU_best_threshold_per_image"] >= r["mIoU_best_single_threshold"] >= 0
    assert "## Headroom of thresholding" in md
    # where the errors are: shares of all tp + error pixels sum to 1, fixing region errors never lowers mIoU
    for r in room.values():
        assert sum(r[k] for k in ("share_tp", "share_fp_boundary", "share_fp_region", "share_fn_boundary",
                                  "share_fn_region")) == pytest.approx(1.0)
        assert r["mIoU"] <= r["mIoU_without_spurious"] + 1e-9 and r["mIoU"] <= r["mIoU_without_missed"] + 1e-9
        assert max(r["mIoU_without_spurious"], r["mIoU_without_missed"]) <= r["mIoU_boundary_only"] + 1e-9 <= 1 + 1e-9
    assert all(float(r["iou_boundary_only"]) >= float(r["iou"]) - 1e-9 for r in canon)
    assert "## Where the errors are" in md
    # centre-line agreement for every prompt; the label-width oracle only where labels are drawn, not boxes
    for r in report["metrics"]:
        assert 0 <= r["centerline_F1"] <= 1 and 0 <= r["centerline_recall"] <= 1
    assert all(0 <= float(r["centerline_f1"]) <= 1 for r in records)
    assert "## Centre-line agreement" in md and "## Label widths" in md
    # seen vs unseen source photos: only the valid t0 copy was seen
    memory = {(r["split"], r["dataset"]): r for r in report["memory"]}
    tape_valid = memory[("published valid", "syn_tape")]
    assert (tape_valid["images_seen"], tape_valid["images_unseen"]) == (1, 3)
    t0 = [r for r in records if r["split"] == "published valid" and r["prompt"] == "segment taping area" and "/t0_" in r["image"]]
    assert len(t0) == 1 and t0[0]["source_in_training"] == "True"
    assert tape_valid["mIoU_seen"] == pytest.approx(float(t0[0]["iou"]))
    assert memory[("published valid", "syn_crack")]["images_seen"] == 0
    assert "## Seen and unseen source photos" in md
    assert "width_oracle_mIoU_best_single_width" not in room[("published valid", "syn_tape")]
    crack_room = room[("published valid", "syn_crack")]
    assert 0 < crack_room["width_oracle_mIoU_best_single_width"] <= crack_room["width_oracle_mIoU_best_width_per_image"] <= 1


def test_threshold_sweep_and_headroom_on_hand_made_probabilities():
    from drywallqa.engine.evaluator import headroom
    from drywallqa.engine.validator import threshold_sweep
    from drywallqa.metrics import THRESHOLDS

    gt = np.zeros((10, 10), bool)
    gt[:, :5] = True
    prob = np.zeros((10, 10))
    prob[:, :5] = 0.6   # right at any threshold below 0.6
    prob[:, 5:] = 0.3   # half the image is wrongly foreground below 0.3
    sweep = threshold_sweep(prob, gt, None)
    th = np.array(THRESHOLDS)
    np.testing.assert_allclose(sweep[th < 0.3], 0.5)
    np.testing.assert_allclose(sweep[(th >= 0.3) & (th < 0.6)], 1.0)
    np.testing.assert_allclose(sweep[th >= 0.6], 0.0)
    # a second image that is right only at high thresholds: no single threshold suits both
    other = threshold_sweep(np.where(gt, 0.95, 0.7), gt, None)
    room = headroom([sweep, other], ious=[1.0, 0.5])
    assert room["mIoU"] == 0.75 and room["mIoU_best_threshold_per_image"] == 1.0
    assert room["mIoU_best_single_threshold"] == 0.75
    # post-processing is applied before scoring: boxes turn a ring into its filled box
    ring = np.zeros((10, 10))
    ring[2:8, 2:8] = 0.9
    ring[4:6, 4:6] = 0.0
    box = np.zeros((10, 10), bool)
    box[2:8, 2:8] = True
    assert threshold_sweep(ring, box, {"name": "boxes", "min_area_fraction": 0.0}).max() == 1.0


def test_train_split_scores_a_seeded_sample_of_training_photos(synthetic_datasets, tiny_model_dir, tmp_path, monkeypatch):
    from drywallqa.data.grouping import samples_of_part
    from drywallqa.engine import evaluator

    splits = tmp_path / "splits"
    for ds in ("syn_crack", "syn_tape"):
        make_group_split(ds, synthetic_datasets, seed=0).to_json(splits / f"{ds}.json")
    monkeypatch.setattr(evaluator, "TRAIN_SAMPLE", 3)
    sets = evaluator.build_eval_sets(("syn_crack",), which=("train",), splits_dir=splits, datasets_dir=synthetic_datasets)
    assert [s.name for s in sets] == ["group-clean train (sample of 3)"]
    train = {str(s.image_path) for s in samples_of_part("syn_crack", "train", splits, synthetic_datasets)}
    picked = [str(s.image_path) for s in sets[0].samples]
    assert len(set(picked)) == 3 and set(picked) <= train and len(train) > 3
    again = evaluator.build_eval_sets(("syn_crack",), which=("train",), splits_dir=splits, datasets_dir=synthetic_datasets)
    assert [str(s.image_path) for s in again[0].samples] == picked  # seeded
    report = evaluate(Segmenter.load(tiny_model_dir), tmp_path / "fit", datasets=("syn_crack", "syn_tape"), which=("train",),
                      splits_dir=splits, datasets_dir=synthetic_datasets, speed_images=0, progress=False)
    assert {(r["split"], r["images"]) for r in report["metrics"]} == {("group-clean train (sample of 3)", 3)}


def test_cli_evaluate_refuses_unknown_split_names():
    from typer.testing import CliRunner

    from drywallqa.cli import app

    result = CliRunner().invoke(app, ["evaluate", "--splits", "published,tset"])
    assert result.exit_code != 0 and "tset" in result.output


def test_an_interrupted_evaluation_continues_after_its_last_finished_set(synthetic_datasets, tiny_model_dir, tmp_path,
                                                                         monkeypatch):
    import drywallqa.engine.evaluator as ev

    splits = tmp_path / "splits"
    for ds in ("syn_crack", "syn_tape"):
        make_group_split(ds, synthetic_datasets, seed=0).to_json(splits / f"{ds}.json")
    kwargs = dict(datasets=("syn_crack", "syn_tape"), splits_dir=splits, datasets_dir=synthetic_datasets,
                  speed_images=0, model_dir=tiny_model_dir, progress=False)
    seg, out = Segmenter.load(tiny_model_dir), tmp_path / "eval"
    real, scored = ev.evaluate_set, []

    def interrupted_after_two_sets(segmenter, eval_set, *args, **kw):
        if len(scored) == 2:
            raise KeyboardInterrupt
        scored.append((eval_set.name, eval_set.dataset))
        return real(segmenter, eval_set, *args, **kw)

    monkeypatch.setattr(ev, "evaluate_set", interrupted_after_two_sets)
    with pytest.raises(KeyboardInterrupt):
        evaluate(seg, out, **kwargs)
    assert len(list((out / ev.PARTIAL_DIR).glob("*.pkl"))) == 2 and not (out / "report.json").exists()

    def counting(segmenter, eval_set, *args, **kw):
        scored.append((eval_set.name, eval_set.dataset))
        return real(segmenter, eval_set, *args, **kw)

    monkeypatch.setattr(ev, "evaluate_set", counting)
    resumed = evaluate(seg, out, **kwargs)
    assert len(scored) == 4 and len(set(scored)) == 4  # the run again scored only the two unfinished sets
    assert not (out / ev.PARTIAL_DIR).exists()
    fresh = evaluate(seg, tmp_path / "fresh", **kwargs)
    assert strict_json(resumed["metrics"]) == strict_json(fresh["metrics"])  # (NaN, an undefined score, is no NaN's equal)
    assert resumed["headroom"] == fresh["headroom"]
    # another setting (here the threshold) must not reuse what was measured with the old one
    evaluate(seg, out, **kwargs)
    monkeypatch.setattr(ev, "evaluate_set", interrupted_after_two_sets)
    scored.clear()
    with pytest.raises(KeyboardInterrupt):
        evaluate(seg, out, **kwargs)
    other = Segmenter.load(tiny_model_dir, threshold=0.3)
    monkeypatch.setattr(ev, "evaluate_set", counting)
    scored.clear()
    evaluate(other, out, **kwargs)
    assert len(scored) == 4
    # nor a dataset declared anew (a dataset YAML edited between the runs: another prompt to score)
    import dataclasses

    from drywallqa.data import registry
    monkeypatch.setattr(ev, "evaluate_set", interrupted_after_two_sets)
    scored.clear()
    with pytest.raises(KeyboardInterrupt):
        evaluate(seg, out, **kwargs)
    crack = registry.get_dataset_config("syn_crack")
    registry.DATASETS.remove("syn_crack")
    registry.register_dataset(dataclasses.replace(crack, prompts=("segment crack", "segment hairline crack")))
    monkeypatch.setattr(ev, "evaluate_set", counting)
    scored.clear()
    report = evaluate(seg, out, **kwargs)
    assert len(scored) == 4
    assert {r["prompt"] for r in report["metrics"] if r["dataset"] == "syn_crack"} >= {"segment hairline crack"}


def test_masks_are_scored_against_box_labels_through_the_box_adapter(synthetic_datasets):
    """evaluate asks for box-shaped masks only on box-labelled datasets: the product's masks stay as the model sees
    them, the comparison with box labels stays fair."""
    from drywallqa.engine.evaluator import build_eval_sets, evaluate_set
    from drywallqa.engine.segmenter import EncodedImage, SegmentationResult
    from drywallqa.engine.segmenter import Segmenter as Base

    class Recording(Base):
        asked = []

        def decode(self, encoded: EncodedImage, prompts, threshold=None, label_shape=None):
            self.asked.append(label_shape)
            z = np.zeros(encoded.rgb.shape[:2], np.float32)
            return SegmentationResult(masks={p: z > 0 for p in prompts}, probabilities={p: z for p in prompts})

    seg = Recording()
    for es in build_eval_sets(("syn_tape", "syn_crack"), which=("published",), datasets_dir=synthetic_datasets):
        seg.asked.clear()
        evaluate_set(seg, es, ("syn_tape", "syn_crack"), progress=False)
        assert seg.asked == [{"syn_tape": "box", "syn_crack": None}[es.dataset]] * len(es.samples)


def test_evaluate_out_on_a_file_is_a_clean_error(tmp_path):
    from typer.testing import CliRunner

    from drywallqa.cli import app

    (tmp_path / "file").write_text("x")
    for out in (tmp_path / "file", tmp_path / "file" / "sub"):
        res = CliRunner().invoke(app, ["evaluate", "--out", str(out), "--limit", "1", "--speed-images", "0"])
        assert res.exit_code == 2 and isinstance(res.exception, SystemExit), res.output
    assert (tmp_path / "file").read_text() == "x"


def test_splits_may_be_repeated_or_comma_separated(tiny_model_dir, synthetic_datasets, syn_splits, tmp_path):
    """``--splits group --splits val`` scores both parts (a repeat once silently kept only the last)."""
    import json

    from typer.testing import CliRunner

    from drywallqa.cli import app

    res = CliRunner().invoke(app, ["evaluate", "--model-path", str(tiny_model_dir), "-d", "syn_crack", "--splits", "val,group",
                                   "--splits", "group", "--limit", "2", "--speed-images", "0",
                                   "--splits-dir", str(syn_splits), "--datasets-dir", str(synthetic_datasets),
                                   "--out", str(tmp_path / "eval")])
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert sorted({r["split"] for r in report["metrics"]}) == ["group-clean test", "group-clean val"]


def test_a_dataset_without_valid_split_a_bad_train_files_json_and_an_unmakeable_out(synthetic_datasets, syn_splits,
                                                                                  tiny_model_dir, tmp_path):
    """Speed is timed on the scored photos where the first dataset has no valid split; a train_files.json that is not
    the trainer's leaves out the memory rows; an --out that cannot be made is a clean error, before any scoring."""
    import dataclasses
    import shutil

    from drywallqa.data import registry

    crack = registry.get_dataset_config("syn_crack")
    registry.register_dataset(dataclasses.replace(crack, name="syn_crack_train_only",
                                                  splits={"train": crack.splits["train"]}, manifest="syn_crack"))
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    (model / "train_files.json").write_text("[]")
    try:
        report = evaluate(Segmenter.load(model), tmp_path / "eval", datasets=("syn_crack_train_only",), which=("train",),
                          splits_dir=syn_splits, datasets_dir=synthetic_datasets, limit=2, speed_images=2,
                          model_dir=model, progress=False)
        assert report["speed"]["images"] == 2 and report["memory"] == []
        assert "NaN" not in (tmp_path / "eval" / "report.json").read_text()  # AUROC of one class: null
        (tmp_path / "file").write_text("x")
        with pytest.raises(ValueError, match="cannot make the output folder"):
            evaluate(Segmenter.load(model), tmp_path / "file" / "eval", datasets=("syn_crack",), which=("published",),
                     datasets_dir=synthetic_datasets, speed_images=0, progress=False)
    finally:
        registry.DATASETS.remove("syn_crack_train_only")


def test_an_empty_splits_selection_is_refused(tiny_model_dir, tmp_path):
    from typer.testing import CliRunner

    from drywallqa.cli import app

    for empty, said in (("", "--splits: must not be empty"), (",", "name at least one of")):
        res = CliRunner().invoke(app, ["evaluate", "--model-path", str(tiny_model_dir), "--splits", empty,
                                       "--out", str(tmp_path / "eval")], terminal_width=300)
        assert res.exit_code == 2 and said in " ".join(res.output.replace("\u2502", " ").split()), res.output


def test_a_dataset_listed_twice_is_refused_by_the_python_evaluate_too(tmp_path):
    """The CLI refused it; ``evaluate(...)`` from Python scored its photos twice."""
    from drywallqa.data.registry import DatasetListedTwice

    with pytest.raises(DatasetListedTwice, match="'cracks' is listed twice"):
        evaluate(None, tmp_path / "out", datasets=("cracks", "cracks"))
    assert not (tmp_path / "out").exists()


def test_an_empty_group_clean_part_says_why(synthetic_datasets, syn_splits, tmp_path):
    """'group-clean val of ...: no image to score' (evaluate, calibrate-confidence) and 'validation needs at least one
    photo per dataset' (ship) said nothing of why; the trainer did: the part's photos all in the published splits left
    out, or no datasets folder there."""
    import shutil

    from drywallqa.engine.evaluator import NothingToScoreError, build_eval_sets
    from drywallqa.engine.validator import Validator

    splits = tmp_path / "only_valid_in_val"
    shutil.copytree(syn_splits, splits)
    manifest = json.loads((splits / "syn_crack.json").read_text())
    everything = [f for files in manifest["parts"].values() for f in files]
    manifest["parts"]["val"] = [f for f in everything if f.startswith("valid/")]
    manifest["parts"]["train"] = [f for f in everything if not f.startswith("valid/")]
    manifest["parts"].update({p: [] for p in manifest["parts"] if p not in ("val", "train")})  # each photo in one part
    (splits / "syn_crack.json").write_text(json.dumps(manifest))
    left_out = r"all 4 of its photos are from the published splits left out \(valid, test"
    with pytest.raises(NothingToScoreError, match=f"group-clean val of 'syn_crack': no image to score: {left_out}"):
        build_eval_sets(("syn_crack",), ("val",), splits, synthetic_datasets)
    with pytest.raises(ValueError, match=f"dataset 'syn_crack' has no photos in part 'val': {left_out}"):
        Validator.from_parts(("syn_crack",), "val", splits, synthetic_datasets)
    with pytest.raises(NothingToScoreError, match=f"no image to score: no folder {tmp_path / 'nowhere'}.*--datasets-dir"):
        build_eval_sets(("syn_crack",), ("group",), syn_splits, tmp_path / "nowhere")


def test_an_evaluation_into_a_folder_another_one_writes_into_is_refused(synthetic_datasets, tiny_model_dir, tmp_path):
    """Two evaluations into one --out scored into one .partial/ and wrote their reports over each other's."""
    from filelock import FileLock
    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.engine.evaluator import EVAL_LOCK

    out = tmp_path / "eval"
    out.mkdir()
    with FileLock(str(out / EVAL_LOCK)):  # another evaluation, in another process or on another host
        with pytest.raises(ValueError, match=f"{out} is in use by another evaluation"):
            evaluate(Segmenter.load(tiny_model_dir), out, datasets=("syn_crack",), which=("published",),
                     datasets_dir=synthetic_datasets, speed_images=0, progress=False)
        res = CliRunner().invoke(app, ["evaluate", "--model-path", str(tiny_model_dir), "--out", str(out), "-d",
                                       "syn_crack", "--splits", "published", "--datasets-dir", str(synthetic_datasets),
                                       "--speed-images", "0"], terminal_width=300)
        assert res.exit_code == 1 and "is in use by another evaluation" in res.output, res.output
    assert sorted(p.name for p in out.iterdir()) == [EVAL_LOCK]  # nothing written by the refused runs
    report = evaluate(Segmenter.load(tiny_model_dir), out, datasets=("syn_crack",), which=("published",),
                      datasets_dir=synthetic_datasets, speed_images=0, progress=False)
    assert report["metrics"] and (out / "report.json").is_file()


@pytest.mark.parametrize("lock", ["a folder", "a link loop"])
def test_a_lock_file_that_cannot_be_opened_is_named_not_a_traceback(synthetic_datasets, tiny_model_dir, tmp_path, lock):
    """A folder (or a link to itself) where .evaluate.lock goes: evaluate ended in an IsADirectoryError traceback
    (and `train` with a bare "[Errno 21] Is a directory"); the same lock of training runs and zero-shot jobs."""
    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.engine.evaluator import EVAL_LOCK
    from drywallqa.engine.run_folder import run_lock

    out = tmp_path / "eval"
    out.mkdir()
    path = out / EVAL_LOCK
    path.mkdir() if lock == "a folder" else path.symlink_to(EVAL_LOCK)
    res = CliRunner().invoke(app, ["evaluate", "--model-path", str(tiny_model_dir), "--out", str(out), "-d",
                                   "syn_crack", "--splits", "published", "--datasets-dir", str(synthetic_datasets),
                                   "--speed-images", "0"], terminal_width=300)
    assert res.exit_code == 1 and isinstance(res.exception, (SystemExit, type(None))), res.exception
    assert f"{path} cannot be opened" in res.output and "remove it" in res.output, res.output
    assert sorted(p.name for p in out.iterdir()) == [EVAL_LOCK]
    (tmp_path / "run" / ".train.lock").mkdir(parents=True)
    with pytest.raises(ValueError, match="train.lock cannot be opened .* training run"):
        with run_lock(tmp_path / "run"):
            pass


@pytest.mark.parametrize("damage", ["partial_a_file", "set_a_folder"])
def test_a_partial_set_that_cannot_be_kept_leaves_the_evaluation_going(synthetic_datasets, tiny_model_dir, tmp_path,
                                                                       caplog, damage):
    """A file where .partial/ goes, or a folder where a set's saved file goes: the evaluation stopped with a
    FileExistsError / IsADirectoryError traceback once the set was scored."""
    from drywallqa.engine import evaluator

    seg = Segmenter.load(tiny_model_dir)
    kwargs = dict(datasets=("syn_crack",), which=("published",), datasets_dir=synthetic_datasets, speed_images=0,
                  progress=False)
    want = evaluate(seg, tmp_path / "clean", **kwargs)["metrics"]
    out = tmp_path / "eval"
    out.mkdir()
    if damage == "partial_a_file":
        (out / evaluator.PARTIAL_DIR).write_text("not a folder")
    else:
        (es,) = evaluator.build_eval_sets(("syn_crack",), ("published",), None, synthetic_datasets, None)
        name = evaluator.set_fingerprint(seg, None, es, ("syn_crack",))
        (out / evaluator.PARTIAL_DIR / f"{name}.pkl").mkdir(parents=True)
    with caplog.at_level("WARNING"):
        report = evaluate(seg, out, **kwargs)
    assert "cannot be written" in caplog.text and report["metrics"] == want and (out / "report.json").is_file()


def test_an_evaluation_into_a_folder_in_use_is_refused_before_the_model_loads(synthetic_datasets, tmp_path, monkeypatch):
    """As `train` says of a run folder in use: the refusal came only once the model had loaded (a hub model's load
    can take minutes)."""
    from filelock import FileLock
    from typer.testing import CliRunner

    import drywallqa.cli.evaluation as evaluation
    from drywallqa.cli import app
    from drywallqa.engine.evaluator import EVAL_LOCK

    out = tmp_path / "eval"
    out.mkdir()
    monkeypatch.setattr(evaluation, "load_segmenter", lambda *a, **k: pytest.fail("the model loaded"))
    with FileLock(str(out / EVAL_LOCK)):
        res = CliRunner().invoke(app, ["evaluate", "--out", str(out), "-d", "syn_crack", "--splits", "published",
                                       "--datasets-dir", str(synthetic_datasets)], terminal_width=300)
    assert res.exit_code == 1 and f"{out} is in use by another evaluation" in res.output, res.output


def test_evaluate_stopped_while_writing_its_report_leaves_no_earlier_report_beside_new_pictures(
        tiny_model_dir, synthetic_datasets, syn_splits, tmp_path, monkeypatch):
    """Stopped (Ctrl-C, SIGTERM) after examples.png was written, an evaluation left the earlier run's report.json and
    report.md beside this run's pictures, read as one finished evaluation, with a bare "the files finished are kept".
    Now the earlier report goes before the pictures are written, and the message says what the same command does."""
    import json

    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.engine import evaluator

    out = tmp_path / "eval"
    args = ["evaluate", "--model-path", str(tiny_model_dir), "-d", "syn_crack", "--splits", "published", "--limit", "2",
            "--speed-images", "0", "--splits-dir", str(syn_splits), "--datasets-dir", str(synthetic_datasets),
            "--out", str(out)]
    assert CliRunner().invoke(app, args).exit_code == 0
    grid = evaluator.grid

    def stopped(rows, columns, path, **kwargs):
        grid(rows, columns, path, **kwargs)
        raise KeyboardInterrupt  # once this run's examples.png is written

    monkeypatch.setattr(evaluator, "grid", stopped)
    res = CliRunner().invoke(app, args + ["--limit", "3"], terminal_width=300)
    assert res.exit_code == 130 and "the report was not written" in res.output and "scores the rest" in res.output
    assert (out / "examples.png").is_file() and not (out / "report.json").exists() and not (out / "report.md").exists()
    monkeypatch.setattr(evaluator, "grid", grid)
    res = CliRunner().invoke(app, args + ["--limit", "3"])
    assert res.exit_code == 0 and "reusing the results of an interrupted run" in res.output, res.output
    assert len(json.loads((out / "report.json").read_text())["metrics"]) > 0 and not (out / ".partial").exists()


def test_evaluate_stopped_while_scoring_does_not_call_an_earlier_runs_report_its_own(
        tiny_model_dir, synthetic_datasets, syn_splits, tmp_path, monkeypatch):
    """Stopped while its sets were scored, an evaluation into a folder holding an earlier run's report.json said
    "after the report was written: report.json is whole": that report is the earlier run's (removed only once this
    run's sets are scored)."""
    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.engine import evaluator

    out = tmp_path / "eval"
    args = ["evaluate", "--model-path", str(tiny_model_dir), "-d", "syn_crack", "--splits", "published", "--limit", "2",
            "--speed-images", "0", "--splits-dir", str(syn_splits), "--datasets-dir", str(synthetic_datasets),
            "--out", str(out)]
    assert CliRunner().invoke(app, args).exit_code == 0 and (out / "report.json").is_file()

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(evaluator, "evaluate_set", stopped)
    res = CliRunner().invoke(app, args + ["--limit", "3"], terminal_width=300)
    assert res.exit_code == 130, res.output
    assert "the report was not written" in res.output and "after the report was written" not in res.output, res.output


def test_undefined_scores_read_n_a_in_the_report_and_say_why(synthetic_datasets, syn_splits, tiny_model_dir, tmp_path):
    """A model that marks nothing has no precision (it was written 1.000), one dataset has no negative images for an
    AUROC and no other prompts for the cross-prompt check (written nan and an empty table)."""
    seg = Segmenter.load(tiny_model_dir, threshold=0.999)  # the tiny model's probabilities stay far below it
    out = tmp_path / "eval"
    report = evaluate(seg, out, datasets=("syn_crack",), which=("published",), splits_dir=syn_splits,
                      datasets_dir=synthetic_datasets, speed_images=0, model_dir=tiny_model_dir, progress=False)
    (row,) = report["metrics"]
    assert row["precision"] is None and row["recall"] == 0.0 and row["centerline_precision"] is None
    md = (out / "report.md").read_text()
    assert not re.search(r"\bnan\b", md, re.IGNORECASE)
    table = next(line for line in md.splitlines() if line.startswith("| published valid | syn_crack | segment crack |"))
    assert table.split(" | ")[8] == "n/a"  # the precision column
    assert "n/a: undefined for the split" in md
    (auroc,) = report["image_level"]
    assert auroc["negatives"] == 0 and "| published valid | segment crack | n/a | 4 | 0 |" in md
    assert "## Cross-prompt check" in md and "no dataset of another concept was evaluated" in md
    saved = json.loads((out / "report.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    assert saved["metrics"][0]["precision"] is None


def test_a_saved_set_that_is_not_the_evaluations_own_is_scored_anew_not_run(synthetic_datasets, syn_splits,
                                                                            tiny_model_dir, tmp_path, monkeypatch):
    """``.partial/*.pkl`` is read back from the output folder: a pickle there that names anything but the parts of a
    set's results (pickle calls what it names) must not be run, only scored over."""
    import pickle

    import drywallqa.engine.evaluator as ev

    kwargs = dict(datasets=("syn_crack",), which=("published",), splits_dir=syn_splits,
                  datasets_dir=synthetic_datasets, speed_images=0, model_dir=tiny_model_dir, progress=False)
    seg, out, ran = Segmenter.load(tiny_model_dir), tmp_path / "eval", tmp_path / "ran"
    (es,) = ev.build_eval_sets(("syn_crack",), ("published",), syn_splits, synthetic_datasets)
    saved = out / ev.PARTIAL_DIR / f"{ev.set_fingerprint(seg, tiny_model_dir, es, ('syn_crack',))}.pkl"
    saved.parent.mkdir(parents=True)

    class Payload:
        def __reduce__(self):
            return open, (str(ran), "w")

    saved.write_bytes(pickle.dumps(Payload()))
    real, scored = ev.evaluate_set, []
    monkeypatch.setattr(ev, "evaluate_set", lambda *a, **k: scored.append(1) or real(*a, **k))
    report = evaluate(seg, out, **kwargs)
    assert not ran.exists() and scored == [1] and report["metrics"][0]["images"] == 4
    # the set's own results, as saved by an interrupted run, still load (numpy arrays and scalars included)
    result = real(seg, es, ("syn_crack",), progress=False)
    ev._save_partial(result, saved)
    back = ev._load_partial(saved)
    assert back.rows == result.rows and np.array_equal(back.examples[0][0], result.examples[0][0])


@pytest.mark.parametrize("extra, expected", [
    (["--model", "clipseg"], None),  # a hub model's default weights: no folder of its own (was the shipped model's)
    (["--model", "clipseg", "--model-path", "CIDAS/clipseg-rd64-refined"], None),  # a hub id: no folder here
    ([], "shipped"), (["--model-path", "fast"], "shipped"), (["--model", "film_unet", "--model-path", "fast"], "shipped"),
    (["--pipeline", "zeroshot"], None)])
def test_the_report_describes_the_model_scored_not_the_shipped_one(extra, expected, tmp_path, monkeypatch):
    """`evaluate --model clipseg` scored the hub CLIPSeg but handed evaluate the shipped model's folder: the report
    gave CLIPSeg the shipped model's size on disk, and its table of seen photos the shipped model's training files."""
    from typer.testing import CliRunner

    import drywallqa.cli.evaluation as evaluation
    import drywallqa.engine.evaluator as evaluator
    from drywallqa.cli import app
    from drywallqa.models.shipped import resolve_model_dir

    passed = {}

    def fake_evaluate(seg, out, **kwargs):
        passed.update(kwargs)
        raise ValueError("stop here")

    monkeypatch.setattr(evaluation, "load_segmenter", lambda *a, **k: object())
    monkeypatch.setattr(evaluator, "evaluate", fake_evaluate)
    CliRunner().invoke(app, ["evaluate", *extra, "--out", str(tmp_path / "eval"), "--speed-images", "0"])
    assert "model_dir" in passed
    assert passed["model_dir"] == (resolve_model_dir() if expected == "shipped" else None)


def test_with_a_limit_the_data_problems_name_only_photos_scored(synthetic_datasets):
    """The report's "Data problems (the photos were scored with what could be read)" listed, under --limit, the
    problems of photos left out of the run (evaluate --limit 6 named two taping photos it never scored)."""
    from drywallqa.engine.evaluator import build_eval_sets

    ann = synthetic_datasets / "crack" / "valid" / "_annotations.coco.json"
    coco = json.loads(ann.read_text())
    last = coco["images"][-1]["id"]
    coco["annotations"].append({"id": 99, "image_id": last, "category_id": 1, "bbox": [1, 1, 4, 4],
                                "segmentation": [[1, 1, 5, 5]], "area": 16})  # a 2-point polygon: dropped, a problem
    ann.write_text(json.dumps(coco))
    whole = build_eval_sets(("syn_crack",), ("published",), datasets_dir=synthetic_datasets)[0]
    assert len(whole.notes) == 1 and coco["images"][-1]["file_name"] in whole.notes[0] and not whole.problems
    limited = build_eval_sets(("syn_crack",), ("published",), datasets_dir=synthetic_datasets, limit=2)[0]
    assert len(limited.samples) == 2 and limited.notes == [] and limited.problems == []


def test_a_resumed_python_evaluation_without_model_dir_scores_other_weights_anew(synthetic_datasets, tiny_model_dir,
                                                                                  tmp_path):
    """evaluate() from Python without model_dir keyed its saved sets on the settings alone: run again with a model of
    other weights (same settings) over an interrupted evaluation, it reported the first model's sets as the second's."""
    import shutil

    import torch

    from conftest import TINY_MODEL
    from drywallqa.engine import evaluator
    from drywallqa.models import create_model

    other = tmp_path / "other"
    shutil.copytree(tiny_model_dir, other)
    torch.manual_seed(7)
    create_model("film_unet", **TINY_MODEL).save_pretrained(tmp_path / "fresh")
    shutil.copy(tmp_path / "fresh" / "model.safetensors", other / "model.safetensors")
    (es,) = evaluator.build_eval_sets(("syn_crack",), ("published",), None, synthetic_datasets, None)
    first, second = Segmenter.load(tiny_model_dir), Segmenter.load(other)
    assert first.settings() == second.settings()
    assert evaluator.set_fingerprint(first, None, es, ("syn_crack",)) != evaluator.set_fingerprint(second, None, es, ("syn_crack",))
    assert evaluator.set_fingerprint(first, None, es, ("syn_crack",)) == evaluator.set_fingerprint(
        Segmenter.load(tiny_model_dir), None, es, ("syn_crack",))


def test_an_evaluation_into_the_model_s_own_folder_is_refused(synthetic_datasets, tiny_model_dir, tmp_path):
    """``evaluate --out MODEL`` wrote report.json, the pictures, .partial/ and its lock among the model's files: into
    every copy, ONNX export and ship of the folder (a re-export into it was refused). Refused before the model loads,
    inside the folder too; beside it is fine."""
    import shutil

    from typer.testing import CliRunner

    from drywallqa.cli import app

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    before = sorted(p.name for p in model.iterdir())
    for out in (model, model / "eval"):
        res = CliRunner().invoke(app, ["evaluate", "--model-path", str(model), "--out", str(out), "-d", "syn_crack",
                                       "--datasets-dir", str(synthetic_datasets), "--splits", "published",
                                       "--speed-images", "0"])
        assert res.exit_code == 2 and "folder of the model scored" in " ".join(res.output.replace("│", " ").split())
        with pytest.raises(ValueError, match="folder of the model scored"):
            evaluate(Segmenter.load(model), out, datasets=("syn_crack",), which=("published",),
                     datasets_dir=synthetic_datasets, speed_images=0, model_dir=model, progress=False)
    assert sorted(p.name for p in model.iterdir()) == before
    res = CliRunner().invoke(app, ["evaluate", "--model-path", str(model), "--out", str(tmp_path / "beside"), "-d",
                                   "syn_crack", "--datasets-dir", str(synthetic_datasets), "--splits", "published",
                                   "--speed-images", "0"])
    assert res.exit_code == 0, res.output
