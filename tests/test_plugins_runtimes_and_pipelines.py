"""Runtimes of plugins on the command line: ``--runtime`` of ``predict``, ``evaluate`` and ``serve`` took only
``torch`` or ``onnx`` (hard-coded in ``cli/common.py`` ``load_kwargs``), although a runtime a plugin registers
(``@register_runtime``, docs/training.md "Where a change goes") loaded from Python. Its names are now read from the
runtime registry, plugins imported; an unknown name is a usage error listing them."""

import json
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from drywallqa.cli import app
from drywallqa.engine.segmenter import PIPELINES, RUNTIMES
from drywallqa.utils.plugins import load_plugins

PLUGIN = textwrap.dedent("""
    import numpy as np

    from drywallqa.engine.segmenter import SegmentationResult, Segmenter, register_pipeline, register_runtime

    @register_runtime("h242_plain")
    class PlainSegmenter(Segmenter):
        '''A user's runtime: the left half of every photo is each prompt's mask.'''

        loaded_with = None

        @classmethod
        def from_path(cls, path=None, **kwargs):
            PlainSegmenter.loaded_with = {"path": path, **kwargs}
            return cls()

        def decode(self, encoded, prompts, threshold=None, label_shape=None):
            h, w = encoded.rgb.shape[:2]
            mask = np.zeros((h, w), bool)
            mask[:, : w // 2] = True
            return SegmentationResult(masks={p: mask for p in prompts},
                                      probabilities={p: mask.astype(np.float32) for p in prompts},
                                      confidence={p: 1.0 for p in prompts})

        def describe(self):
            return {**super().describe(), "runtime": "h242_plain"}

    @register_pipeline("h242_pipe")
    class PlainPipeline(PlainSegmenter):
        # a pipeline of a user: the same masks, assembled without a model folder

        @classmethod
        def from_path(cls, path=None, **kwargs):
            PlainPipeline.loaded_with = {"path": path, **kwargs}
            return cls()
""")


@pytest.fixture
def plugin_runtime(tmp_path, monkeypatch):
    """The module ``dq_h242_runtime`` (registering the runtime ``h242_plain`` and the pipeline ``h242_pipe``) named in
    $DRYWALLQA_PLUGINS, as a user would; the registries and the plugins are left as they were found."""
    folder = tmp_path / "plugin"
    folder.mkdir()
    (folder / "dq_h242_runtime.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("DRYWALLQA_PLUGINS", "dq_h242_runtime")
    load_plugins.cache_clear()
    yield "h242_plain"
    RUNTIMES.remove("h242_plain")
    PIPELINES.remove("h242_pipe")
    sys.modules.pop("dq_h242_runtime", None)
    load_plugins.cache_clear()


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photos" / "wall.png"
    path.parent.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (24, 40, 3), dtype=np.uint8)).save(path)
    return path


def test_predict_runs_a_runtime_a_plugin_registers(plugin_runtime, photo, tmp_path):
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["predict", str(photo), "-p", "segment crack", "--out", str(out),
                                   "--runtime", plugin_runtime, "--model-path", str(tmp_path / "any"),
                                   "--min-confidence", "0.2", "--no-report", "--no-table"])
    assert res.exit_code == 0, res.output
    loaded_with = sys.modules["dq_h242_runtime"].PlainSegmenter.loaded_with
    assert loaded_with["path"] == str(tmp_path / "any") and loaded_with["min_confidence"] == 0.2
    assert "precision" not in loaded_with and "model" not in loaded_with  # options of the torch runtime: not given
    mask = np.asarray(Image.open(next(out.glob("wall__*.png"))))
    assert mask[:, :20].all() and not mask[:, 20:].any()  # the plugin's masks
    assert json.loads((out / "results.json").read_text())["images"][0]["prompts"]["segment crack"]["area_px"] == 24 * 20


def test_an_unknown_runtime_is_a_usage_error_naming_the_registered_ones(plugin_runtime, photo, tmp_path):
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["predict", str(photo), "-p", "segment crack", "--out", str(out),
                                   "--runtime", "tensorflow"])
    assert res.exit_code == 2, res.output
    assert isinstance(res.exception, SystemExit) and "Traceback" not in res.output
    said = " ".join(res.output.replace("│", " ").split())
    assert "unknown runtime 'tensorflow'; registered: h242_plain, onnx, torch" in said, said
    assert "--runtime" in said and not out.exists()


