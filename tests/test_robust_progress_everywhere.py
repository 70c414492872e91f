"""Every long loop of a command or script shows a bar through drywallqa.utils.progress (on standard error, in whole
lines where that is no terminal), and a long step that cannot show one says what it does before it starts."""

import sys

import pytest


def test_pack_script_shows_its_photos_through_the_progress_helper(write_train_config, tiny_kwargs, tmp_path, load_script,
                                                                  capsys):
    """scripts/pack_training_images.py drew tqdm's bar itself: in a log (standard error a file, as under nohup) one line
    of carriage-return redraws, not the helper's whole lines."""
    from drywallqa.engine.config import TrainConfig

    script = load_script("pack_training_images")
    cfg = TrainConfig.from_yaml(write_train_config("film_unet", tiny_kwargs))
    result = script.pack(cfg, tmp_path / "pack", size=48, quality=80)
    err = capsys.readouterr().err
    assert "\r" not in err
    assert any(line.startswith("packing") and f"{result['images']}/{result['images']}" in line for line in err.splitlines()), err


def test_pack_script_says_it_embeds_the_prompts_before_it_starts(write_train_config, tiny_kwargs, tmp_path, load_script,
                                                                 capsys):
    """After its photos' bar the pack embedded every prompt of the run (hundreds with paraphrases: the text encoder
    loaded, one call) with nothing on screen."""
    from drywallqa.engine.config import TrainConfig

    script = load_script("pack_training_images")
    cfg = TrainConfig.from_yaml(write_train_config("film_unet", tiny_kwargs))
    result = script.pack(cfg, tmp_path / "pack", size=48, quality=80)
    said = capsys.readouterr()
    cache = tmp_path / "pack" / "chunk0" / "cache"
    assert f"embedding the run's {len(result['prompts'])} prompts into {cache}..." in said.err.splitlines()
    assert "embedding" not in said.out


def bar_lines(err: str, desc: str) -> list[str]:
    """The lines of standard error (no terminal: the helper's whole lines) of the bar named ``desc``."""
    assert "\r" not in err
    return [line for line in err.splitlines() if line.startswith(f"{desc}:")]


def test_measure_speed_shows_a_bar_of_its_photos(tiny_model_dir, tmp_path, capsys):
    import numpy as np
    from PIL import Image

    from drywallqa.engine.segmenter import Segmenter
    from drywallqa.engine.speed import measure_speed

    paths = []
    for i in range(2):
        Image.fromarray(np.full((40, 52, 3), 60 * i, np.uint8)).save(tmp_path / f"{i}.jpg")
        paths.append(tmp_path / f"{i}.jpg")
    seg = Segmenter.load(tiny_model_dir)
    measure_speed(seg, paths, ["segment crack", "segment taping area"], repeats=1, batch=True, progress=True, desc="speed")
    err = capsys.readouterr().err
    assert "2/2" in bar_lines(err, "speed")[-1] and "2/2" in bar_lines(err, "speed (batch job)")[-1], err
    measure_speed(seg, paths, ["segment crack"], repeats=1)
    assert not capsys.readouterr().err  # off unless asked (a benchmark's own loop, a test)


def test_evaluate_times_its_speed_photos_with_a_bar(tiny_model_dir, synthetic_datasets, tmp_path, monkeypatch):
    """evaluate's speed measurement (50 photos, each 3 times with one prompt and with all, then as a batch job: minutes
    on a CPU) came after the last set's bar with nothing on screen."""
    from drywallqa.engine import evaluator as ev
    from drywallqa.engine.segmenter import Segmenter

    class Timed(Exception):
        pass

    def timed(*args, **kwargs):
        asked.append(kwargs)
        raise Timed

    asked = []
    monkeypatch.setattr(ev, "build_eval_sets", lambda *a, **k: [])  # the speed measurement alone
    monkeypatch.setattr(ev, "measure_speed", timed)
    for progress in (True, False):
        with pytest.raises(Timed):
                ev.evaluate(Segmenter.load(tiny_model_dir), tmp_path / f"eval{progress}", datasets=("syn_crack", "syn_tape"),
                        datasets_dir=synthetic_datasets, speed_images=2, model_dir=tiny_model_dir, progress=progress)
    assert [(k.get("progress"), k.get("desc")) for k in asked] == [(True, "speed"), (False, "speed")]


