"""The zeroshot command and pipeline under wrong inputs: configs out of range, model folders of another kind, an
--out an earlier run wrote, what the report says it used, references with no photos, photos too thin to detect in."""

import json

import numpy as np
import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from conftest import write_photos
from drywallqa.cli import app
from drywallqa.zeroshot.pipeline import ZeroShotConfig, ZeroShotSegmenter
from drywallqa.zeroshot.prompting import TablePromptGenerator


def _text(result) -> str:
    return " ".join(result.output.replace("│", " ").split())


@pytest.mark.parametrize("line, key", [
    ("box_threshold: .nan", "box_threshold"), ("box_threshold: 5", "box_threshold"),
    ("text_threshold: .inf", "text_threshold"), ("max_box_fraction: .nan", "max_box_fraction"),
    ("max_box_fraction: .inf", "max_box_fraction"), ("max_box_fraction: -1", "max_box_fraction"),
    ("mask_threshold: .nan", "mask_threshold"), ("min_confidence: 2", "min_confidence"),
    ("min_confidence: .nan", "min_confidence"), ("tagger_options: {bogus: 1}", "tagger_options"),
    ("tagger_options: {material: 5}", "material"), ("prompt_generator_options: {max_prompts: 0}", "max_prompts"),
    ("prompt_source: weird", "prompt_source"), ("detector: yolo", "detector"), ("tagger: ram", "tagger"),
    ("sam_path: ''", "sam_path"),
])
def test_config_values_out_of_range_are_named_when_read(tmp_path, line, key):
    """They were accepted (NaN or Infinity in report.json, every box dropped, 'weird' read as 'generated') or
    failed later with a traceback (min_confidence, tagger_options)."""
    cfg = tmp_path / "zs.yaml"
    cfg.write_text(line + "\n")
    with pytest.raises(ValueError, match=key) as info:
        ZeroShotConfig.from_yaml(cfg)
    assert str(cfg) in str(info.value)
    with pytest.raises(ValueError, match=key):  # the Python API checks before loading a model
        ZeroShotSegmenter(ZeroShotConfig(**yaml.safe_load(line)))


def test_config_numbers_in_range_are_kept_as_floats(tmp_path):
    cfg = tmp_path / "zs.yaml"
    cfg.write_text("box_threshold: 1\ntext_threshold: 0\nmax_box_fraction: 3e-1\nmin_confidence: 0.5\n"
                   "prompt_source: fixed\nprompt_generator: llm\nprompt_generator_options: {base_url: 'http://x'}\n")
    config = ZeroShotConfig.from_yaml(cfg)
    assert config.box_threshold == 1.0 and isinstance(config.box_threshold, float) and config.max_box_fraction == 0.3


def test_cli_config_out_of_range_is_a_clean_error(tmp_path):
    (tmp_path / "imgs").mkdir()
    cfg = tmp_path / "zs.yaml"
    for line, key in (("min_confidence: 2", "min_confidence"), ("tagger_options: {bogus: 1}", "tagger_options"),
                      ("box_threshold: .nan", "box_threshold")):
        cfg.write_text(line + "\n")
        res = CliRunner().invoke(app, ["zeroshot", str(tmp_path / "imgs"), "--out", str(tmp_path / "o"), "--config", str(cfg)])
        assert res.exit_code == 2 and key in _text(res) and "Traceback" not in res.output, res.output
    assert not (tmp_path / "o").exists()
    res = CliRunner().invoke(app, ["zeroshot", str(tmp_path / "imgs"), "--out", str(tmp_path / "o"), "--material", " "])
    assert res.exit_code == 2 and "material" in _text(res), res.output


def _photo(h=48, w=64, seed=0):
    return np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)


def _folder_of(tmp_path, name, model_type):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": model_type}))
    return folder


def test_a_model_folder_of_another_kind_is_a_clean_error(tmp_path, tiny_grounding_dino_dir, tiny_sam_dir):
    """--detector owlv2 with a Grounding DINO folder loaded it with random weights and failed on the first photo
    with a traceback and no report.json; a CLIPSeg folder as --sam-path likewise."""
    (tmp_path / "imgs").mkdir()
    Image.fromarray(_photo()).save(tmp_path / "imgs" / "wall.png")
    base = ["zeroshot", str(tmp_path / "imgs"), "--out", str(tmp_path / "o"), "--prompts", "fixed", "-p", "crack"]
    for extra, folder, found, wanted in (
            (["--detector", "owlv2", "--detector-path", str(tiny_grounding_dino_dir), "--sam-path", str(tiny_sam_dir)],
             tiny_grounding_dino_dir, "grounding-dino", "owlv2"),
            (["--detector-path", str(tiny_grounding_dino_dir), "--sam-path", str(_folder_of(tmp_path, "cs", "clipseg"))],
             tmp_path / "cs", "clipseg", "sam"),
            (["--detector-path", str(tiny_sam_dir), "--sam-path", str(tiny_sam_dir)], tiny_sam_dir, "sam",
             "grounding-dino")):
        res = CliRunner().invoke(app, base + extra)
        text = _text(res).replace(" ", "")
        assert res.exit_code == 2 and "Traceback" not in res.output, res.output
        assert str(folder).replace(" ", "") in text and f"'{found}'" in text and f"'{wanted}'" in text, res.output


class _Boom:
    """A detector that fails on one photo the way no check foresees (a model's RuntimeError)."""

    def detect(self, image, prompts):
        if image.shape[0] == 40:
            raise RuntimeError("The size of tensor a (13) must match the size of tensor b (2305)")
        return []


class _NoSam:
    def eval(self):
        return self


def test_an_unforeseen_error_on_one_photo_is_named_and_the_job_goes_on(tmp_path):
    from drywallqa.zeroshot.pipeline import run_zeroshot

    (tmp_path / "imgs").mkdir()
    Image.fromarray(_photo(40, 40)).save(tmp_path / "imgs" / "bad.png")
    Image.fromarray(_photo()).save(tmp_path / "imgs" / "good.png")
    seg = ZeroShotSegmenter(ZeroShotConfig(sam_path=None), detector=_Boom(), sam=_NoSam())
    report = run_zeroshot(seg, [tmp_path / "imgs"], tmp_path / "o", progress=False)
    assert [e["image"] for e in report["images"]] == [str(tmp_path / "imgs" / "good.png")]
    assert [tuple(f) for f in report["failed"]] == [
        (str(tmp_path / "imgs" / "bad.png"), "RuntimeError: The size of tensor a (13) must match the size of tensor b (2305)")]
    assert json.loads((tmp_path / "o" / "report.json").read_text())["failed"][0][1].startswith("RuntimeError")


