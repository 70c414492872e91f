"""Follow-ups to the swap of a folder whole (``replace_dir(..., unexpected=...)``): a file put into ``export onnx``'s
--out while it exports, a user's file in an old ``<dest>.candidate`` of ``ship``; NaN confidences in the server's
answers; results.json's per-prompt record built once."""

import logging
import shutil

import pytest

from drywallqa.export.onnx import export_onnx


def test_export_keeps_a_file_put_into_out_while_it_exports(tiny_model_dir, tmp_path, monkeypatch, caplog):
    """``export onnx`` checks --out before the export, then replaces it whole: a file put there in between (a TensorRT
    engine built beside the earlier graphs) was deleted with the old folder without a word. Now the old folder is
    looked at again once aside: kept whole as ``<out>.replaced``, a WARNING naming the file and the folder."""
    import drywallqa.export.onnx as onnx

    out = export_onnx(tiny_model_dir, tmp_path / "onnx")
    real = onnx._carry_calibrations

    def a_file_arrives(earlier, new):  # after check_export_target's look, before the swap
        (earlier / "encoder.engine").write_text("mine")
        return real(earlier, new)

    monkeypatch.setattr(onnx, "_carry_calibrations", a_file_arrives)
    with caplog.at_level(logging.WARNING, logger="drywallqa.export.onnx"):
        assert export_onnx(tiny_model_dir, out) == out
    kept = tmp_path / "onnx.replaced"
    assert (kept / "encoder.engine").read_text() == "mine" and (kept / "encoder.onnx").is_file()
    assert (out / "encoder.onnx").is_file() and not (out / "encoder.engine").exists()
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "encoder.engine" in said and str(kept) in said, said

    monkeypatch.setattr(onnx, "_carry_calibrations", real)  # nothing put there: replaced as before, nothing kept
    export_onnx(tiny_model_dir, out)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("onnx")) == ["onnx", "onnx.replaced"]


def test_export_keeps_an_empty_out_that_was_filled_while_it_exports(tiny_model_dir, tmp_path, monkeypatch):
    """An empty --out (allowed) that a user's files filled during the export: kept too, whatever their names."""
    import drywallqa.export.onnx as onnx

    out = tmp_path / "onnx"
    out.mkdir()
    real = onnx._carry_calibrations

    def files_arrive(earlier, new):
        (earlier / "config.json").write_text("{}")  # a name an export writes, in a folder no export wrote
        return real(earlier, new)

    monkeypatch.setattr(onnx, "_carry_calibrations", files_arrive)
    export_onnx(tiny_model_dir, out)
    assert (tmp_path / "onnx.replaced" / "config.json").read_text() == "{}" and (out / "decoder.onnx").is_file()


def _ship_with_a_file_arriving(shipping, tiny_model_dir, dest, synthetic_datasets, syn_splits, monkeypatch):
    """``ship`` into ``dest`` while a report is put into it after check_destination's look: the new model goes to
    ``<dest>.candidate`` (ValueError, returned)."""
    listed = shipping.files_ship_does_not_write
    looks = []

    def look_then_a_file_arrives(folder):
        looks.append(folder)
        if len(looks) == 2:  # ship's last look at dest before the swap (the first: check_destination's)
            (dest / "eval").mkdir()
            (dest / "eval" / "report.md").write_text("report")
        return listed(folder)

    monkeypatch.setattr(shipping, "files_ship_does_not_write", look_then_a_file_arrives)
    with pytest.raises(ValueError) as exc:
        shipping.ship(tiny_model_dir, dest, datasets=("syn_crack", "syn_tape"), scales=((64,),), tta=(False,),
                      splits_dir=syn_splits, datasets_dir=synthetic_datasets, timing_images=2, budget=False,
                      gate=False, confidence=False, drywall_check=None, progress=False, report=lambda line: None)
    return str(exc.value)


def test_ship_keeps_an_earlier_candidate_holding_a_users_file(tiny_model_dir, synthetic_datasets, syn_splits,
                                                              tmp_path, monkeypatch):
    """Where files appear in ``dest`` while the model is chosen, the new model goes to ``<dest>.candidate``, which
    replaced an earlier candidate whole: a user's file in it (notes, an evaluate report of that candidate) was deleted
    without a word. Now that candidate is kept whole as ``<dest>.candidate.replaced``, the message naming the file and
    the folder; a candidate holding only what ship writes is replaced as before."""
    import drywallqa.engine.shipping as shipping

    dest = tmp_path / "shipped"
    shutil.copytree(tiny_model_dir, dest)
    candidate = tmp_path / "shipped.candidate"
    shutil.copytree(tiny_model_dir, candidate)
    (candidate / "notes.txt").write_text("mine")
    said = _ship_with_a_file_arriving(shipping, tiny_model_dir, dest, synthetic_datasets, syn_splits, monkeypatch)
    kept = tmp_path / "shipped.candidate.replaced"
    assert (kept / "notes.txt").read_text() == "mine", sorted(p.name for p in tmp_path.iterdir())
    assert (candidate / "selection.json").is_file() and not (candidate / "notes.txt").exists()
    assert "notes.txt" in said and str(kept) in said and str(candidate) in said, said

    shutil.rmtree(dest / "eval")  # again: the candidate there now holds only what ship writes, replaced whole
    said = _ship_with_a_file_arriving(shipping, tiny_model_dir, dest, synthetic_datasets, syn_splits, monkeypatch)
    assert ".replaced" not in said and not (tmp_path / "shipped.candidate.replaced-2").exists(), said