def test_ship_times_each_candidate_with_a_bar(tiny_model_dir, tmp_path, capsys):
    """ship timed each candidate (20 val photos, 3 warm-ups, each 3 times with one prompt and with three: a minute per
    candidate on a laptop, eight candidates) with nothing on screen between the validator's bars."""
    from conftest import write_photos

    import drywallqa.engine.shipping as shipping

    photos = sorted(write_photos(tmp_path / "photos", 1).iterdir())

    class Validated(Exception):
        pass

    def validator(segmenter):
        raise Validated

    with pytest.raises(Validated):
        shipping.select(tiny_model_dir, validator, photos, scales=((64,),), tta=(False,), budget_first_ms=1e9,
                        budget_extra_ms=1e9, prompts=("segment crack",), report=lambda *_: None)
    lines = bar_lines(capsys.readouterr().err, "candidate 1/1 (scales [64], tta False): timing")
    assert lines and "1/1" in lines[-1]


def test_calibrating_a_prompt_gate_says_what_it_does_before_it_starts(tmp_path, tiny_model_dir, monkeypatch):
    """calibrate-gate sat silent for minutes the first time (some 1300 generated prompts embedded in one call each, no
    bar to show), then printed its margin."""
    import hashlib

    import numpy as np
    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.text import gate_calibration

    events = []

    def encode(prompts):  # a stand-in for the text encoder: a fixed unit vector per prompt
        events.append(("encode", len(prompts)))
        vecs = np.stack([np.random.default_rng(int(hashlib.sha1(p.encode()).hexdigest()[:8], 16)).normal(size=16)
                         for p in prompts])
        return (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)

    gate_calibration.calibrate_model_gate(tmp_path, ("cracks", "taping"), encode=encode, report=lambda line: events.append(line))
    assert isinstance(events[0], str) and events[0].startswith("calibrating the prompt gate of cracks, taping on ")
    assert events[0].endswith("...") and all(isinstance(e, tuple) for e in events[1:])

    real = gate_calibration.calibrate_model_gate
    monkeypatch.setattr(gate_calibration, "calibrate_model_gate", lambda *a, **k: real(*a, **k, encode=encode))
    res = CliRunner().invoke(app, ["calibrate-gate", "--model-path", str(tiny_model_dir)])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()  # (an info line first: the folder records no datasets, -d cracks -d taping taken)
    lines = lines[1:] if lines and lines[0].startswith("info:") else lines
    assert lines[0].startswith("calibrating the prompt gate of cracks, taping on ") and lines[-1].startswith("min_margin")


def test_model_soup_scores_each_model_with_a_bar(tiny_model_dir, load_script, monkeypatch):
    """scripts/model_soup.py scored every ingredient and the soup on the val part (minutes each) with progress=False:
    nothing on screen between its result lines."""
    from types import SimpleNamespace

    script = load_script("model_soup")
    asked = []
    room = {"mIoU": 0.5, "mIoU_best_single_threshold": 0.5, "best_single_threshold": 0.5}
    monkeypatch.setattr(script, "evaluate_set",
                        lambda seg, es, datasets, progress: asked.append(progress) or SimpleNamespace(headroom=room))
    script.score_on_val(tiny_model_dir, [SimpleNamespace(dataset="cracks")], ["cracks"])
    assert asked == [True]


def test_split_audit_draws_its_bars_through_the_progress_helper(load_script, synthetic_datasets, tmp_path, capsys):
    """benchmarks/split_audit.py drew tqdm's bars itself: in a log one line of carriage-return redraws."""
    import numpy as np
    from PIL import Image

    from conftest import wall_photo

    from drywallqa.data.grouping import GroupSplit

    folder = synthetic_datasets / "crack" / "train"
    for name, seed in (("wall_jpg.rf.a.jpg", 1), ("other_jpg.rf.c.jpg", 2)):  # photos with features to match
        Image.fromarray(wall_photo(seed)).save(folder / name, quality=92)
        Image.fromarray(np.zeros((360, 480), np.uint8)).save(folder / "_masks" / name.replace(".jpg", ".png"))
    GroupSplit("syn_crack", 0, {"train": 0.5, "val": 0.25, "test": 0.25},
               {"train": ["train/wall_jpg.rf.a.jpg"], "val": [], "test": ["train/other_jpg.rf.c.jpg"]}
               ).to_json(tmp_path / "splits" / "syn_crack.json")
    load_script("split_audit", "benchmarks").audit("syn_crack", tmp_path / "splits", synthetic_datasets, 4)
    err = capsys.readouterr().err
    assert "1/1" in bar_lines(err, "syn_crack: train features")[-1]
    assert "1/1" in bar_lines(err, "syn_crack: val and test photos")[-1]


