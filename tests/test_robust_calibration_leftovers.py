"""ship, calibrate-gate, calibrate-confidence, export onnx and the speed measure: leftovers of an adversarial pass
(each test failed before its fix)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import says
from drywallqa.cli import app

runner = CliRunner()


class _NoisyClock:
    """A clock for a segmenter whose call with every prompt happens to be timed faster than with one (noise)."""

    def __init__(self):
        self.t = 0.0

    def perf_counter(self):
        return self.t


def test_a_cost_per_extra_prompt_below_timing_noise_is_never_negative(monkeypatch, tmp_path):
    """With one or two timing photos the noise is larger than an extra prompt's cost: "-4.0 ms per extra prompt" was
    reported (and written into selection.json). A cost is at least 0; the batch job's too."""
    from drywallqa.engine import batch, speed

    clock = _NoisyClock()

    class Segmenter:
        def predict(self, path, prompts):
            clock.t += 0.100 if len(prompts) == 1 else 0.092  # every prompt timed 8 ms faster than one: noise
            mask = np.zeros((8, 8), bool)
            return SimpleNamespace(probabilities={p: mask for p in prompts}, masks={p: mask for p in prompts},
                                   concepts={})

        def mask_confidence(self, *args, **kwargs):
            return 0.5

        def settings(self):
            return {}

    monkeypatch.setattr(speed.time, "perf_counter", clock.perf_counter)
    monkeypatch.setattr(speed.torch, "set_num_threads", lambda n: None)
    monkeypatch.setattr(batch, "job_options", lambda asked, *a, **k: asked)
    monkeypatch.setattr(batch, "process_image", lambda seg, path, asked: seg.predict(path, asked))
    for photos in (1, 2):
        s = speed.measure_speed(Segmenter(), [tmp_path / f"{i}.jpg" for i in range(photos)], ["a", "b", "c"],
                                batch=True)
        assert s["median_ms_per_extra_prompt"] == 0.0 and s["median_ms_per_extra_prompt_batch"] == 0.0, s
        assert s["median_ms_first_prompt"] == pytest.approx(100.0)


def test_the_python_api_refuses_no_datasets_before_any_work(tiny_model_dir, synthetic_datasets, syn_splits, tmp_path,
                                                            monkeypatch):
    """``datasets=()`` failed deep in the work: ship with numpy's "need at least one array to stack" once the model
    had loaded, the confidence calibration with "validation needs at least one photo per dataset": a ValueError
    naming ``datasets``, before the model (or the gate's text encoder) is loaded."""
    from drywallqa.engine import calibrate, shipping
    from drywallqa.engine.calibrate import calibrate_model_confidence
    from drywallqa.text.gate_calibration import calibrate_model_gate

    monkeypatch.setattr(calibrate, "confidence_segmenter", lambda *a, **k: pytest.fail("the model was loaded"))
    monkeypatch.setattr(shipping.Validator, "from_parts", lambda *a, **k: pytest.fail("the val photos were read"))
    monkeypatch.setattr("drywallqa.text.encoder.get_text_encoder", lambda *a, **k: pytest.fail("the encoder loaded"))
    calls = [lambda: shipping.ship(tiny_model_dir, tmp_path / "out", datasets=(), scales=((64,),), tta=(False,),
                                   splits_dir=syn_splits, datasets_dir=synthetic_datasets, timing_images=0,
                                   budget=False, gate=False, confidence=False, drywall_check=None, progress=False,
                                   report=lambda *_: None),
             lambda: calibrate_model_confidence(tiny_model_dir, (), syn_splits, synthetic_datasets, progress=False),
             lambda: calibrate_model_gate(tiny_model_dir, [])]
    for call in calls:
        with pytest.raises(ValueError, match=r"^datasets: no dataset given"):
            call()
    assert sorted(p.name for p in tiny_model_dir.iterdir()) == ["config.json", "model.safetensors"]
    assert not (tmp_path / "out").exists()


def test_ship_of_a_dataset_without_val_photos_is_a_usage_error_as_calibrate_confidence_says_it(
        tiny_model_dir, synthetic_datasets, tmp_path):
    """A split manifest that puts no photo in val: ``ship`` ended with exit 1 ("error: validation: ..."), where
    ``calibrate-confidence`` says the same data are a bad --dataset (exit 2). Both exit 2 now, naming the options."""
    from drywallqa.data.grouping import make_group_split

    splits = tmp_path / "no_val"
    for ds in ("syn_crack", "syn_tape"):
        make_group_split(ds, synthetic_datasets, {"train": 0.5, "val": 0.0, "test": 0.5}, seed=0).to_json(
            splits / f"{ds}.json")
    data = ["-d", "syn_crack", "-d", "syn_tape", "--splits-dir", str(splits), "--datasets-dir", str(synthetic_datasets)]
    for args in (["ship", str(tiny_model_dir), "--out", str(tmp_path / "out"), "--no-gate", "--no-budget", "--scales",
                  "64", "--tta", "off", *data], ["calibrate-confidence", "--model-path", str(tiny_model_dir), *data]):
        res = runner.invoke(app, args, terminal_width=400)
        assert res.exit_code == 2 and says(res.output, "--dataset", "puts no photo in it"), res.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["prompt_gate.npz", "confidence.json"])