def test_a_drywall_regression_keeps_an_earlier_candidate_holding_a_users_file(tiny_model_dir, tmp_path, monkeypatch):
    """The drywall check's regression writes the new model to ``<dest>.candidate`` too: an earlier one holding a
    user's file (any, in a folder that is no model) is kept whole, named in the DrywallRegression."""
    import drywallqa.engine.shipping as shipping

    tmp, dest = tmp_path / ".new", tmp_path / "shipped"
    shutil.copytree(tiny_model_dir, tmp)
    (tmp / shipping.SELECTION_FILE).write_text("{}")
    candidate = tmp_path / "shipped.candidate"
    candidate.mkdir()
    (candidate / "config.json").write_text("mine")  # no model folder: every file in it is the user's
    rows = {"new": {}, "replaced": {}}
    monkeypatch.setattr(shipping, "check_drywall", lambda *args: {"rows": rows, "worse": True})
    monkeypatch.setattr(shipping.drywall, "summary", lambda *args: "fewer")
    with pytest.raises(shipping.DrywallRegression) as exc:
        shipping.drywall_step(tmp, dest, ("syn_crack", "syn_wall"), False, None, None, None, False, lambda line: None)
    kept = tmp_path / "shipped.candidate.replaced"
    assert (kept / "config.json").read_text() == "mine" and (candidate / shipping.SELECTION_FILE).is_file()
    assert "config.json" in str(exc.value) and str(kept) in str(exc.value), str(exc.value)


def test_the_server_answers_a_nan_confidence_as_null(tiny_model_dir, monkeypatch):
    """A NaN confidence went into the server's answer as NaN, which JSON has not (Starlette's JSONResponse refuses it:
    a 500 with a FastAPI that does not turn it into null itself, as 0.165 does) where to_dict and results.json write
    null. Now the record the answer is built from (prompt_entry) writes null, and the body is strict JSON as built."""
    import io
    import json

    import numpy as np
    from fastapi.testclient import TestClient
    from PIL import Image

    from drywallqa import Segmenter
    from drywallqa.serve.app import ServeConfig, _segment_and_describe, create_app

    seg = Segmenter.load(tiny_model_dir)
    real = seg.predict

    def nan_confidence(*args, **kwargs):
        result = real(*args, **kwargs)
        for p in result.masks:
            result.confidence[p] = np.float32("nan")
        return result

    monkeypatch.setattr(seg, "predict", nan_confidence)
    buf = io.BytesIO()
    Image.fromarray(np.full((32, 48, 3), 128, np.uint8)).save(buf, format="PNG")
    body = _segment_and_describe(seg, buf.getvalue(), ["segment crack"], None, ServeConfig(), None, None, None, "png",
                                 False, (), 0.0)
    assert body["results"][0]["confidence"] is None
    json.dumps(body, allow_nan=False)  # what Starlette's JSONResponse does: ValueError on a NaN
    with TestClient(create_app(ServeConfig(), seg), raise_server_exceptions=False) as client:
        r = client.post("/v1/segment", files={"image": ("w.png", buf.getvalue(), "image/png")},
                        data={"prompts": ["segment crack"]})
    assert r.status_code == 200 and r.json()["results"][0]["confidence"] is None and "NaN" not in r.text, r.text


def test_a_record_measured_again_has_the_keys_of_one_written_by_a_job_in_their_order(tiny_model_dir, tmp_path):
    """``remeasured`` (a record of an older version, or a mask corrected by hand) built a prompt's record a second time,
    beside ``SegmentationResult.prompt_entry``: ``concept`` before ``emptied_below``, the other way round from a job's.
    Now both are built by ``prompt_record``: the same keys, in the same order, the same values for the same mask."""
    import json
    import zlib

    import numpy as np
    from PIL import Image

    from drywallqa import Segmenter
    from drywallqa.engine.batch import predict_paths, remeasured
    from drywallqa.engine.segmenter import SegmentationResult

    photo = tmp_path / "wall.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (30, 40, 3), dtype=np.uint8)).save(photo)
    out, p = tmp_path / "out", "segment crack"
    predict_paths(Segmenter.load(tiny_model_dir), [photo], [p], out, progress=False)
    record = out / "wall__results.json"
    entry = json.loads(record.read_text())
    name = entry["prompts"][p]["mask"]
    empty = np.zeros((30, 40), bool)  # emptied by --min-confidence: its emptied_below kept
    Image.fromarray(empty.astype(np.uint8)).save(out / name)
    data = (out / name).read_bytes()
    result = SegmentationResult(masks={p: empty}, confidence={p: 0.25}, emptied={p: 0.5},
                                concepts={p: {"concept": "cracks", "known": True}})
    written = {"mask": name, **result.prompt_entry(p), "mask_crc32": zlib.crc32(data)}  # as process_image writes it
    entry = {**entry, "measures_version": 0, "prompts": {p: written}}  # an older version's: measured again
    record.write_text(json.dumps(entry))
    again = remeasured(out, photo, entry, None)["prompts"][p]
    assert list(again) == list(written) and again == written, (list(again), list(written))
