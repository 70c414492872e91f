"""benchmarks/run_benchmark.py: the shipped models side by side (models.md)."""

import sys

import pytest


def _report(crack_valid, crack_test, taping_valid, taping_test, first, extra, mb):
    rows = [{"split": split, "dataset": ds, "prompt": prompt, "mIoU": v}
            for split, ds, prompt, v in (("published valid", "cracks", "segment crack", crack_valid),
                                         ("group-clean test", "cracks", "segment crack", crack_test),
                                         ("published valid", "cracks", "segment wall crack", 0.0),
                                         ("published valid", "taping", "segment taping area", taping_valid),
                                         ("group-clean test", "taping", "segment taping area", taping_test))]
    return {"metrics": rows, "speed": {"median_ms_first_prompt": first, "median_ms_per_extra_prompt": extra}, "model_mb": mb}


def test_models_table_puts_each_model_on_one_row(load_script):
    bench = load_script("run_benchmark", "benchmarks")
    table = bench.models_table({"fast": _report(0.475, 0.43, 0.776, 0.679, 102.9, 25.9, 17.7),
                                "accurate": _report(0.61, 0.56, 0.81, 0.73, 900.0, 60.0, 35.2)}).splitlines()
    assert table[0].startswith("| model | crack mIoU valid / test")
    assert table[2] == "| fast | 0.475 / 0.430 | 0.776 / 0.679 | 102.9 | 25.9 | 17.7 |"  # canonical prompts only
    assert table[3] == "| accurate | 0.610 / 0.560 | 0.810 / 0.730 | 900.0 | 60.0 | 35.2 |"
    partial = bench.models_table({"x": {"metrics": [], "model_mb": 1.0}}).splitlines()[2]
    assert partial == "| x | n/a / n/a | n/a / n/a | n/a | n/a | 1.0 |"


def test_large_photos_refuses_a_grid_larger_than_a_split_before_loading_models(load_script, monkeypatch, capsys):
    """--grid 15 over 201 photos made no mosaic and died in statistics.median (StatisticsError), after the models
    loaded."""
    import sys

    import pytest

    lp = load_script("large_photos", "benchmarks")
    monkeypatch.setattr(lp, "load_split", lambda dataset, split: ([object()] * {"cracks": 201, "taping": 250}[dataset], []))
    monkeypatch.setattr(lp.Segmenter, "load", lambda *a, **k: pytest.fail("the models loaded before the check"))
    monkeypatch.setattr(sys, "argv", ["large_photos.py", "--grid", "15"])
    with pytest.raises(SystemExit) as exc:
        lp.main()
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "225 photos, more than the 201 published valid photos of cracks" in err and "--grid 14 or less" in err
    lp.check_grid(3, {"cracks": 201, "taping": 9})  # enough photos: no word


def test_large_photos_labels_each_picture_with_its_own_dataset(load_script, tmp_path):
    """A dataset that makes no mosaic has no picture: the labels were a fixed list of both datasets, so the picture of
    taping would have been labelled with the crack prompt."""
    from conftest import one_taping_sample

    lp = load_script("large_photos", "benchmarks")
    sample, whole = one_taping_sample(tmp_path)
    rows, pictures, labels = lp.run_modes({"whole photo": whole}, {"cracks": [], "taping": [sample]}, 1)
    assert labels == ["segment taping area"] and len(pictures) == 1 and len(pictures[0]) == 3
    assert [(r["dataset"], r["mIoU"]) for r in rows] == [("taping", 1.0)]


def test_load_test_checks_its_image_and_out_before_the_server_starts(load_script, tmp_path, monkeypatch):
    """A missing --image was a FileNotFoundError after the server started, and the default image a path relative to
    the repository, missing from any other folder."""
    import pytest

    lt = load_script("load_test", "benchmarks")
    monkeypatch.chdir(tmp_path)
    lt.check_inputs(lt.DEFAULT_IMAGE, tmp_path / "out")  # the default image, from another folder
    with pytest.raises(ValueError, match=r"--image: .*nope.jpg: no such file"):
        lt.check_inputs(tmp_path / "nope.jpg", tmp_path / "out")
    (tmp_path / "notes.txt").write_text("not a photo")
    with pytest.raises(ValueError, match=r"--image: .*notes.txt: not a readable image"):
        lt.check_inputs(tmp_path / "notes.txt", tmp_path / "out")
    with pytest.raises(ValueError, match=r"--out: .*is a file"):
        lt.check_inputs(lt.DEFAULT_IMAGE, tmp_path / "notes.txt")