def test_prompt_gate_benchmark_draws_its_bar_through_the_progress_helper(load_script, tiny_model_dir, tmp_path,
                                                                         monkeypatch, capsys):
    from test_benchmark_script import _small_prompt_gate_run

    _small_prompt_gate_run(load_script("prompt_gate", "benchmarks"), tmp_path, monkeypatch, tiny_model_dir,
                           "--raw-sample", "0")
    err = capsys.readouterr().err
    assert "1/1" in bar_lines(err, "cracks")[-1] and "1/1" in bar_lines(err, "taping")[-1]


def test_large_photos_benchmark_draws_its_bar_through_the_progress_helper(load_script, tmp_path, capsys):
    from conftest import one_taping_sample

    lp = load_script("large_photos", "benchmarks")
    sample, whole = one_taping_sample(tmp_path)
    lp.run_modes({"whole photo": whole}, {"taping": [sample]}, 1)
    assert "1/1" in bar_lines(capsys.readouterr().err, "taping")[-1]


def test_run_benchmark_times_and_compares_the_onnx_graphs_with_bars(load_script, tmp_path, monkeypatch, capsys):
    """benchmarks/run_benchmark.py timed the ONNX graphs (the speed photos again, each 3 times with one and all prompts)
    and compared them with torch on 20 photos with nothing on screen after evaluate's bars."""
    from types import SimpleNamespace

    import numpy as np

    import drywallqa.export.onnx as onnx

    script = load_script("run_benchmark", "benchmarks")
    paths = [tmp_path / f"{i}.jpg" for i in range(3)]
    prob = {"segment crack": np.zeros((4, 4), np.float32)}
    seg = SimpleNamespace(predict=lambda path, prompts: SimpleNamespace(probabilities=prob))
    monkeypatch.setattr(script.Segmenter, "load", lambda *a, **k: seg)
    monkeypatch.setattr(script, "evaluate", lambda *a, **k: {"speed": {"prompts": ["segment crack"]}})
    monkeypatch.setattr(onnx, "export_onnx", lambda model_dir, out: out)
    monkeypatch.setattr(script, "load_split", lambda dataset, split: ([SimpleNamespace(image_path=p) for p in paths], []))

    class Timed(Exception):
        pass

    asked = []

    def measure_speed(*args, **kwargs):
        asked.append((kwargs.get("progress"), kwargs.get("desc")))
        return {}

    monkeypatch.setattr(script, "measure_speed", measure_speed)
    monkeypatch.setattr(script, "folder_mb", lambda folder: (_ for _ in ()).throw(Timed()))  # stop after the parity
    with pytest.raises(Timed):
        script.run_model(tmp_path / "model", tmp_path / "out", SimpleNamespace(splits_dir=None, speed_images=3, limit=None))
    assert asked == [(True, "speed (onnx)")]
    assert "3/3" in bar_lines(capsys.readouterr().err, "onnx parity")[-1]


def test_encoder_speed_times_each_model_with_a_bar(load_script, capsys):
    """benchmarks/encoder_speed.py timed eight models on 50 photos each (CLIPSeg about a second a photo) with nothing on
    screen until each model's row."""
    script = load_script("encoder_speed", "benchmarks")
    called = []
    script.time_predict(called.append, ["a", "b", "c"], desc="CLIPSeg-rd64")
    assert called == ["a", "b", "a", "b", "c"]
    assert "3/3" in bar_lines(capsys.readouterr().err, "CLIPSeg-rd64")[-1]


def test_load_test_shows_the_requests_answered_with_a_bar(load_script, monkeypatch, capsys):
    """benchmarks/load_test.py sent 2000 requests (minutes) with nothing on screen until its JSON report."""
    import asyncio
    from types import SimpleNamespace

    lt = load_script("load_test", "benchmarks")

    class Client:
        def __init__(self, timeout):
            pass

        async def __aenter__(self):
            return self

        async def __aexit__(self, *exc):
            return False

        async def post(self, url, files, data):
            return SimpleNamespace(status_code=200, headers={})

    monkeypatch.setattr(lt.httpx, "AsyncClient", Client)
    results = asyncio.run(lt.run_load("http://x/v1/segment", b"", 5, 2, 60, progress=True))
    assert [s for s, _ in results] == [200] * 5
    assert "5/5" in bar_lines(capsys.readouterr().err, "requests")[-1]
    asyncio.run(lt.run_load("http://x/v1/segment", b"", 2, 2, 60))
    assert not capsys.readouterr().err  # off unless asked