@pytest.mark.parametrize("kind", ["folder", "link to nowhere"])
def test_a_calibration_that_is_no_file_is_named_as_damaged(tiny_model_dir, tmp_path, name, kind):
    """A folder (or a link to nowhere) named prompt_gate.npz or confidence.json in a model folder was taken for no
    calibration: the model loaded answering every prompt (or with the uncalibrated confidence), and ``ship --no-gate``
    shipped it so. Named as damaged, as a damaged file is, and refused as a bad SOURCE by ship."""
    from drywallqa.engine.segmenter import Segmenter

    path = tiny_model_dir / name
    if kind == "folder":
        path.mkdir()
    else:
        path.symlink_to(tmp_path / "gone")
    with pytest.raises(ValueError, match=f"{name} is damaged \\(a {kind}"):
        Segmenter.load(tiny_model_dir)
    res = runner.invoke(app, ["ship", str(tiny_model_dir), "--out", str(tmp_path / "out"), "--no-gate",
                              "--no-confidence", "--limit", "1"], terminal_width=400)  # both kept as they are
    assert res.exit_code == 2 and says(res.output, f"{name} is damaged", "SOURCE"), res.output
    assert not (tmp_path / "out").exists()


def _during_the_export(monkeypatch, action):
    """Run ``action()`` inside each export_onnx, once its graphs are made and what was calibrated on the earlier export
    carried, before it renames its folder into place; returns the list of what each call gave."""
    from drywallqa.export import onnx

    carry, results = onnx._carry_calibrations, []

    def meanwhile(earlier, new):
        carried = carry(earlier, new)
        results.append(action())
        return carried

    monkeypatch.setattr(onnx, "_carry_calibrations", meanwhile)
    return results


def test_a_calibration_of_an_export_being_made_again_is_refused_not_lost(tiny_model_dir, synthetic_datasets,
                                                                         tmp_path, monkeypatch):
    """``export onnx --out E`` replaces E whole when it ends: a calibration written into E while it ran said "wrote",
    then was gone with the folder replaced. Export takes a lock a calibration checks: refused, E as the export left
    it; and a calibration whose fit ends while an export into its folder runs writes nothing either."""
    from contextlib import ExitStack

    from drywallqa.export import onnx
    from drywallqa.text import gate, gate_calibration

    export = onnx.export_onnx(tiny_model_dir, tmp_path / "onnx")
    export_begins, begin = ExitStack(), []

    def gate_of(model_dir, datasets, before_save=None, report=None):  # the real one encodes for a minute
        for _ in begin:
            export_begins.enter_context(onnx.export_lock(export))
        before_save()
        (model_dir / gate.GATE_FILE).write_bytes(b"a gate")
        return {"min_margin": 0.1, "positives_answered": 1.0, "positives": 1, "negatives_answered": 0.0, "negatives": 1}

    monkeypatch.setattr(gate_calibration, "calibrate_model_gate", gate_of)
    calibrate_gate = ["calibrate-gate", "--model-path", str(export)]
    results = _during_the_export(monkeypatch, lambda: runner.invoke(app, calibrate_gate, terminal_width=400))
    onnx.export_onnx(tiny_model_dir, export)
    res = results[0]
    assert res.exit_code == 1 and says(res.output, "an ONNX export is writing", "once it has ended"), res.output
    assert not (export / gate.GATE_FILE).exists()
    monkeypatch.setattr(onnx, "_carry_calibrations", lambda *a: ([], []))
    begin.append(True)
    with export_begins:  # begun once the calibration began: refused when it would write
        res = runner.invoke(app, calibrate_gate, terminal_width=400)
        assert res.exit_code == 1 and says(res.output, "an ONNX export is writing", "nothing was written"), res.output
    assert not (export / gate.GATE_FILE).exists()


def test_a_ship_and_an_export_into_one_folder_at_once_refuse_each_other(tiny_model_dir, synthetic_datasets, syn_splits,
                                                                        tmp_path, monkeypatch):
    """A ship and an export into the same new folder each replace it whole when they end: the one that ended first
    said "wrote" and was silently gone (a shipped model replaced by ONNX graphs, or the reverse). The second to begin
    is refused (exit 1), the other one's folder kept."""
    from drywallqa.engine.shipping import ship_lock

    out = tmp_path / "out"
    ship = ["ship", str(tiny_model_dir), "--out", str(out), "-d", "syn_crack", "-d", "syn_tape", "--splits-dir",
            str(syn_splits), "--datasets-dir", str(synthetic_datasets), "--no-gate", "--no-confidence",
            "--no-drywall-check", "--no-budget", "--scales", "64", "--tta", "off", "--limit", "1",
            "--timing-images", "1"]
    export = ["export", "onnx", "--out", str(out), "--model-path", str(tiny_model_dir)]
    with ship_lock(out.resolve()):  # a ship under way: the export refused before its work
        res = runner.invoke(app, export, terminal_width=400)
        assert res.exit_code == 1 and says(res.output, "a ship is writing", "another --out"), res.output
    assert not out.exists()
    results = _during_the_export(monkeypatch, lambda: runner.invoke(app, ship, terminal_width=400))
    res = runner.invoke(app, export, terminal_width=400)  # a ship begun while the export runs
    assert res.exit_code == 0, res.output
    assert results[0].exit_code == 1 and says(results[0].output, "an ONNX export is writing"), results[0].output
    assert (out / "encoder.onnx").is_file() and not (out / "model.safetensors").exists()
    assert not (tmp_path / ".out.export.lock").exists()  # the lock goes with the export