def test_load_test_names_why_the_server_did_not_start(load_script, tmp_path):
    """A bad --model-path waited the full 120 s, then said "the server did not start" and no more: its error output
    went to DEVNULL and its exit was never noticed."""
    import subprocess
    import sys
    import tempfile
    import time

    import pytest

    lt = load_script("load_test", "benchmarks")
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen([sys.executable, "-c", "import sys; sys.stderr.write('no model folder /x\\n'); sys.exit(2)"],
                                  stderr=log)
        t0 = time.perf_counter()
        with pytest.raises(SystemExit) as exc:
            lt.wait_for_server(server, f"http://127.0.0.1:{lt.free_port()}/healthz", log, timeout=60)
    assert time.perf_counter() - t0 < 30
    assert "exited with code 2" in str(exc.value) and "no model folder /x" in str(exc.value)


def test_load_test_with_no_answered_request_writes_standard_json(load_script, tmp_path):
    """With no request answered the latencies were NaN, written into load_test.json (NaN is no JSON)."""
    import json
    from types import SimpleNamespace

    lt = load_script("load_test", "benchmarks")
    report = lt.summarize([(503, 10.0), (-1, 60000.0)], 60.0, SimpleNamespace(requests=2, concurrency=1, server_concurrency=1))
    lt.write_report(report, tmp_path / "out")
    text = (tmp_path / "out" / "load_test.json").read_text()
    assert "NaN" not in text
    loaded = json.loads(text)
    assert loaded["p50_ms_ok"] is None and loaded["unexpected_errors"] == 1
    assert "| p50_ms_ok | n/a |" in (tmp_path / "out" / "load_test.md").read_text()