def test_predict_writes_its_report_and_coco_file_with_a_bar(tmp_path, monkeypatch, capsys):
    """predict's report.html (each photo read again for its thumbnail) and COCO file (each mask read again and traced)
    took minutes for thousands of photos, after the predict bar, with nothing on screen."""
    from test_batch_report import _job

    from drywallqa.cli import prediction
    from drywallqa.data.coco_export import write_coco_predictions
    from drywallqa.engine import batch_report

    out = _job(tmp_path)
    batch_report.write_batch_report(out, progress=True)
    write_coco_predictions(out, "rle", progress=True)
    err = capsys.readouterr().err
    assert "2/2" in bar_lines(err, "report.html")[-1] and "2/2" in bar_lines(err, "predictions.coco.json")[-1]
    batch_report.write_batch_report(out)
    assert not capsys.readouterr().err  # off unless asked

    asked = []
    monkeypatch.setattr(batch_report, "write_batch_report", lambda out, **kw: asked.append(("report", kw)))
    import drywallqa.data.coco_export as coco_export

    monkeypatch.setattr(coco_export, "write_coco_predictions", lambda out, fmt, **kw: asked.append(("coco", kw)))
    for _, _, write in prediction._views(out, table=False, report=True, coco="rle"):
        write()
    assert asked == [("report", {"progress": True}), ("coco", {"progress": True})]