class _Quiet(_Boom):
    """No boxes on any photo (a detector for the bookkeeping tests: no model is loaded)."""

    def detect(self, image, prompts):
        return []


@pytest.fixture
def no_models(monkeypatch):
    """The zeroshot command with a detector that finds nothing and no SAM (the tagger and prompt table are real)."""
    import drywallqa.zeroshot.pipeline as pipeline

    class Fake(ZeroShotSegmenter):
        def __init__(self, config, **kw):
            super().__init__(config, detector=_Quiet(), sam=_NoSam())

    monkeypatch.setattr(pipeline, "ZeroShotSegmenter", Fake)


def test_an_earlier_runs_outputs_are_named_as_such_and_kept(tmp_path, no_models):
    """A second run into the same --out (with --overwrite) left the first run's masks (other prompts) beside its
    report.json, which did not say they were not its own."""
    (tmp_path / "imgs").mkdir()
    Image.fromarray(_photo()).save(tmp_path / "imgs" / "w.png")
    out = tmp_path / "o"
    runner = CliRunner()
    base = ["zeroshot", str(tmp_path / "imgs"), "--out", str(out), "--prompts", "fixed"]
    assert runner.invoke(app, [*base, "-p", "crack"]).exit_code == 0
    (out / "notes.txt").write_text("mine")  # the user's: neither listed nor touched
    res = runner.invoke(app, [*base, "-p", "water stain", "--overwrite"])
    assert res.exit_code == 0, res.output
    rep = json.loads((out / "report.json").read_text())
    assert rep["images"][0]["files"] == ["w__water_stain.png", "w__anomaly.png"]
    assert rep["earlier_outputs"] == ["w__crack.png"] and "1 file in" in rep["warnings"][0]
    assert "earlier job's" in _text(res) and "w__crack.png" in _text(res)
    assert (out / "w__crack.png").is_file() and (out / "notes.txt").read_text() == "mine"
    res = runner.invoke(app, [*base, "-p", "water stain", "-p", "crack", "--overwrite"])  # nothing earlier left
    rep = json.loads((out / "report.json").read_text())
    assert res.exit_code == 0 and rep["earlier_outputs"] == [] and rep["warnings"] == [] and "warning" not in res.output


def test_an_out_holding_another_jobs_results_is_refused_unless_overwrite(tmp_path, no_models, monkeypatch):
    """A run into an --out that held another zero-shot job's results replaced its report.json and mixed the two
    jobs' masks (predict refuses another job's results unless --overwrite); the same job run again is not refused."""
    import drywallqa.zeroshot.pipeline as pipeline

    (tmp_path / "imgs").mkdir()
    Image.fromarray(_photo()).save(tmp_path / "imgs" / "w.png")
    out = tmp_path / "o"
    runner = CliRunner()
    base = ["zeroshot", str(tmp_path / "imgs"), "--out", str(out), "--prompts", "fixed", "-p", "crack"]
    assert runner.invoke(app, base).exit_code == 0
    first = (out / "report.json").read_text()
    (out / "notes.txt").write_text("mine")  # the user's files are no job's results
    assert runner.invoke(app, base).exit_code == 0  # the same job again
    (out / "report.json").unlink()  # the same job, stopped before its report: run again
    assert runner.invoke(app, base).exit_code == 0 and (out / "report.json").read_text() == first

    def no_models_now(*a, **k):
        pytest.fail("the models were loaded before the refusal")

    with monkeypatch.context() as m:
        m.setattr(pipeline, "ZeroShotSegmenter", no_models_now)
        for extra, other in ((["-p", "water stain"], "other prompts"), (["--no-size-filter"], "other settings")):
            res = runner.invoke(app, [*base, *extra])
            assert res.exit_code == 2 and f"{out} holds the results of an earlier zero-shot job with {other}: give " \
                "this job another --out, or --overwrite to write over them" in _text(res), res.output
        Image.fromarray(_photo()).save(tmp_path / "imgs" / "v.png")
        res = runner.invoke(app, base)
        assert res.exit_code == 2 and "with other photos" in _text(res)
    assert (out / "report.json").read_text() == first and not (out / "v__crack.png").exists()
    assert (out / "notes.txt").read_text() == "mine"
    seg = ZeroShotSegmenter(ZeroShotConfig(prompt_source="fixed"), detector=_Quiet(), sam=_NoSam())
    with pytest.raises(ValueError, match="earlier zero-shot job with other photos"):  # the Python API too
        pipeline.run_zeroshot(seg, [tmp_path / "imgs"], out, progress=False, prompts=["crack"])
    res = runner.invoke(app, [*base, "--overwrite"])
    assert res.exit_code == 0 and len(json.loads((out / "report.json").read_text())["images"]) == 2
    (out / ".zeroshot_job.json").unlink()  # a folder an older drywallqa, or predict, wrote: no job record
    res = runner.invoke(app, base)
    assert res.exit_code == 2 and "results of another job (e.g. report.json)" in _text(res), res.output
    fresh = tmp_path / "mine"
    fresh.mkdir()
    (fresh / "notes.txt").write_text("mine")  # a folder of the user's files: written into
    assert runner.invoke(app, [*base[:3], str(fresh), *base[4:]]).exit_code == 0


def test_a_photo_failing_half_way_leaves_no_outputs(tmp_path, monkeypatch):
    from drywallqa.engine import batch
    from drywallqa.zeroshot.pipeline import run_zeroshot

    (tmp_path / "imgs").mkdir()
    Image.fromarray(_photo()).save(tmp_path / "imgs" / "w.png")
    real = batch.save_png_atomic

    def full_disk(array, path):
        if "anomaly" in path.name:
            raise OSError(28, "No space left on device")
        real(array, path)

    monkeypatch.setattr(batch, "save_png_atomic", full_disk)
    seg = ZeroShotSegmenter(ZeroShotConfig(prompt_source="fixed"), detector=_Quiet(), sam=_NoSam())
    report = run_zeroshot(seg, [tmp_path / "imgs"], tmp_path / "o", progress=False, prompts=["crack"])
    assert report["failed"] and not report["images"] and not (tmp_path / "o" / "w__crack.png").exists()