def test_benchmark_reports_and_pictures_are_replaced_whole(load_script, tmp_path):
    """run_model rewrote the report.json evaluate had just written whole with a plain write_text (and bar.*,
    side_by_side.md, the pictures likewise): a kill left half a file. Each is now renamed into place, so a file that
    shares the old one's bytes (a hard link: what a reader holds open) keeps them whole."""
    import os

    import numpy as np

    from drywallqa.viz import grid

    bench = load_script("run_benchmark", "benchmarks")
    out, kept = tmp_path / "out", tmp_path / "kept"
    out.mkdir()
    kept.mkdir()
    names = ["report.json", "report.md", "bar.json", "bar.md", "side_by_side.md", "pictures.png"]
    for name in names:
        (out / name).write_text("earlier")
        os.link(out / name, kept / name)
    row = {"split": "published valid", "dataset": "cracks", "prompt": "segment crack", "mIoU": 0.7, "mDice": 0.8,
           "mIoU_CI95": [0.6, 0.8], "images": 3}
    tables = bench.write_model_reports({"metrics": [row], "cross_prompt": []}, "# report\n", out)
    grid([[np.zeros((8, 8, 3), np.uint8)]], ["photo"], out / "pictures.png")
    assert all((kept / name).read_text() == "earlier" for name in names)
    assert (out / "report.md").read_text() == "# report\n" and "| cracks | segment crack | 0.700 (0.60-0.80)" in tables
    assert (out / "bar.md").read_text() in tables and (out / "pictures.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in out.iterdir()) == sorted(names)  # no temporary file left


def test_the_qa_measures_picture_is_drawn_whole(load_script, monkeypatch, tmp_path):
    import sys

    from PIL import Image

    picture = load_script("qa_measures_picture", folder="docs")
    out = tmp_path / "qa.png"
    monkeypatch.setattr(sys, "argv", ["qa_measures_picture.py", str(out)])
    picture.main()
    with Image.open(out) as image:
        assert image.width > 1000 and image.height > 500
    assert [p.name for p in tmp_path.iterdir()] == ["qa.png"]  # no temporary file left


def test_batch_outputs_benchmark_times_and_checks_coco_coding(load_script):
    """benchmarks/batch_outputs.py on small masks: a row per mask kind, and the shipped COCO coding equal to
    whole-photo coding (what the benchmark checks besides timing)."""
    bench = load_script("batch_outputs", "benchmarks")
    rows = bench.run(repeats=1, sizes={"tiny": (60, 80)})
    assert [r["mask"] for r in rows] == ["specks", "blobs", "cracks"]
    assert all(r["regions"] > 0 and r["coco_polygon_same"] and r["coco_rle_same"] for r in rows)
    table = bench.markdown(rows, 2, 1)
    assert "| specks | tiny |" in table and "| yes |" in table and "NO" not in table


def test_prompts_whose_masks_come_from_one_map_are_said_to_be_one_measurement(load_script):
    """The three taping prompts read the box adapter's map: their rows were equal to every digit and the 'within 0.03
    of canonical' check passed by construction, which neither the report nor the bar said."""
    from drywallqa.engine.eval_report import render_markdown
    from drywallqa.engine.evaluator import map_of

    class Adapted:
        def postprocess_for(self, prompt, label_shape=None):
            return {"name": "boxes", "prompt": "bounding box of taped joint"} if label_shape == "box" else None

        def understood(self, prompt):
            return "segment crack" if prompt == "where is the crack" else prompt

    seg = Adapted()
    assert map_of(seg, "segment joint/tape", "box") == "bounding box of taped joint"
    assert map_of(seg, "segment joint/tape", None) == "segment joint/tape"
    assert map_of(seg, "where is the crack", None) == "segment crack"
    bench = load_script("run_benchmark", "benchmarks")
    row = {"split": "published valid", "dataset": "taping", "images": 202, "mIoU": 0.776, "mDice": 0.86, "pooled_IoU": 0.76,
           "precision": 0.8, "recall": 0.9, "pixel_AP": 0.9, "pixel_F1max": 0.85}
    report = {"metrics": [{**row, "prompt": "segment taping area", "map_of": "bounding box of taped joint"},
                          {**row, "prompt": "segment drywall seam", "map_of": "bounding box of taped joint"}],
              "cross_prompt": []}
    checks = [c["check"] for c in bench.check_bar(report)]
    assert "taping 'segment drywall seam' mIoU within 0.03 of canonical (both masks of 'bounding box of taped joint')" in checks
    lines = render_markdown({**report, "model": {}, "empty_convention": "x"}).splitlines()
    assert any("| segment drywall seam (masks of 'bounding box of taped joint') |" in line for line in lines)


def test_the_split_audit_finds_a_turned_copy_the_thumbnail_gate_lets_through(load_script, synthetic_datasets, tmp_path):
    """benchmarks/split_audit.py: a test photo that is a training photo turned by 12 degrees (thumbnails too far
    apart for `data split` to look closer) is named with the training photo; an unrelated one is not."""
    import json

    import cv2
    import numpy as np
    import pytest
    from PIL import Image

    from conftest import wall_photo

    from drywallqa.data.grouping import CANDIDATE_DIFF, GroupSplit, near_duplicate_matches

    folder = synthetic_datasets / "crack" / "train"
    wall = wall_photo(1)
    turned = cv2.warpAffine(wall, cv2.getRotationMatrix2D((240, 180), 12, 1.15), (480, 360))
    names = {"wall_jpg.rf.a.jpg": wall, "turned_jpg.rf.b.jpg": turned, "other_jpg.rf.c.jpg": wall_photo(2)}
    for name, img in names.items():
        Image.fromarray(img).save(folder / name, quality=92)
        Image.fromarray(np.zeros(img.shape[:2], np.uint8)).save(folder / "_masks" / name.replace(".jpg", ".png"))
    paths = [folder / n for n in names]
    assert near_duplicate_matches(paths[:2]) == [], "the thumbnail gate lets this copy through"
    assert CANDIDATE_DIFF < 0.3
    split = GroupSplit("syn_crack", 0, {"train": 0.5, "val": 0.25, "test": 0.25},
                       {"train": ["train/wall_jpg.rf.a.jpg"], "val": [], "test": ["train/turned_jpg.rf.b.jpg",
                                                                                  "train/other_jpg.rf.c.jpg"]})
    split.to_json(tmp_path / "splits" / "syn_crack.json")
    audit = load_script("split_audit", "benchmarks").audit("syn_crack", tmp_path / "splits", synthetic_datasets, 4)
    found = audit["same_photo_in_train"]
    assert [(r["photo"], r["train_photo"]) for r in found["test"]] == [("train/turned_jpg.rf.b.jpg", "train/wall_jpg.rf.a.jpg")]
    assert found["val"] == [] and audit["parts"] == {"train": 1, "val": 0, "test": 2}
    json.dumps(audit)
    csv_path = tmp_path / "per_image.csv"  # an evaluate run's rows: the photo found (and a copy of it by name) apart
    csv_path.write_text("split,dataset,image,prompt,iou\n" + "".join(
        f"group-clean test,syn_crack,{synthetic_datasets}/crack/train/{name},segment crack,{iou}\n"
        for name, iou in (("turned_jpg.rf.b.jpg", 0.9), ("turned_jpg.rf.z.jpg", 0.7), ("other_jpg.rf.c.jpg", 0.2)))
        + "group-clean test,syn_crack,x/other_jpg.rf.c.jpg,segment wall crack,0.0\n")
    scores = load_script("split_audit", "benchmarks").scores_without(audit, csv_path)
    assert scores["found"] == {"images": 2, "mIoU": pytest.approx(0.8)} and scores["others"] == {"images": 1, "mIoU": 0.2}
    assert scores["all"]["images"] == 3
    script = load_script("split_audit", "benchmarks")
    report = "\n".join(script.markdown({**audit, "scores": scores}, csv_path))
    assert "| test | 2 | 1 |" in report and "0.200 over the 1 without those found, which score 0.800 (2 photos)" in report
    # nothing found (the shipped manifests since 0.6.18): the report was a traceback formatting the found photos' None
    clean = {**audit, "same_photo_in_train": {"val": [], "test": []}}
    report = "\n".join(script.markdown({**clean, "scores": script.scores_without(clean, csv_path)}, csv_path))
    assert "mIoU 0.600 over 3 photos (none of them found to be a training photo)" in report and "## test" not in report


def test_the_split_audit_of_a_dataset_yaml_writes_into_out_under_the_dataset_name(load_script, tmp_path, monkeypatch):
    """benchmarks/split_audit.py -d path/to/my_walls.yaml (a dataset of one's own, docs/data.md): the audit is
    `--out`/my_walls.json and .md. The files were named after the argument, so an absolute YAML path wrote
    `my_walls.yaml.json` beside the YAML, outside --out; and --per-image, whose rows name the dataset `my_walls`,
    matched none of them and the report was a TypeError traceback."""
    import sys

    import numpy as np
    import pytest
    from PIL import Image

    from conftest import wall_photo

    from drywallqa.data.grouping import GroupSplit

    folder = tmp_path / "exports" / "walls" / "train"
    (folder / "_masks").mkdir(parents=True)
    names = ["a_jpg.rf.a.jpg", "b_jpg.rf.b.jpg", "c_jpg.rf.c.jpg"]
    for seed, name in enumerate(names, 1):
        Image.fromarray(wall_photo(seed)).save(folder / name, quality=92)
        Image.fromarray(np.zeros((360, 480), np.uint8)).save(folder / "_masks" / name.replace(".jpg", ".png"))
    decl = tmp_path / "decl" / "my_walls.yaml"
    decl.parent.mkdir()
    decl.write_text(f"name: my_walls\nfolder: {tmp_path / 'exports' / 'walls'}\nprompts: [segment crack]\n")
    splits = tmp_path / "splits"
    GroupSplit("my_walls", 0, {"train": 0.5, "val": 0.25, "test": 0.25},
               {"train": [f"train/{n}" for n in names[:2]], "val": [], "test": [f"train/{names[2]}"]}
               ).to_json(splits / "my_walls.json")
    per_image = tmp_path / "per_image.csv"
    per_image.write_text(f"split,dataset,image,prompt,iou\ngroup-clean test,my_walls,{folder / names[2]},segment crack,0.5\n")
    out = tmp_path / "audit"
    monkeypatch.setattr(sys, "argv", ["split_audit.py", "-d", str(decl), "--out", str(out), "--splits-dir", str(splits),
                                      "--per-image", str(per_image)])
    assert load_script("split_audit", "benchmarks").main() == 0
    assert sorted(p.name for p in out.iterdir()) == ["my_walls.json", "my_walls.md"]
    assert sorted(p.name for p in decl.parent.iterdir()) == ["my_walls.yaml"]
    assert "mIoU 0.500 over 1 photos" in (out / "my_walls.md").read_text()
    monkeypatch.setattr(sys, "argv", ["split_audit.py", "-d", "no_such_dataset", "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit) as stop:  # a usage error naming it, not a traceback
        load_script("split_audit", "benchmarks").main()
    assert stop.value.code == 2


@pytest.mark.parametrize("name", ["run_benchmark", "cracks_on_drywall", "prompt_gate", "encoder_speed", "batch_outputs",
                                  "tile_sizes"])
def test_benchmarks_check_out_before_they_run(name, load_script, tmp_path, monkeypatch, capsys):
    """An --out that is a file (or lies below one) failed with a FileExistsError or NotADirectoryError traceback
    once the whole run was done (minutes to hours); now a usage error before anything runs."""
    script = load_script(name, "benchmarks")
    for attr in ("Segmenter", "run", "load_split", "evaluate", "resolve_model_dir"):  # nothing may run before the check
        if hasattr(script, attr):
            monkeypatch.setattr(script, attr, lambda *a, **k: pytest.fail("the run began before --out was checked"))
    (tmp_path / "file").write_text("x")
    for out, said in ((tmp_path / "file", "is a file"), (tmp_path / "file" / "d", "lies below a file")):
        monkeypatch.setattr(sys, "argv", [f"{name}.py", "--out", str(out)])
        with pytest.raises(SystemExit) as exc:
            script.main()
        assert exc.value.code == 2 and said in capsys.readouterr().err


def _small_prompt_gate_run(gate, tmp_path, monkeypatch, model_dir, *options):
    """prompt_gate.py on one photo of 64x80 px, two unrelated prompts and one paraphrase; returns its report."""
    import json
    from types import SimpleNamespace

    import numpy as np
    from PIL import Image

    from conftest import wall_photo

    Image.fromarray(wall_photo(0, 64, 80)).save(tmp_path / "a.jpg")
    sample = SimpleNamespace(image_path=tmp_path / "a.jpg", load_mask=lambda: np.zeros((64, 80), bool),
                             load_target=lambda: np.zeros((64, 80), np.uint8))
    monkeypatch.setattr(gate, "load_split", lambda dataset, split: ([sample], []))
    monkeypatch.setattr(gate.vocabulary, "unrelated", lambda part: ["segment window", "segment door"])
    monkeypatch.setattr(gate.vocabulary, "paraphrases", lambda dataset, part: ["segment the crack"])
    out = tmp_path / "out"
    monkeypatch.setattr(sys, "argv", ["prompt_gate.py", "--model-path", str(model_dir), "--out", str(out), *options])
    gate.main()
    return json.loads((out / "prompt_gate.json").read_text()), (out / "prompt_gate.md").read_text()


def test_prompt_gate_of_a_model_without_a_gate_says_it_answers_every_prompt(load_script, tiny_model_dir, tmp_path,
                                                                            monkeypatch):
    """A model folder without a prompt gate (a run's best/ before calibrate-gate) stopped in a KeyError traceback:
    its match_prompts is empty, and each prompt was looked up in it."""
    report, _ = _small_prompt_gate_run(load_script("prompt_gate", "benchmarks"), tmp_path, monkeypatch, tiny_model_dir,
                                       "--raw-sample", "1")
    assert report["unrelated_answered"] == ["segment window", "segment door"]
    cracks = report["datasets"]["cracks"]
    assert cracks["paraphrases_answered"] == 1 and all(cracks["known_prompts_answered"].values())


def test_prompt_gate_with_no_raw_sample_writes_its_report(load_script, tiny_model_dir, tmp_path, monkeypatch):
    """--raw-sample 0 (its type allows 0: no comparison with the gate off) stopped at the first photo in a ValueError
    traceback, "give at least one prompt": the ungated model was asked no prompt."""
    report, md = _small_prompt_gate_run(load_script("prompt_gate", "benchmarks"), tmp_path, monkeypatch, tiny_model_dir,
                                        "--raw-sample", "0")
    assert report["datasets"]["cracks"]["unrelated_mean_foreground_gate_off_sample_of_0"] is None
    assert "| n/a |" in md


@pytest.mark.parametrize("per_image, says", [
    ("missing.csv", "not found"), (".", "a folder"), ("scores.csv", "no column iou"),
    ("cut.csv", "line 2: cut short, or an IoU that is no number"),
])
def test_the_split_audit_checks_per_image_and_out_before_it_searches(per_image, says, load_script, tmp_path, monkeypatch,
                                                                      capsys):
    """A --per-image that is missing or no per_image.csv stopped the audit in a traceback once its search (13 minutes
    for the cracks) was done, and nothing was written; an --out that is a file was a ValueError traceback."""
    script = load_script("split_audit", "benchmarks")
    monkeypatch.setattr(script, "audit", lambda *a, **k: pytest.fail("the search began before the options were checked"))
    (tmp_path / "scores.csv").write_text("split,dataset,prompt,image,score\n")
    (tmp_path / "cut.csv").write_text("split,dataset,prompt,image,iou\ngroup-clean test,cracks,segment crack\n")
    (tmp_path / "file").write_text("x")
    for argv, said in ((["--per-image", str(tmp_path / per_image), "--out", str(tmp_path / "out")], says),
                       (["--out", str(tmp_path / "file")], "is a file")):
        monkeypatch.setattr(sys, "argv", ["split_audit.py", "-d", "cracks", *argv])
        with pytest.raises(SystemExit) as exc:
            script.main()
        assert exc.value.code == 2 and said in capsys.readouterr().err


def test_request_memory_checks_its_options_before_the_first_case(load_script, tmp_path, monkeypatch, capsys):
    """--out that is a file was a ValueError traceback; a --model-path that is not there was the first case's process's
    traceback; --sides below 8 px a traceback from an empty photo."""
    script = load_script("request_memory", "benchmarks")
    monkeypatch.setattr(script.subprocess, "run", lambda *a, **k: pytest.fail("a case ran before the options were checked"))
    (tmp_path / "file").write_text("x")
    for argv, said in ((["--out", str(tmp_path / "file")], "is a file"),
                       (["--out", str(tmp_path / "out"), "--model-path", str(tmp_path / "nope")], "no such folder"),
                       (["--out", str(tmp_path / "out"), "--sides", "4"], "must be at least 32")):
        monkeypatch.setattr(sys, "argv", ["request_memory.py", *argv])
        with pytest.raises(SystemExit) as exc:
            script.main()
        assert exc.value.code == 2 and said in capsys.readouterr().err, argv


@pytest.mark.parametrize("name", ["run_benchmark", "cracks_on_drywall", "prompt_gate", "large_photos", "tile_sizes"])
def test_benchmarks_name_a_model_path_that_is_no_model(name, load_script, tmp_path, monkeypatch, capsys):
    """A --model-path that is not there (or a training run, not its best/) was a FileNotFoundError traceback; with
    several models in run_benchmark, after the full runs of the models before it."""
    script = load_script(name, "benchmarks")
    if name == "large_photos":
        monkeypatch.setattr(script, "load_split", lambda dataset, split: ([object()] * 9, []))
    for attr in ("run_model", "run", "score_cracks_on_drywall", "run_modes"):  # nothing may run before the check
        if hasattr(script, attr):
            monkeypatch.setattr(script, attr, lambda *a, **k: pytest.fail("the run began before --model-path was checked"))
    if name == "cracks_on_drywall":  # its photos are read first
        monkeypatch.setattr(script, "transplant_pairs", lambda *a, **k: [])
    for model in (tmp_path / "nope", tmp_path):
        extra = ["--model-path", "fast"] if name == "run_benchmark" else []  # a good one first
        monkeypatch.setattr(sys, "argv", [f"{name}.py", *extra, "--model-path", str(model), "--out", str(tmp_path / "o")])
        with pytest.raises(SystemExit) as exc:
            script.main()
        said = str(exc.value.code) + capsys.readouterr().err
        assert str(model) in said and "Traceback" not in said, said
        assert not (tmp_path / "o").exists()


def test_encoder_speed_finds_its_recipes_from_any_working_folder(load_script, tmp_path, monkeypatch):
    """Its training recipes were paths relative to the repository: run from another folder, it loaded the shipped
    model, then stopped in a "config file ... not found" traceback."""
    from pathlib import Path

    from drywallqa.engine.config import TrainConfig

    script = load_script("encoder_speed", "benchmarks")
    monkeypatch.chdir(tmp_path)
    assert [TrainConfig.from_yaml(r).model_config["encoder"] for r in script.RECIPES] == ["hed_vgg16", "scratch"]
    assert [Path(r).stem for r in script.RECIPES] == ["gpu_accurate_hed_vgg16", "gpu_accurate_scratch_control"]


@pytest.mark.parametrize("text", ['{"dataset": "cracks", "same_photo', "[]", '{"dataset": "cracks"}',
                                  '{"parts": {}, "same_photo_in_train": {"test": [{"photo": "a.jpg"}]}}'])
def test_the_split_audit_names_a_damaged_earlier_result_it_is_told_to_reuse(text, load_script, tmp_path, monkeypatch,
                                                                            capsys):
    """--reuse of a <dataset>.json cut short or edited was a JSONDecodeError, KeyError or TypeError traceback."""
    script = load_script("split_audit", "benchmarks")
    monkeypatch.setattr(script, "audit", lambda *a, **k: pytest.fail("--reuse searched again"))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "cracks.json").write_text(text)
    monkeypatch.setattr(sys, "argv", ["split_audit.py", "-d", "cracks", "--out", str(tmp_path / "out"), "--reuse"])
    with pytest.raises(SystemExit) as exc:
        script.main()
    assert exc.value.code == 2 and "cannot be read as an audit" in capsys.readouterr().err
    assert (tmp_path / "out" / "cracks.json").read_text() == text


@pytest.mark.parametrize("name", ["run_benchmark", "cracks_on_drywall"])
def test_benchmarks_name_a_splits_dir_without_manifests_before_the_models_load(name, load_script, tmp_path,
                                                                                 monkeypatch, capsys):
    """--splits-dir that is missing, a file, or holds no manifest of the datasets was a FileNotFoundError traceback
    once the models had loaded."""
    script = load_script(name, "benchmarks")
    monkeypatch.setattr(script.Segmenter, "load", lambda *a, **k: pytest.fail("the models loaded before the check"))
    (tmp_path / "file").write_text("x")
    (tmp_path / "empty").mkdir()
    for splits, said in (("nope", "cracks.json: no split manifest"), ("file", "is a file"),
                         ("empty", "cracks.json: no split manifest")):
        monkeypatch.setattr(sys, "argv", [f"{name}.py", "--splits-dir", str(tmp_path / splits), "--out",
                                          str(tmp_path / "o")])
        with pytest.raises(SystemExit) as exc:
            script.main()
        assert exc.value.code == 2 and said in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_the_split_audit_says_which_photos_it_could_not_audit(load_script, synthetic_datasets, tmp_path):
    """Photos the manifest names that are not there were skipped without a word, the report counting them among the
    photos audited ("| test | 2 | 0 |": a clean split); with a wrong --datasets-dir (no training photo there) the
    audit stopped in "need at least one array to concatenate"."""
    import numpy as np
    from PIL import Image

    from conftest import wall_photo

    from drywallqa.data.grouping import GroupSplit

    script = load_script("split_audit", "benchmarks")
    folder = synthetic_datasets / "crack" / "train"
    for seed, name in enumerate(("wall_jpg.rf.a.jpg", "other_jpg.rf.c.jpg"), 1):
        Image.fromarray(wall_photo(seed)).save(folder / name, quality=92)
        Image.fromarray(np.zeros((360, 480), np.uint8)).save(folder / "_masks" / name.replace(".jpg", ".png"))
    GroupSplit("syn_crack", 0, {"train": 0.5, "val": 0.25, "test": 0.25},
               {"train": ["train/wall_jpg.rf.a.jpg"], "val": [],
                "test": ["train/other_jpg.rf.c.jpg", "train/deleted_jpg.rf.d.jpg"]}).to_json(tmp_path / "splits" / "syn_crack.json")
    result = script.audit("syn_crack", tmp_path / "splits", synthetic_datasets, 4)
    assert result["photos_not_found"] == {"test": 1} and result["same_photo_in_train"]["test"] == []
    assert "Not audited, named by the manifest but not found: 1 of test." in script.markdown(result)
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(ValueError, match="none of the 1 training photos of the manifest could be read"):
        script.audit("syn_crack", tmp_path / "splits", tmp_path / "elsewhere", 4)
    with pytest.raises(FileNotFoundError, match="no split manifest"):
        script.audit("syn_crack", tmp_path / "nope", synthetic_datasets, 4)


@pytest.mark.parametrize("lock, said", [(".benchmark.lock", "in use by another benchmark"),
                                        (".evaluate.lock", "in use by another evaluation")])
def test_a_benchmark_into_an_out_in_use_is_refused_before_the_model_loads(lock, said, load_script, tmp_path,
                                                                          monkeypatch, capsys):
    """Two benchmarks into one --out: evaluate's own lock ends before the benchmark writes report.json, bar.md and
    side_by_side.md, so the second's evaluation ran beside the first's reports and the folder ended with a mix of
    both; an evaluation writing there was a ValueError traceback after the model loaded."""
    from filelock import FileLock

    script = load_script("run_benchmark", "benchmarks")
    monkeypatch.setattr(script, "run_model", lambda *a, **k: pytest.fail("the benchmark ran into a folder in use"))
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(sys, "argv", ["run_benchmark.py", "--model-path", "fast", "--out", str(out)])
    with FileLock(str(out / lock), timeout=0):
        with pytest.raises(SystemExit) as exc:
            script.main()
    assert exc.value.code == 2 and said in capsys.readouterr().err
    monkeypatch.setattr(script, "run_model", lambda folder, out, args: _report(0.6, 0.5, 0.8, 0.7, 100.0, 20.0, 17.7))
    script.main()  # once free, it runs
    assert "| fast | 0.600 / 0.500 |" in (out / "models.md").read_text()


@pytest.mark.parametrize("name", ["prompt_gate", "encoder_speed", "cracks_on_drywall"])
def test_benchmarks_with_no_photo_read_say_so_before_the_models_load(name, load_script, tmp_path, monkeypatch, capsys):
    """With no photo read (a wrong DRYWALLQA_DATASETS), prompt_gate wrote a report of 0 images and NaN scores,
    encoder_speed stopped in a StatisticsError and cracks_on_drywall in a ValueError traceback, once the models had
    loaded."""
    script = load_script(name, "benchmarks")
    monkeypatch.setenv("DRYWALLQA_DATASETS", str(tmp_path / "nowhere"))
    monkeypatch.setattr(script.Segmenter, "load", lambda *a, **k: pytest.fail("the models loaded with no photo to run"))
    monkeypatch.setattr(sys, "argv", [f"{name}.py", "--out", str(tmp_path / "o")])
    with pytest.raises(SystemExit) as exc:
        script.main()
    said = str(exc.value.code)
    assert said.startswith("error: no ") and "DRYWALLQA_DATASETS" in said, said
    assert not (tmp_path / "o").exists()


def test_a_benchmark_with_nothing_to_score_says_so(load_script, tmp_path, monkeypatch):
    """No photo read (a wrong DRYWALLQA_DATASETS): evaluate's NothingToScoreError was a traceback."""
    script = load_script("run_benchmark", "benchmarks")
    monkeypatch.setenv("DRYWALLQA_DATASETS", str(tmp_path / "nowhere"))
    monkeypatch.setattr(script.Segmenter, "load", lambda *a, **k: object())
    monkeypatch.setattr(sys, "argv", ["run_benchmark.py", "--model-path", "fast", "--out", str(tmp_path / "o")])
    with pytest.raises(SystemExit) as exc:
        script.main()
    assert str(exc.value.code).startswith("error: published valid split of 'cracks': no image could be read")


def test_per_image_readers_take_the_names_evaluate_wrote_before_guarding_them_for_spreadsheets(load_script, tmp_path):
    """per_image.csv starts a text cell a spreadsheet would run as a formula with an apostrophe (a dataset named '-x',
    a prompt '=...'); split_audit --per-image then matched no row of the dataset ('-x' against "'-x": scores over 0
    photos, without a word), and compare_reports named the dataset "'-x"."""
    from drywallqa.engine.evaluator import PER_IMAGE_KEYS
    from drywallqa.utils.files import write_csv_atomic

    rows = [{"split": "group-clean test", "dataset": "-x", "image": f"/photos/{n}.jpg", "prompt": "=segment crack",
             "iou": 0.5} for n in range(2)]
    write_csv_atomic(rows, list(PER_IMAGE_KEYS), tmp_path / "per_image.csv")
    read = load_script("split_audit", "benchmarks").read_per_image(tmp_path / "per_image.csv")
    assert [(r["dataset"], r["prompt"]) for r in read] == [("-x", "=segment crack")] * 2
    ious = load_script("compare_reports", "benchmarks").read_ious(tmp_path)
    assert list(ious) == [("group-clean test", "-x", "=segment crack")]


def test_a_negative_cost_per_extra_prompt_is_timing_noise_not_a_pass(load_script):
    """On a busy machine with few timing photos the median cost per extra prompt came out below zero, and a
    negative value passed its budget: it fails, named as noise; zero and a cost within the budget still pass."""
    bench = load_script("run_benchmark", "benchmarks")

    def line(extra, batch=None):
        speed = {"median_ms_first_prompt": 100.0, "median_ms_per_extra_prompt": extra}
        if batch is not None:
            speed.update(median_ms_first_prompt_batch=150.0, median_ms_per_extra_prompt_batch=batch)
        lines = bench.check_bar({"metrics": [], "cross_prompt": [], "speed": speed})
        return [l for l in lines if "extra prompt" in l["check"]]

    (neg,) = line(-3.2)
    assert not neg["pass"] and "timing noise" in neg["check"] and neg["value"] == -3.2
    assert all(l["pass"] and "noise" not in l["check"] for l in line(0.0) + line(30.0))
    _, batch = line(20.0, batch=-5.0)
    assert not batch["pass"] and "timing noise" in batch["check"]
    assert line(20.0, batch=30.0)[1]["pass"]