def test_zeroshot_runs_the_detector_on_its_reference_photos_with_a_bar(tmp_path, capsys):
    """zeroshot --reference ran the detector on every normal photo (seconds each on a CPU) before the zero-shot bar,
    with nothing on screen."""
    import numpy as np
    from PIL import Image

    from drywallqa.zeroshot.pipeline import ZeroShotConfig, ZeroShotSegmenter, run_zeroshot

    class NoBoxes:
        def detect(self, image, prompts):
            return []

    class NoSam:
        def eval(self):
            return self

    for name, n in (("imgs", 1), ("refs", 3)):
        (tmp_path / name).mkdir()
        for i in range(n):
            Image.fromarray(np.random.default_rng(i).integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(
                tmp_path / name / f"{name}{i}.png")
    seg = ZeroShotSegmenter(ZeroShotConfig(prompt_source="fixed"), detector=NoBoxes(), sam=NoSam())
    run_zeroshot(seg, [tmp_path / "imgs"], tmp_path / "out", references=[tmp_path / "refs"], prompts=["crack"])
    assert "3/3" in bar_lines(capsys.readouterr().err, "reference photos")[-1]
    run_zeroshot(seg, [tmp_path / "imgs"], tmp_path / "quiet", references=[tmp_path / "refs"], prompts=["crack"],
                 progress=False)
    assert not bar_lines(capsys.readouterr().err, "reference photos")


def test_training_validates_each_epoch_with_a_bar(write_train_config, tiny_kwargs, monkeypatch):
    """train validated every epoch on the val photos (hundreds, each with every dataset's prompt) with no bar: after the
    epoch's bar reached its end the run sat silent until the metrics line."""
    from drywallqa.engine import trainer
    from drywallqa.engine.config import TrainConfig

    class Made(Exception):
        pass

    def validator(items, options=True, progress=False, **_):  # (photos, held: what the trainer also tells it)
        made.append(progress)
        raise Made

    made = []
    monkeypatch.setattr(trainer, "Validator", validator)
    for progress in (True, False):
        with pytest.raises(Made):
            trainer.Trainer(TrainConfig.from_yaml(write_train_config("film_unet", tiny_kwargs)), progress=progress).train()
    assert made == [True, False]


def test_batch_outputs_benchmark_times_its_masks_with_a_bar(load_script, capsys):
    """benchmarks/batch_outputs.py timed six masks (12 MP ones: half a minute each, three times) with nothing on screen
    until its table."""
    bench = load_script("batch_outputs", "benchmarks")
    rows = bench.run(repeats=1, sizes={"tiny": (40, 60)}, reference=False, progress=True)
    assert len(rows) == 3 and "3/3" in bar_lines(capsys.readouterr().err, "masks timed")[-1]
    bench.run(repeats=1, sizes={"tiny": (40, 60)}, reference=False)
    assert not capsys.readouterr().err


def test_request_memory_says_each_case_before_it_runs(load_script, tmp_path, monkeypatch, capsys):
    """benchmarks/request_memory.py ran each case in a fresh process (the model loaded, a 64 MP photo answered: a
    minute) with nothing on screen until the case's result line."""
    import json
    from types import SimpleNamespace

    script = load_script("request_memory", "benchmarks")
    ran = []

    def run(cmd, **kwargs):
        ran.append(capsys.readouterr().err)  # what was said before the case ran
        return SimpleNamespace(returncode=0, stderr="", stdout=json.dumps(
            {"request_mb": 1.0, "before_mb": 2.0, "seconds": 0.1, "status": 200}))

    monkeypatch.setattr(script.subprocess, "run", run)
    monkeypatch.setattr(sys, "argv", ["request_memory.py", "--out", str(tmp_path / "o"), "--sides", "32", "64",
                                      "--prompts", "1", "2"])
    assert script.main() == 0
    assert [said.strip() for said in ran] == [f"{mp} MP, {n} prompt(s): a fresh server process answers it..."
                                              for mp in (0, 0) for n in (1, 2)]
    assert "a fresh server" not in capsys.readouterr().out  # standard output keeps the results alone


def test_export_onnx_says_what_it_does_before_it_starts(tiny_model_dir, tmp_path, monkeypatch):
    """export onnx traced both graphs (one call each, no bar to show; tens of seconds for a large encoder) with nothing
    on screen until 'wrote'."""
    from typer.testing import CliRunner

    import drywallqa.export.onnx as onnx
    from drywallqa.cli import app

    said = []
    monkeypatch.setattr(onnx, "export_onnx", lambda source, out: said.append("exported"))
    res = CliRunner().invoke(app, ["export", "onnx", "--model-path", str(tiny_model_dir), "--out", str(tmp_path / "x")])
    assert res.exit_code == 0 and said == ["exported"], res.output
    lines = " ".join(res.output.split())
    assert lines.index("tracing its encoder and decoder into ONNX graphs...") < lines.index("wrote ")


def test_gpu_run_says_it_prepares_a_bundle_before_it_starts(tmp_path, load_script, monkeypatch, capsys):
    """scripts/gpu_run.py train extracted the archives, installed the wheels and merged the chunks (minutes, calls with
    no bar to show) with nothing on screen before the training's first bar; a bundle prepared already says nothing."""
    from conftest import archived_bundle

    gpu_run = load_script("gpu_run")
    bundle = archived_bundle(gpu_run, tmp_path)
    monkeypatch.setattr(gpu_run, "install_wheels", lambda folder: [])
    assert gpu_run.prepare(bundle) is True
    said = capsys.readouterr()
    assert said.err == f"preparing {bundle}: extracting 1 archive(s), installing its " \
                       "wheels, merging the pack's chunks...\n" and not said.out
    assert gpu_run.prepare(bundle) is False and not capsys.readouterr().err


def test_zeroshot_says_it_loads_its_models_before_it_starts(tmp_path, monkeypatch):
    """zeroshot loaded its detector and SAM (minutes, a download the first time: one call with no bar of ours) with
    nothing of its own on screen."""
    import numpy as np
    from PIL import Image
    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.zeroshot import pipeline

    def not_loaded(cfg):
        raise OSError("no weights here")

    monkeypatch.setattr(pipeline, "ZeroShotSegmenter", not_loaded)
    (tmp_path / "imgs").mkdir()
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / "imgs" / "a.png")
    res = CliRunner().invoke(app, ["zeroshot", str(tmp_path / "imgs"), "--out", str(tmp_path / "out"),
                                   "--sam-path", "some/sam"])
    said = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 2 and "no weights here" in said, res.output
    assert said.index("loading the zero-shot models: the ") < said.index("no weights here")
    assert "and SAM (some/sam)..." in said


def test_refine_masks_says_it_loads_sam_before_it_starts(synthetic_datasets, tmp_path, monkeypatch):
    """data refine-masks --with sam loaded SAM (minutes, a download the first time: one call with no bar of ours) with
    nothing of the command's on screen."""
    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.data import refine

    def not_loaded(model_path, min_iou):
        raise OSError("no weights here")

    monkeypatch.setattr(refine, "SamRefiner", not_loaded)
    res = CliRunner().invoke(app, ["data", "refine-masks", "-d", "syn_tape", "--with", "sam", "--model-path", "some/sam",
                                   "--out", str(tmp_path / "refined"), "--datasets-dir", str(synthetic_datasets)])
    said = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 2 and "no weights here" in said, res.output
    assert said.index("loading SAM (some/sam)...") < said.index("no weights here")