def test_a_prompt_named_anomaly_gets_a_mask_file_of_its_own(tmp_path):
    """The fixed prompt "anomaly" wrote its mask to <stem>__anomaly.png, which the anomaly map then replaced (the
    report listed the file twice)."""
    from drywallqa.zeroshot.pipeline import run_zeroshot

    (tmp_path / "imgs").mkdir()
    Image.fromarray(_photo()).save(tmp_path / "imgs" / "w.png")
    seg = ZeroShotSegmenter(ZeroShotConfig(prompt_source="fixed"), detector=_Quiet(), sam=_NoSam())
    report = run_zeroshot(seg, [tmp_path / "imgs"], tmp_path / "o", progress=False, prompts=["anomaly", "crack"])
    files = report["images"][0]["files"]
    assert len(set(files)) == 3 and files[1:] == ["w__crack.png", "w__anomaly.png"], files
    assert files[0].startswith("w__anomaly-") and (tmp_path / "o" / files[0]).is_file()


def test_the_report_says_where_the_prompts_came_from(tmp_path, no_models):
    """With --prompts fixed it said 'table v1', the table that was not used."""
    from drywallqa.zeroshot.pipeline import run_zeroshot

    (tmp_path / "imgs").mkdir()
    Image.fromarray(_photo()).save(tmp_path / "imgs" / "w.png")
    runner = CliRunner()
    res = runner.invoke(app, ["zeroshot", str(tmp_path / "imgs"), "--out", str(tmp_path / "f"), "--prompts", "fixed",
                              "-p", "water stain"])
    rep = json.loads((tmp_path / "f" / "report.json").read_text())
    assert res.exit_code == 0 and rep["prompt_source"] == "fixed (the prompts given)", res.output
    assert rep["images"][0]["prompt_source"] == rep["prompt_source"] and "prompts: fixed" in _text(res)
    res = runner.invoke(app, ["zeroshot", str(tmp_path / "imgs"), "--out", str(tmp_path / "g")])
    rep = json.loads((tmp_path / "g" / "report.json").read_text())
    table = TablePromptGenerator().source  # "table v1"
    assert res.exit_code == 0 and rep["prompt_source"] == table == rep["images"][0]["prompt_source"]
    # the Python API: fixed with no prompts given generates them, and says so
    seg = ZeroShotSegmenter(ZeroShotConfig(prompt_source="fixed"), detector=_Quiet(), sam=_NoSam())
    assert run_zeroshot(seg, [tmp_path / "imgs"], tmp_path / "h", progress=False)["prompt_source"] == table


def test_references_with_no_photo_are_refused(tmp_path, no_models):
    """An empty --reference folder was ignored without a word: the size filter kept the config's threshold."""
    (tmp_path / "imgs").mkdir()
    Image.fromarray(_photo()).save(tmp_path / "imgs" / "w.png")
    (tmp_path / "empty").mkdir()
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "notes.txt").write_text("no photo")
    runner = CliRunner()
    for ref, words in (("empty", "hold no photo"), ("texts", "notes.txt")):
        res = runner.invoke(app, ["zeroshot", str(tmp_path / "imgs"), "--out", str(tmp_path / "o"),
                                  "--reference", str(tmp_path / ref)])
        assert res.exit_code == 2 and words.replace(" ", "") in _text(res).replace(" ", "") and "size filter" in _text(res), \
            res.output
        assert not (tmp_path / "o").exists()
    # photos on which no box is found leave the config's threshold, and the report says so
    Image.fromarray(_photo(40, 40)).save(tmp_path / "empty" / "ok.png")
    res = runner.invoke(app, ["zeroshot", str(tmp_path / "imgs"), "--out", str(tmp_path / "o"),
                              "--reference", str(tmp_path / "empty")])
    rep = json.loads((tmp_path / "o" / "report.json").read_text())
    assert res.exit_code == 0 and rep["size_threshold_source"].startswith("config (no box found on the 1 reference")


def test_references_with_no_photo_are_refused_before_the_models_load(tmp_path, monkeypatch):
    """A --reference of no photo was refused only once Grounding DINO and SAM had loaded (minutes with real weights;
    on a machine without them, the missing model was named instead)."""
    import drywallqa.zeroshot.pipeline as pipeline

    def no_models_now(*a, **k):
        pytest.fail("the models were loaded before the refusal")

    monkeypatch.setattr(pipeline, "ZeroShotSegmenter", no_models_now)
    (tmp_path / "imgs").mkdir()
    Image.fromarray(_photo()).save(tmp_path / "imgs" / "w.png")
    (tmp_path / "empty").mkdir()
    res = CliRunner().invoke(app, ["zeroshot", str(tmp_path / "imgs"), "--out", str(tmp_path / "o"),
                                   "--reference", str(tmp_path / "empty")])
    assert res.exit_code == 2 and "holdnophoto" in _text(res).replace(" ", ""), res.output
    assert not (tmp_path / "o").exists()


def test_a_reference_photo_the_detector_fails_on_is_named(tmp_path):
    from drywallqa.zeroshot.pipeline import run_zeroshot

    (tmp_path / "ref").mkdir()
    Image.fromarray(_photo(40, 40)).save(tmp_path / "ref" / "odd.png")
    seg = ZeroShotSegmenter(ZeroShotConfig(), detector=_Boom(), sam=_NoSam())
    with pytest.raises(ValueError, match="odd.png: the detector failed on it .RuntimeError"):
        run_zeroshot(seg, [tmp_path / "ref"], tmp_path / "o", references=[tmp_path / "ref"], progress=False)


def test_a_photo_too_thin_for_grounding_dino_fails_with_the_reason(tmp_path, tiny_grounding_dino_dir):
    """A 2x3000 photo failed inside the processor with "Size must contain 'height' and 'width' keys ..."."""
    from drywallqa.zeroshot.detection import GroundingDinoDetector
    from drywallqa.zeroshot.pipeline import run_zeroshot

    detector = GroundingDinoDetector(str(tiny_grounding_dino_dir), 1.0, 0.0)  # no box kept: SAM is not needed
    (tmp_path / "imgs").mkdir()
    Image.fromarray(_photo(2, 3000)).save(tmp_path / "imgs" / "wide.png")
    Image.fromarray(_photo(3000, 2)).save(tmp_path / "imgs" / "tall.png")
    Image.fromarray(_photo(1, 100)).save(tmp_path / "imgs" / "line.png")  # scaled to 1 pixel: the processor takes it
    seg = ZeroShotSegmenter(ZeroShotConfig(), detector=detector, sam=_NoSam())
    report = run_zeroshot(seg, [tmp_path / "imgs"], tmp_path / "o", progress=False)
    assert [e["image"] for e in report["images"]] == [str(tmp_path / "imgs" / "line.png")]
    reasons = dict(report["failed"])
    assert sorted(reasons) == [str(tmp_path / "imgs" / n) for n in ("tall.png", "wide.png")], report["failed"]
    assert "3000x2 photo: its aspect ratio (1500:1) is beyond what the grounding-dino detector takes" in \
        reasons[str(tmp_path / "imgs" / "wide.png")]
    assert "2x3000 photo" in reasons[str(tmp_path / "imgs" / "tall.png")]
    # a thin photo the processor takes but the model does not: the aspect ratio is named, with the model's words
    real = detector.model

    def fails(**inputs):
        raise RuntimeError("the backbone's windows do not fit")

    detector.model = fails
    with pytest.raises(ValueError, match=r"aspect ratio \(100:1\).*RuntimeError: the backbone's windows"):
        detector.detect(_photo(1, 100), ["crack"])
    with pytest.raises(RuntimeError, match="backbone"):  # a photo of ordinary shape: the model's error as it is
        detector.detect(_photo(), ["crack"])
    detector.model = real
    assert detector.detect(_photo(1, 100), ["crack"]) == []


