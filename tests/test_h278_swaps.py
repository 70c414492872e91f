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