def test_serve_loads_a_runtime_a_plugin_registers(plugin_runtime, monkeypatch):
    """``drywallqa serve --runtime NAME`` builds the server on the plugin's runtime (uvicorn itself not run)."""
    import uvicorn

    from drywallqa.cli import serving

    served = {}
    monkeypatch.setattr(serving, "_check_address", lambda host, port: None)
    monkeypatch.setattr(uvicorn, "run", lambda app_, **kwargs: served.setdefault("app", app_))
    res = CliRunner().invoke(app, ["serve", "--runtime", plugin_runtime, "--port", "0"])
    assert res.exit_code == 0, res.output
    from fastapi.testclient import TestClient

    models = TestClient(served["app"]).get("/v1/models").json()
    assert "h242_plain" in json.dumps(models), models
    unknown = CliRunner().invoke(app, ["serve", "--runtime", "tensorflow", "--port", "0"])
    assert unknown.exit_code == 2 and "unknown runtime 'tensorflow'" in " ".join(unknown.output.replace("│", " ").split())


def test_predict_runs_a_pipeline_a_plugin_registers(plugin_runtime, photo, tmp_path):
    """``--pipeline`` took zeroshot only ("the one pipeline is zeroshot"); the options zeroshot has none of
    (--threshold, --label-shape, ...) are the plugin's to take."""
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["predict", str(photo), "-p", "segment crack", "--out", str(out),
                                   "--pipeline", "h242_pipe", "--threshold", "0.7", "--label-shape", "box",
                                   "--no-report", "--no-table"])
    assert res.exit_code == 0, res.output
    loaded_with = sys.modules["dq_h242_runtime"].PlainPipeline.loaded_with
    assert loaded_with == {"path": None, "label_shape": "box", "min_confidence": None}, loaded_with
    mask = np.asarray(Image.open(next(out.glob("wall__*.png"))))
    assert mask[:, :20].all() and not mask[:, 20:].any()
    refused = CliRunner().invoke(app, ["predict", str(photo), "-p", "segment crack", "--out", str(tmp_path / "o2"),
                                       "--pipeline", "h242_pipe", "--runtime", "onnx"])
    assert refused.exit_code == 2 and "not an option of --pipeline h242_pipe" in " ".join(
        refused.output.replace("│", " ").split()), refused.output


def test_an_unknown_pipeline_is_a_usage_error_naming_the_registered_ones(plugin_runtime, photo, tmp_path):
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["predict", str(photo), "-p", "segment crack", "--out", str(out),
                                   "--pipeline", "zero-shot"])
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit), res.output
    said = " ".join(res.output.replace("│", " ").split())
    assert "unknown pipeline 'zero-shot'; registered: h242_pipe, zeroshot" in said and "--pipeline" in said, said
    assert not out.exists()


@pytest.fixture
def broken_plugin(tmp_path, monkeypatch):
    """A plugin, named in $DRYWALLQA_PLUGINS, that fails as it is imported."""
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "dq_h242_broken.py").write_text("raise RuntimeError('needs a GPU library')\n")
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("DRYWALLQA_PLUGINS", "dq_h242_broken")
    load_plugins.cache_clear()
    yield
    sys.modules.pop("dq_h242_broken", None)
    load_plugins.cache_clear()


@pytest.mark.parametrize("kind", ["runtime", "pipeline"])
def test_an_unknown_runtime_or_pipeline_names_the_plugin_that_failed(broken_plugin, kind):
    """``Segmenter.load(runtime=NAME)`` said "unknown runtime 'NAME'; known: onnx, torch" alone, where every registry's
    error names the plugin that could not be imported (it may be the one that registers NAME)."""
    from drywallqa import Segmenter
    from drywallqa.utils.registry import UnknownNameError

    with pytest.raises(UnknownNameError) as err:
        Segmenter.load(None, **{kind: "mine"})
    assert f"unknown {kind} 'mine'" in str(err.value)
    assert "plugin 'dq_h242_broken' could not be imported (RuntimeError: needs a GPU library)" in str(err.value)


@pytest.mark.parametrize("option", [["--runtime", "h242_plain"], ["--pipeline", "h242_pipe"]])
def test_precision_with_a_plugin_s_runtime_names_the_option_given(plugin_runtime, photo, tmp_path, option):
    """--precision bfloat16 --runtime NAME said "runs the torch runtime only (not --runtime onnx or --pipeline)",
    naming an option that was not given."""
    res = CliRunner().invoke(app, ["predict", str(photo), "-p", "segment crack", "--out", str(tmp_path / "o"),
                                   "--precision", "bfloat16", *option])
    said = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 2 and f"bfloat16 runs the torch runtime only (not {' '.join(option)})" in said, said
    assert "onnx" not in said