def test_a_config_whose_llm_url_the_command_line_gives_is_read(tmp_path):
    """`prompt_generator: llm` without its base_url, given by --llm-url: the file is read, the whole checked when built."""
    cfg = tmp_path / "zs.yaml"
    cfg.write_text("prompt_generator: llm\nprompt_generator_options: {timeout_s: 5}\n")
    config = ZeroShotConfig.from_yaml(cfg)
    with pytest.raises(ValueError, match="prompt_generator_options"):
        config.validate()  # still incomplete: what ZeroShotSegmenter checks
    config.prompt_generator_options = {**config.prompt_generator_options, "base_url": "http://127.0.0.1:9"}
    assert config.validate() is config  # what the command does with --llm-url
    config.prompt_generator_options["timeout_s"] = -5
    with pytest.raises(ValueError, match="timeout_s"):
        config.validate()


def test_a_segmenter_used_again_keeps_its_configs_size_filter(tmp_path):
    """The references set the size filter of their job only: a segmenter (its models loaded once) running the same job
    again was refused as 'an earlier zero-shot job with other settings' (the first job's references had changed its
    config), and a later job without references used the first job's size filter while its report said 'config'."""
    from drywallqa.zeroshot.detection import Detection
    from drywallqa.zeroshot.pipeline import run_zeroshot

    class Boxes(_Quiet):
        def detect(self, image, prompts):
            return [Detection((0.0, 0.0, 20.0, 20.0), 0.9, prompts[0])]

    for name in ("imgs", "refs"):
        (tmp_path / name).mkdir()
        Image.fromarray(_photo(seed=len(name))).save(tmp_path / name / f"{name}.png")
    seg = ZeroShotSegmenter(ZeroShotConfig(prompt_source="fixed"), detector=Boxes(), sam=_NoSam())
    job = dict(references=[tmp_path / "refs"], progress=False, prompts=["crack"])
    first = run_zeroshot(seg, [tmp_path / "imgs"], tmp_path / "out", **job)
    assert first["size_threshold_source"] == "1 reference normal images" and first["max_box_fraction"] < 0.5
    again = run_zeroshot(seg, [tmp_path / "imgs"], tmp_path / "out", **job)  # the same job: not refused
    assert again["max_box_fraction"] == first["max_box_fraction"]
    assert seg.config.max_box_fraction == 0.5
    plain = run_zeroshot(seg, [tmp_path / "imgs"], tmp_path / "plain", progress=False, prompts=["crack"])
    assert plain["size_threshold_source"] == "config" and plain["max_box_fraction"] == 0.5


def test_an_out_that_is_a_file_is_refused_before_the_models_load(tmp_path, monkeypatch):
    """--out a file (or a path below one) was found out only once the detector and SAM had loaded (minutes of
    download on a first run)."""
    import drywallqa.zeroshot.pipeline as pipeline

    def no_models_now(*a, **k):
        pytest.fail("the models were loaded before the refusal")

    monkeypatch.setattr(pipeline, "ZeroShotSegmenter", no_models_now)
    (tmp_path / "imgs").mkdir()
    Image.fromarray(_photo()).save(tmp_path / "imgs" / "w.png")
    (tmp_path / "file").write_text("x")
    for out, words in ((tmp_path / "file", "is a file; give a folder"), (tmp_path / "file" / "o", "lies below a file")):
        res = CliRunner().invoke(app, ["zeroshot", str(tmp_path / "imgs"), "--out", str(out), "--prompts", "fixed",
                                       "-p", "crack"])
        assert res.exit_code == 2 and "--out" in _text(res) and words in _text(res), res.output


def test_a_job_stopped_on_a_photo_leaves_no_half_of_it_and_no_earlier_report(tmp_path, no_models, monkeypatch):
    """Ctrl-C (or SIGTERM) while a photo's files were written left the ones written (a mask without its anomaly map),
    and an earlier job's report.json beside the new job's photos, with a bare "the files finished are kept"."""
    import drywallqa.engine.batch as batch

    (tmp_path / "imgs").mkdir()
    for name in ("a", "b"):
        Image.fromarray(_photo()).save(tmp_path / "imgs" / f"{name}.png")
    out = tmp_path / "o"
    base = ["zeroshot", str(tmp_path / "imgs"), "--out", str(out), "--prompts", "fixed"]
    assert CliRunner().invoke(app, [*base, "-p", "crack"]).exit_code == 0
    save, written = batch.save_png_atomic, []

    def stopped(array, path):
        save(array, path)
        written.append(path.name)
        if len(written) == 3:  # b's first file: Ctrl-C
            raise KeyboardInterrupt

    monkeypatch.setattr(batch, "save_png_atomic", stopped)
    res = CliRunner().invoke(app, [*base, "-p", "water stain", "--overwrite"], terminal_width=300)
    assert res.exit_code == 130 and "report.json was not written" in _text(res), res.output
    assert written[2].startswith("b__") and not (out / written[2]).exists() and not (out / "report.json").exists()
    assert (out / "a__water_stain.png").is_file() and (out / "a__anomaly.png").is_file()


