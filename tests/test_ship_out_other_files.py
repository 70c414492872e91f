"""``ship --out DEST`` replaced a model folder whole: what ship does not write there (a user's notes, an eval/ report,
an ONNX export or TensorRT engine of the old weights) was deleted without a word. Now such a folder is refused before
any work (naming up to 5 of them; --overwrite replaces it anyway); a folder holding only what a ship writes is
replaced as before."""

from __future__ import annotations

import shutil

import pytest


def _cli(args):
    from typer.testing import CliRunner

    from drywallqa.cli import app

    res = CliRunner().invoke(app, args)
    return res, " ".join(res.output.replace("│", " ").split())


def test_check_destination_names_the_files_ship_does_not_write(tiny_model_dir, tmp_path):
    from drywallqa.engine.shipping import check_destination

    dest = tmp_path / "fast"
    shutil.copytree(tiny_model_dir, dest)
    for name in ("selection.json", "train_files.json", "prompt_gate.npz", "confidence.json", "MODEL_CARD.md",
                 "README.md", "training_metrics.csv", "training_curves.png", "training_config.yaml"):
        (dest / name).write_text("written by a ship")
    check_destination(tiny_model_dir, dest)  # only what a ship writes: replaced as before
    (dest / "notes.txt").write_text("mine")
    (dest / "onnx").mkdir()
    (dest / "onnx" / "encoder.onnx").write_bytes(b"graph of the old weights")
    with pytest.raises(ValueError) as exc:
        check_destination(tiny_model_dir, dest)
    said = str(exc.value)
    assert "notes.txt" in said and "onnx/" in said and "--overwrite" in said and "another --out" in said
    assert "model.safetensors" not in said and "selection.json" not in said
    check_destination(tiny_model_dir, dest, overwrite=True)
    for i in range(7):
        (dest / f"extra{i}.txt").write_text("x")
    with pytest.raises(ValueError, match=r"extra0.txt, extra1.txt, extra2.txt, extra3.txt, extra4.txt, \.\.\."):
        check_destination(tiny_model_dir, dest)


def test_ship_cli_refuses_a_model_folder_of_other_files_before_any_work(tiny_model_dir, tmp_path, monkeypatch):
    import drywallqa.engine.shipping as shipping

    dest = tmp_path / "fast"
    shutil.copytree(tiny_model_dir, dest)
    (dest / "eval").mkdir()
    (dest / "eval" / "report.md").write_text("the old model's report")
    before = sorted(p.name for p in dest.iterdir())

    def no_work(*a, **k):
        raise AssertionError("the sweep started")

    monkeypatch.setattr(shipping, "ship", no_work)
    res, out = _cli(["ship", str(tiny_model_dir), "--out", str(dest), "-d", "syn_crack", "--no-confidence"])
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit), res.output
    assert "eval/" in out and "--overwrite" in out and "Traceback" not in res.output
    assert sorted(p.name for p in dest.iterdir()) == before
    assert (dest / "eval" / "report.md").read_text() == "the old model's report"


def test_ship_overwrite_replaces_the_folder_and_says_what_it_deleted(tiny_model_dir, synthetic_datasets, syn_splits,
                                                                    tmp_path):
    from drywallqa.engine.shipping import ship

    dest = tmp_path / "shipped"
    shutil.copytree(tiny_model_dir, dest)
    (dest / "model.engine").write_bytes(b"TensorRT engine of the old weights")
    kwargs = dict(datasets=("syn_crack", "syn_tape"), scales=((64,),), tta=(False,), splits_dir=syn_splits,
                  datasets_dir=synthetic_datasets, timing_images=2, budget=False, gate=False, confidence=False,
                  drywall_check=None, progress=False)
    with pytest.raises(ValueError, match="model.engine"):
        ship(tiny_model_dir, dest, report=lambda *_: None, **kwargs)
    assert (dest / "model.engine").is_file()
    lines = []
    out = ship(tiny_model_dir, dest, overwrite=True, report=lambda line: lines.append(str(line)), **kwargs)
    assert not (dest / "model.engine").exists() and "selection.json" in out["files"]
    assert any("deleted" in line and "model.engine" in line for line in lines), lines


def test_ship_leaves_dest_whole_where_other_files_appear_while_it_runs(tiny_model_dir, synthetic_datasets, syn_splits,
                                                                      tmp_path, monkeypatch):
    import drywallqa.engine.shipping as shipping

    dest = tmp_path / "shipped"
    shutil.copytree(tiny_model_dir, dest)
    select = shipping.select

    def select_then_evaluate_into_dest(*a, **k):
        out = select(*a, **k)
        (dest / "eval").mkdir()  # an evaluate --out DEST/eval meanwhile
        (dest / "eval" / "report.md").write_text("report")
        return out

    monkeypatch.setattr(shipping, "select", select_then_evaluate_into_dest)
    with pytest.raises(ValueError, match="eval/") as exc:
        shipping.ship(tiny_model_dir, dest, datasets=("syn_crack", "syn_tape"), scales=((64,),), tta=(False,),
                      splits_dir=syn_splits, datasets_dir=synthetic_datasets, timing_images=2, budget=False,
                      gate=False, confidence=False, drywall_check=None, progress=False, report=lambda *_: None)
    assert "candidate" in str(exc.value)
    assert (dest / "eval" / "report.md").read_text() == "report"
    assert not (dest / "selection.json").exists()  # the old model, as it was
    assert (tmp_path / "shipped.candidate" / "selection.json").is_file()
