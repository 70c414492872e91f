"""The batch job on Ray Data (a local Ray instance) and with several local workers gives the same files."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from drywallqa import Segmenter
from drywallqa.engine.batch import predict_paths
from drywallqa.engine.batch_ray import predict_paths_ray

from conftest import write_photos, says


@pytest.fixture
def folder(tmp_path):
    d = write_photos(tmp_path / "imgs", 6, shape=lambda i: (40 + i, 50), stem="a")
    (d / "bad.jpg").write_bytes(b"no image")
    return d


def test_ray_engine_matches_local_engine(tiny_model_dir, folder, tmp_path):
    prompts = ["segment crack", "segment joint/tape"]
    local = predict_paths(Segmenter.load(tiny_model_dir), [folder], prompts, tmp_path / "local", progress=False, workers=2)
    ray_sum = predict_paths_ray(tiny_model_dir, [folder], prompts, tmp_path / "ray", workers=1, batch_size=2)
    assert sorted(ray_sum.done) == sorted(str(p.resolve()) for p in folder.glob("a*.jpg"))
    assert [p for p, _ in ray_sum.failed] == [str((folder / "bad.jpg").resolve())]
    assert len(local.done) == 6 and len(local.failed) == 1
    for f in (tmp_path / "local").glob("*.png"):
        assert np.array_equal(np.asarray(Image.open(f)), np.asarray(Image.open(tmp_path / "ray" / f.name))), f.name
    assert len(json.loads((tmp_path / "ray" / "results.json").read_text())["images"]) == 6
    # a rerun on Ray skips everything that is done (only the unreadable file is tried again)
    again = predict_paths_ray(tiny_model_dir, [folder], prompts, tmp_path / "ray")
    assert len(again.skipped) == 6 and not again.done


def test_ray_job_writes_overlays_warns_and_resumes_locally(tiny_model_dir, folder, tmp_path):
    """--overlay, the unknown-prompt warning and the settings key are those of the local executor: a folder begun on
    Ray is finished (here: skipped, as done) by a local run with the same model."""
    from drywallqa.text.encoder import get_text_encoder
    from drywallqa.text.gate import PromptGate

    encode = lambda ps: get_text_encoder().encode(ps).numpy()  # noqa: E731
    PromptGate.build({"cracks": ["segment crack"], "taping": ["segment taping area"]}, ["segment the window"], encode,
                     min_margin=0.0).save(tiny_model_dir)
    prompts = ["segment crack", "segment the window"]
    out = tmp_path / "ray"
    summary = predict_paths_ray(tiny_model_dir, [folder], prompts, out, batch_size=3, overlay_images=True)
    assert len(summary.done) == 6
    assert len(summary.warnings) == 1 and "segment the window" in summary.warnings[0]
    assert json.loads((out / "results.json").read_text())["warnings"] == summary.warnings
    assert len(list(out.glob("*__overlay.png"))) == 6 and (out / "overlay_grid.png").is_file()
    local = predict_paths(Segmenter.load(tiny_model_dir), [folder], prompts, out, progress=False)
    assert len(local.skipped) == 6 and not local.done


def test_cli_ray_with_a_missing_model_is_a_clean_error_before_ray_starts(tmp_path, folder, monkeypatch):
    import ray
    from typer.testing import CliRunner

    from drywallqa.cli import app

    monkeypatch.setattr(ray, "init", lambda *a, **k: pytest.fail("Ray started for a model that does not exist"))
    res = CliRunner().invoke(app, ["predict", str(folder), "-p", "segment crack", "--out", str(tmp_path / "o"),
                                   "--executor", "ray", "--model-path", str(tmp_path / "nothing")], terminal_width=300)
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert says(res.output, "nothing")


def test_ray_names_a_linked_photo_as_the_local_executor_does(tiny_model_dir, tmp_path):
    pytest.importorskip("ray")
    from drywallqa.engine.batch import predict_paths
    from drywallqa.engine.batch_ray import predict_paths_ray

    (tmp_path / "imgs").mkdir()
    (tmp_path / "store").mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(tmp_path / "imgs" / "a.jpg")
    Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(tmp_path / "store" / "IMG_9.jpg")
    os.symlink("../store/IMG_9.jpg", tmp_path / "imgs" / "latest.jpg")
    out = tmp_path / "out"
    first = predict_paths_ray(tiny_model_dir, [tmp_path / "imgs"], ["segment crack"], out, batch_size=2)
    assert len(first.done) == 2 and not first.failed
    assert (out / "latest__results.json").is_file() and not (out / "IMG_9__results.json").exists()
    local = predict_paths(Segmenter.load(tiny_model_dir), [tmp_path / "imgs"], ["segment crack"], out, progress=False)
    assert not local.done and len(local.skipped) == 2  # a folder begun on Ray is resumed locally, nothing redone
    assert len(local.results) == 2  # each photo once in results.json


def test_ray_that_cannot_be_imported_is_a_clean_error_before_any_work(tiny_model_dir, folder, tmp_path, monkeypatch):
    """Ray not installed, or a broken install: `--executor ray` was a traceback from `import ray` once the photos were
    listed (the output folder made). Now a usage error naming --executor and what to do, before any work; from Python
    an ImportError saying the same."""
    import sys

    from typer.testing import CliRunner

    from drywallqa.cli import app

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray: ImportError
    out = tmp_path / "o"
    res = CliRunner().invoke(app, ["predict", str(folder), "-p", "segment crack", "--out", str(out), "--executor", "ray",
                                   "--model-path", str(tiny_model_dir)], terminal_width=300)
    text = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output
    assert "--executor" in text and "cannot be imported" in text and "local executor" in text
    assert not out.exists()
    with pytest.raises(ImportError, match="cannot be imported"):
        predict_paths_ray(tiny_model_dir, [folder], ["segment crack"], out)
    assert not out.exists()


def test_a_ray_job_with_warnings_as_errors_segments_its_photos(tiny_model_dir, tmp_path):
    """`PYTHONWARNINGS=error drywallqa predict --executor ray` failed every photo "not done: the Ray job stopped
    (DeprecationWarning: `use_push_based_shuffle` is deprecated!...)", a warning of Ray's own settings."""
    import warnings

    write_photos(tmp_path / "imgs", 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        summary = predict_paths_ray(tiny_model_dir, [tmp_path / "imgs"], ["segment crack"], tmp_path / "out")
    assert len(summary.done) == 2 and not summary.failed