def test_owlv2_scales_a_large_photo_down_before_its_processor_pads_it(tiny_owlv2_dir):
    """The processor pads a photo to a square of its long side, in floats, before it resizes it: a 40000 x 3 photo
    (120 k pixels) took 24 GB and the job was killed. The photo is made the model's input size first; the boxes
    still come back in the photo's own pixels."""
    from drywallqa.zeroshot.detection import Owlv2Detector

    det = Owlv2Detector(str(tiny_owlv2_dir), box_threshold=0.0)
    seen, real = [], det.processor.__call__

    class Spy:
        def __getattr__(self, name):  # the processor's own, but for its call
            return getattr(processor, name)

        def __call__(self, **kwargs):
            seen.append(kwargs["images"].size)
            return real(**kwargs)

    processor, det.processor = det.processor, Spy()
    thin = np.random.default_rng(0).integers(0, 255, (3, 4000, 3), dtype=np.uint8)  # (40000 wide was killed)
    boxes = det.detect(thin, ["crack"])
    assert seen == [(64, 1)]  # the tiny model's 64 px input; the photo's long side was 4000
    assert boxes and all(-1 <= b.box[0] <= b.box[2] <= 4001 for b in boxes)
    assert max(b.box[2] for b in boxes) > 64  # in the photo's pixels, not the small copy's
    small = np.random.default_rng(1).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    det.detect(small, ["crack"])
    assert seen[-1] == (50, 40)  # a photo within the input size is given as it is


def test_the_configs_size_filter_and_prompt_source_hold_unless_an_option_is_given(tiny_grounding_dino_dir, tiny_sam_dir,
                                                                                 tmp_path):
    """``size_filter: false`` in --config was set back to true by the option's default (the same config through
    ``predict --pipeline zeroshot`` kept it), and ``prompt_source: fixed`` to generated (``-p`` then refused)."""
    (tmp_path / "imgs").mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(tmp_path / "imgs" / "w.png")
    cfg = tmp_path / "zs.yaml"
    cfg.write_text(yaml.safe_dump({"detector_path": str(tiny_grounding_dino_dir), "sam_path": str(tiny_sam_dir),
                                   "box_threshold": 0.0, "text_threshold": 0.0, "size_filter": False,
                                   "max_box_fraction": 0.0001, "prompt_source": "fixed"}))
    runs = {"config": [], "option": ["--size-filter"]}
    for name, extra in runs.items():
        res = CliRunner().invoke(app, ["zeroshot", str(tmp_path / "imgs"), "--out", str(tmp_path / name), "--config",
                                       str(cfg), "-p", "crack", *extra])
        assert res.exit_code == 0, res.output
        runs[name] = json.loads((tmp_path / name / "report.json").read_text())
    assert runs["config"]["config"]["size_filter"] is False and runs["config"]["stages"]["removed_by_size_filter"] == 0
    assert runs["config"]["images"][0]["prompts"] == ["crack"]
    st = runs["option"]["stages"]
    assert runs["option"]["config"]["size_filter"] is True and st["removed_by_size_filter"] == st["boxes_detected"] > 0


# ------------------------------------------------------------------ options of a model, given to the pipeline
@pytest.mark.parametrize("option, words", [
    (["--threshold", "0.99"], "--threshold"), (["--label-shape", "box"], "--label-shape"),
    (["--runtime", "onnx"], "--runtime"), (["--no-prompt-gate"], "--no-prompt-gate"),
    (["--model", "clipseg"], "--model")])
def test_options_the_pipeline_has_none_of_are_refused_not_dropped(tmp_path, option, words):
    """--threshold 0.99 (and --label-shape, --runtime, --no-prompt-gate, --model) with --pipeline zeroshot made the
    very masks made without them, exit 0 and no word."""
    Image.new("RGB", (40, 30)).save(tmp_path / "w.jpg")
    res = CliRunner().invoke(app, ["predict", str(tmp_path / "w.jpg"), "-p", "segment crack", "--out",
                                   str(tmp_path / "o"), "--pipeline", "zeroshot", *option], terminal_width=300)
    assert res.exit_code == 2 and words in res.output and "not an option of --pipeline zeroshot" in \
        " ".join(res.output.replace("│", " ").split()), res.output
    assert not (tmp_path / "o").exists()


def test_the_python_api_refuses_a_model_s_options_for_the_pipeline(tiny_grounding_dino_dir, tiny_sam_dir, tmp_path):
    from drywallqa import Segmenter
    from drywallqa.engine.segmenter import EncodedImage

    with pytest.raises(ValueError, match=r"label_shape, prompt_gate, scales, threshold: not options of the zeroshot "
                                         r"pipeline \(its options: .*mask_threshold"):
        Segmenter.load(pipeline="zeroshot", label_shape="box", prompt_gate=False, threshold=0.99, scales=[7])
    with pytest.raises(ValueError, match="runtime 'onnx': a pipeline runs its own models"):
        Segmenter.load(pipeline="zeroshot", runtime="onnx")
    seg = ZeroShotSegmenter(ZeroShotConfig(detector_path=str(tiny_grounding_dino_dir), sam_path=str(tiny_sam_dir),
                                           box_threshold=0.0, text_threshold=0.0))
    photo = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="threshold is not an option of the zeroshot pipeline"):
        seg.predict(photo, ["segment crack"], threshold=0.99)
    # label_shape asks for the box adapter of prompts trained on box labels, where there is one (evaluate asks it of
    # every segmenter on box-labelled data): none here, the masks as they are
    plain = seg.decode(EncodedImage(photo), ["segment crack"]).masks["segment crack"]
    assert np.array_equal(seg.predict(photo, ["segment crack"], label_shape="box").masks["segment crack"], plain)


def test_a_null_sam_path_loads_the_default_sam(tmp_path, monkeypatch):
    """`sam_path: null` ("null for the default", as the config check says) was given to the loader as None: a
    TypeError traceback from os.path.isabs."""
    from drywallqa.zeroshot import pipeline

    asked = []
    monkeypatch.setattr(pipeline, "load_sam", lambda path: asked.append(path) or _NoSam())
    cfg = tmp_path / "zs.yaml"
    cfg.write_text("sam_path: null\n")
    ZeroShotSegmenter(ZeroShotConfig.from_yaml(cfg), detector=_Quiet())
    assert asked == [pipeline.DEFAULT_SAM] == ["facebook/sam-vit-base"]


def test_a_second_job_into_an_out_a_job_is_writing_into_is_refused(tmp_path, no_models):
    """Two jobs started at once both found the --out empty, then wrote their masks, anomaly maps and report.json over
    each other's: both exit 0, the first's report lost and its masks listed by none."""
    from filelock import FileLock

    from drywallqa.zeroshot.pipeline import ZEROSHOT_LOCK, run_zeroshot

    (tmp_path / "imgs").mkdir()
    Image.fromarray(_photo()).save(tmp_path / "imgs" / "w.png")
    out = tmp_path / "o"
    second = []

    class Meanwhile(_Quiet):  # the other job starts while this one segments its photo
        def detect(self, image, prompts):
            other = ZeroShotSegmenter(ZeroShotConfig(prompt_source="fixed", sam_path=None), detector=_Quiet(),
                                      sam=_NoSam())
            try:
                run_zeroshot(other, [tmp_path / "imgs"], out, prompts=["hole"], progress=False)
            except ValueError as exc:
                second.append(str(exc))
            return []

    seg = ZeroShotSegmenter(ZeroShotConfig(prompt_source="fixed", sam_path=None), detector=Meanwhile(), sam=_NoSam())
    report = run_zeroshot(seg, [tmp_path / "imgs"], out, prompts=["crack"], progress=False)
    assert second and "in use by another zero-shot job" in second[0] and "choose another --out" in second[0]
    assert report["images"][0]["prompts"] == ["crack"] and not (out / "w__hole.png").exists()
    assert json.loads((out / "report.json").read_text())["images"][0]["prompts"] == ["crack"]
    with FileLock(str(out / ZEROSHOT_LOCK), timeout=0):  # the command says so before its models load
        res = CliRunner().invoke(app, ["zeroshot", str(tmp_path / "imgs"), "--out", str(out), "--prompts", "fixed",
                                       "-p", "crack"])
    assert res.exit_code == 2 and "in use by another zero-shot job" in _text(res), res.output


def test_a_tagger_top_k_beyond_the_models_labels_is_refused_when_built(tmp_path):
    """Every photo failed with torch's "selected index k out of range"."""
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessorPil

    from drywallqa.zeroshot.tagging import HFClassifierTagger

    folder = str(tmp_path / "vit")
    ViTForImageClassification(ViTConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                                        image_size=32, patch_size=16, id2label={0: "drywall", 1: "concrete"},
                                        label2id={"drywall": 0, "concrete": 1})).save_pretrained(folder)
    ViTImageProcessorPil(size={"height": 32, "width": 32}).save_pretrained(folder)
    assert HFClassifierTagger(folder, top_k=2).tags(_photo()) in (["drywall", "concrete"], ["concrete", "drywall"])
    with pytest.raises(ValueError, match=r"top_k 3 is more than the 2 labels of the tagging model"):
        HFClassifierTagger(folder, top_k=3)


def test_reference_photos_are_read_one_at_a_time(tmp_path, monkeypatch):
    """Every reference photo was read into memory before the first was detected in: a folder of hundreds of phone
    photos took gigabytes."""
    import weakref

    from drywallqa.zeroshot import pipeline

    for i in range(5):
        Image.fromarray(_photo(seed=i)).save(tmp_path / f"n{i}.png")
    read, held = pipeline.read_image, []

    def tracked(path):
        image = read(path)
        held.append(weakref.ref(image))
        return image

    class Counting(_Quiet):
        def detect(self, image, prompts):
            assert sum(r() is not None for r in held) == 1, "earlier reference photos are still held"
            return []

    monkeypatch.setattr(pipeline, "read_image", tracked)
    seg = ZeroShotSegmenter(ZeroShotConfig(sam_path=None), detector=Counting(), sam=_NoSam())
    report = {}
    pipeline._size_filter_from_references(seg, [tmp_path], None, report)
    assert len(held) == 5 and report["size_threshold_source"] == "config (no box found on the 5 reference normal images)"


@pytest.mark.parametrize("bad, said", [("x" * 400, "at most 300 characters"), ("crack\x1b[31m", "control characters")])
def test_a_fixed_prompt_that_is_no_prompt_is_refused_before_the_models_load(tmp_path, monkeypatch, bad, said):
    """It failed every photo with the same reason, after the models had loaded (minutes), and left an --out behind."""
    from drywallqa.zeroshot import pipeline
    from drywallqa.zeroshot.pipeline import run_zeroshot

    monkeypatch.setattr(pipeline.ZeroShotSegmenter, "__init__", lambda *a, **k: pytest.fail("models loaded"))
    (tmp_path / "imgs").mkdir()
    Image.fromarray(_photo()).save(tmp_path / "imgs" / "w.png")
    res = CliRunner().invoke(app, ["zeroshot", str(tmp_path / "imgs"), "--out", str(tmp_path / "o"), "--prompts",
                                   "fixed", "-p", bad])
    assert res.exit_code == 2 and said in _text(res) and "--prompt" in _text(res), res.output
    assert not (tmp_path / "o").exists()
    monkeypatch.undo()
    seg = ZeroShotSegmenter(ZeroShotConfig(prompt_source="fixed", sam_path=None), detector=_Quiet(), sam=_NoSam())
    with pytest.raises(ValueError, match=said):  # the Python API, before anything is written
        run_zeroshot(seg, [tmp_path / "imgs"], tmp_path / "o", prompts=["crack", bad], progress=False)
    assert not (tmp_path / "o").exists()


def test_predict_into_a_zero_shot_jobs_out_is_refused_unless_overwrite(tmp_path, no_models, tiny_model_dir):
    """zeroshot refused predict's folder, but predict into a zeroshot job's --out wrote its masks over the zero-shot
    ones of the same prompt (named alike), exit 0 and no word; report.json then described predict's masks."""
    from drywallqa import Segmenter
    from drywallqa.engine.batch import predict_paths

    (tmp_path / "imgs").mkdir()
    Image.fromarray(_photo()).save(tmp_path / "imgs" / "w.png")
    out = tmp_path / "o"
    runner = CliRunner()
    assert runner.invoke(app, ["zeroshot", str(tmp_path / "imgs"), "--out", str(out), "--prompts", "fixed",
                               "-p", "segment crack"]).exit_code == 0
    mask = (out / "w__segment_crack.png").read_bytes()
    cmd = ["predict", str(tmp_path / "imgs"), "--out", str(out), "-p", "segment crack",
           "--model-path", str(tiny_model_dir)]
    res = runner.invoke(app, cmd)
    assert res.exit_code == 2 and "holds the results of a zero-shot job" in _text(res) and "--overwrite" in _text(res)
    assert (out / "w__segment_crack.png").read_bytes() == mask and not (out / "results.json").exists()
    with pytest.raises(ValueError, match="zero-shot job"):  # the Python API too
        predict_paths(Segmenter.load(tiny_model_dir), tmp_path / "imgs", ["segment crack"], out, progress=False)
    (out / ".zeroshot_job.json").unlink()  # an older drywallqa's: its report.json says so
    assert runner.invoke(app, cmd).exit_code == 2
    assert runner.invoke(app, [*cmd, "--overwrite"]).exit_code == 0 and (out / "results.json").is_file()
    Image.fromarray(_photo()).save(tmp_path / "imgs" / "v.png")  # a photo added since: the folder is predict's now
    res = runner.invoke(app, cmd)
    assert res.exit_code == 0 and "1 images done, 1 skipped" in _text(res), _text(res)


def test_zeroshot_of_no_photo_says_so_before_the_models_load(tmp_path, monkeypatch):
    """An empty folder (a wrong path, an unmounted volume) loaded Grounding DINO and SAM first (minutes, or a hub
    download that failed here and was reported instead) before "no photos found"; now said at once, exit 1."""
    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.zeroshot import pipeline

    def never(*args, **kwargs):
        raise AssertionError("the models were loaded")

    monkeypatch.setattr(pipeline.ZeroShotSegmenter, "__init__", never)
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("wall 3")
    for folder, said in (("empty", "no photos found in the paths given"), ("notes", "only files not read as photos")):
        res = CliRunner().invoke(app, ["zeroshot", str(tmp_path / folder), "--out", str(tmp_path / "out")],
                                 terminal_width=300)
        assert res.exit_code == 1 and said in res.output and "Traceback" not in res.output, res.output


class _DarkSpots:
    """A detector that finds the black pixels of a photo: one box around them, of score ``score`` (no model)."""

    def __init__(self, score=0.4):
        self.score = score

    def detect(self, image, prompts):
        from drywallqa.zeroshot.detection import Detection

        ys, xs = np.nonzero((image == 0).all(-1))
        if not len(ys):
            return []
        return [Detection((float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)), self.score, p)
                for p in prompts]


def _sam_fills_the_boxes(monkeypatch, iou=0.9):
    """SAM stood in by masks that fill each box (clipped to the photo), each with the predicted IoU ``iou``."""
    from drywallqa.zeroshot import pipeline

    def masks(sam, image, boxes_xywh):
        for x, y, w, h in boxes_xywh:
            m = np.zeros(image.shape[:2], bool)
            m[max(0, round(y)):max(0, round(y + h)), max(0, round(x)):max(0, round(x + w))] = True
            yield m, iou

    monkeypatch.setattr(pipeline, "iter_sam_box_masks", masks)


@pytest.mark.parametrize("prompt_source", ["fixed", "generated"])
def test_a_tiled_zero_shot_pipeline_keeps_the_masks_sam_made(monkeypatch, prompt_source):
    """Tiles were cut at mask_threshold (0.5) where a whole photo's masks are wherever SAM put one: a box of score 0.4
    (x predicted IoU 0.9: a map of 0.36) gave a mask untiled and none tiled."""
    from drywallqa.engine.tiling import TiledSegmenter

    _sam_fills_the_boxes(monkeypatch)
    photo = _photo() | 1
    photo[8:28, 10:30] = 0
    seg = ZeroShotSegmenter(ZeroShotConfig(sam_path=None, prompt_source=prompt_source), detector=_DarkSpots(),
                            sam=_NoSam())
    whole = seg.predict(photo, ["crack"]).masks["crack"]
    tiled = TiledSegmenter(seg, 32).predict(photo, ["crack"]).masks["crack"]
    assert whole[8:28, 10:30].all() and whole.sum() == 400
    assert (tiled == whole).all()


class _FixedBoxes:
    """A detector that finds the same boxes (photo pixels) on every photo, of score 0.5 (no model)."""

    def __init__(self, *boxes):
        self.boxes = boxes

    def detect(self, image, prompts):
        from drywallqa.zeroshot.detection import Detection

        return [Detection(tuple(map(float, b)), 0.5, p) for b in self.boxes for p in prompts]


def test_boxes_outside_the_photo_are_clipped_to_it_or_dropped(monkeypatch, tmp_path):
    """A box wholly outside the photo (OWLv2's in the padding below a wide photo), of no height or of NaN coordinates
    was kept and given to SAM, which made a mask of it at the photo's edge; a box half outside was weighed whole by the
    size filter (a corner of 20 x 20 px counted as 50 x 50 and dropped as a whole object)."""
    from drywallqa.zeroshot.pipeline import run_zeroshot

    _sam_fills_the_boxes(monkeypatch)
    detector = _FixedBoxes((5, 60, 40, 90), (10, 10, 50, 10), (float("nan"), 0, 20, 20), (-30, -30, 20, 20))
    seg = ZeroShotSegmenter(ZeroShotConfig(sam_path=None, prompt_source="fixed"), detector=detector, sam=_NoSam())
    result, anomaly, kept, _ = seg.run(_photo(), ["crack"])
    assert [d.box for d in kept] == [(0.0, 0.0, 20.0, 20.0)]
    assert result.masks["crack"][:20, :20].all() and result.masks["crack"].sum() == 400
    assert seg.stats["removed_outside_photo"] == 3 and seg.stats["removed_by_size_filter"] == 0
    (tmp_path / "imgs").mkdir()
    Image.fromarray(_photo()).save(tmp_path / "imgs" / "w.png")
    (tmp_path / "normal").mkdir()
    Image.fromarray(_photo(seed=1)).save(tmp_path / "normal" / "n.png")
    report = run_zeroshot(seg, [tmp_path / "imgs"], tmp_path / "o", progress=False, prompts=["crack"])
    boxes = json.loads((tmp_path / "o" / "report.json").read_text())["images"][0]["boxes"]
    assert boxes == [{"box": [0.0, 0.0, 20.0, 20.0], "score": 0.5, "prompt": "crack"}]
    report = run_zeroshot(seg, [tmp_path / "imgs"], tmp_path / "r", references=[tmp_path / "normal"], progress=False,
                          prompts=["crack"])
    assert report["max_box_fraction"] == pytest.approx(0.9 * 400 / (48 * 64))  # from the clipped box


def test_a_material_the_prompt_table_has_no_entry_for_is_said(tmp_path, no_models):
    """`--material concreet` (misspelt) was given the table's default nouns and the report said 'table v1' as for
    concrete; ' Concrete ' (spaces around it, as a shell variable can bring) was one too."""
    write_photos(tmp_path / "imgs", 1)
    runs = {}
    for material, out in (("concreet", "a"), (" Concrete ", "b")):
        res = CliRunner().invoke(app, ["zeroshot", str(tmp_path / "imgs"), "--out", str(tmp_path / out), "--material",
                                       material], terminal_width=300)
        assert res.exit_code == 0, res.output
        runs[out] = (_text(res), json.loads((tmp_path / out / "report.json").read_text()))
    said = "table v1 (its default nouns for 'concreet', which it has no entry for; it has: drywall, concrete"
    output, a = runs["a"]
    assert a["prompt_source"].startswith(said) and a["images"][0]["prompt_source"] == a["prompt_source"] and said in output
    b = runs["b"][1]
    assert b["prompt_source"] == "table v1" and "efflorescence" in b["images"][0]["prompts"]


def test_predict_with_the_pipeline_again_after_sams_weights_were_replaced_predicts_again(tmp_path, monkeypatch):
    """`predict --pipeline zeroshot` run again after the weights in the config's SAM (or detector) folder were replaced
    skipped every photo as done before: the config, whose paths were the same, was all its job record held."""
    from drywallqa.engine.batch import predict_paths

    _sam_fills_the_boxes(monkeypatch)
    write_photos(tmp_path / "imgs", 2)
    sam = tmp_path / "sam"
    sam.mkdir()
    (sam / "model.safetensors").write_bytes(b"weights of one SAM")

    def run():
        seg = ZeroShotSegmenter(ZeroShotConfig(sam_path=str(sam), detector_path=str(tmp_path / "no_detector")),
                                detector=_FixedBoxes((4, 4, 20, 20)), sam=_NoSam())
        return predict_paths(seg, [tmp_path / "imgs"], ["crack"], tmp_path / "out", progress=False)

    assert len(run().done) == 2 and len(run().skipped) == 2  # the same weights: nothing redone
    (sam / "model.safetensors").write_bytes(b"weights of another")
    again = run()
    assert len(again.done) == 2 and not again.skipped


@pytest.mark.parametrize("detector, fixture", [("grounding-dino", "tiny_grounding_dino_dir"), ("owlv2", "tiny_owlv2_dir")])
def test_a_prompt_longer_than_the_detector_reads_is_named(detector, fixture, request):
    """A prompt of more tokens than the detector's text encoder reads (Grounding DINO's max_text_len, 256; the
    published OWLv2's 16) failed every photo with "RuntimeError: The size of tensor a (48) must match ...": now a
    ValueError naming the prompt and the limit (32 for these tiny models)."""
    from drywallqa.zeroshot.detection import DETECTORS

    found = DETECTORS.get(detector)(str(request.getfixturevalue(fixture)), 0.0, 0.0)
    assert found.detect(_photo(), ["crack " * 5])  # short enough: boxes
    with pytest.raises(ValueError, match=rf"'crack crack .*\.\.\.' is \d+ tokens long to the {detector} detector, whose "
                                         "text encoder reads at most 32: shorten it"):
        found.detect(_photo(), ["crack", "crack " * 40])


def test_a_fixed_prompt_longer_than_the_detector_reads_is_refused_before_any_photo(tmp_path, tiny_grounding_dino_dir,
                                                                                  tiny_sam_dir):
    Image.fromarray(_photo()).save(tmp_path / "w.png")
    res = CliRunner().invoke(app, ["zeroshot", str(tmp_path / "w.png"), "--out", str(tmp_path / "o"), "--detector-path",
                                   str(tiny_grounding_dino_dir), "--sam-path", str(tiny_sam_dir), "--prompts", "fixed",
                                   "-p", "hole", "-p", "crack " * 40], terminal_width=300)
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output
    assert "--prompt" in res.output and "whose text encoder reads at most 32" in _text(res), res.output
    assert not (tmp_path / "o" / "w__hole.png").exists()


def test_mask_threshold_is_said_to_change_nothing(tmp_path, caplog):
    """mask_threshold in a zero-shot config changed no mask (a mask is wherever a kept box's SAM mask lies), without
    a word: a user tuning it saw nothing change. It still loads, with a warning; a config without it gets none."""
    import logging

    from drywallqa.zeroshot.pipeline import ZeroShotConfig

    given, plain = tmp_path / "given.yaml", tmp_path / "plain.yaml"
    given.write_text("mask_threshold: 0.3\nbox_threshold: 0.2\n")
    plain.write_text("box_threshold: 0.2\n")
    with caplog.at_level(logging.WARNING, logger="drywallqa.zeroshot.pipeline"):
        assert ZeroShotConfig.from_yaml(plain).box_threshold == 0.2
        assert not caplog.records
        assert ZeroShotConfig.from_yaml(given).mask_threshold == 0.3
    assert len(caplog.records) == 1 and "mask_threshold has no effect" in caplog.records[0].getMessage()
    assert str(given) in caplog.records[0].getMessage()


def test_model_folders_may_be_given_as_paths_in_python(tmp_path):
    """Segmenter.load(pipeline="zeroshot", sam_path=Path(...)) was refused: "sam_path must be text"."""
    from pathlib import Path

    seg_config = ZeroShotSegmenter.from_path  # (the models are not loaded: the config is checked first)
    with pytest.raises((OSError, ValueError)) as caught:
        seg_config(None, sam_path=Path(tmp_path / "no_sam"), detector_path=Path(tmp_path / "no_det"))
    assert "must be text" not in str(caught.value) and "no_" in str(caught.value), caught.value


def test_a_material_the_table_lacks_is_said_once_by_threads_sharing_the_generator():
    """Threads sharing one pipeline (``predict --workers``) each set the table's source, then added to it the note of
    a surface it has no entry for: with both between the two steps, the note was added twice to one source (and a
    thread could read the source without it), so report.json named two prompt sources for one surface."""
    import threading

    gen = TablePromptGenerator()
    both = threading.Barrier(2, timeout=10)

    class Materials(dict):
        def __iter__(self):  # the surfaces listed in the note: both threads there at once
            both.wait()
            return super().__iter__()

    gen.table = {**gen.table, "materials": Materials(gen.table["materials"])}
    threads = [threading.Thread(target=gen.generate, args=(["concreet"],)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert gen.source.count("its default nouns for 'concreet'") == 1, gen.source


def test_describe_gives_the_cut_the_masks_are_made_at():
    """describe() (report.json, /v1/models) said threshold 0.5, the unused mask_threshold, where masks are cut at 0
    (wherever a kept box's SAM mask lies)."""
    seg = ZeroShotSegmenter(ZeroShotConfig(sam_path=None), detector=_DarkSpots(), sam=_NoSam())
    described = seg.describe()
    assert described["threshold"] == seg.threshold_for("crack") == 0.0
    assert "SAM mask" in described["threshold_source"]


def test_zeroshot_model_path_of_a_model_folder_says_it_takes_a_yaml(tmp_path):
    """--pipeline zeroshot --model-path MODEL_FOLDER read the folder as the YAML: 'cannot be read (IsADirectoryError)'."""
    from drywallqa.zeroshot.pipeline import ZeroShotConfig
    with pytest.raises(ValueError, match="is a folder: the zeroshot pipeline's --model-path is its YAML config"):
        ZeroShotConfig.from_yaml(tmp_path)
