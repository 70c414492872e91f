"""Kill windows (helper h289): a ``ship`` or ``export onnx`` killed after replace_dir's two renames, before it looked
at the folder it set aside, left ``.OUT.replaced``, which the next replace deleted unlooked at; a ship killed between
the two renames; Ray batch jobs whose workers die or whose disk fills up."""

import logging
import shutil

import pytest


class Killed(BaseException):
    """The process ends here (``kill -9``): nothing after it runs, no ``except Exception`` sees it."""


def _kill_after_the_renames(monkeypatch, put_there=None):
    """replace_dir's next call is killed once both renames are made, before it looks at the folder set aside
    (``put_there(old)`` first: a file that reached the folder just before it was set aside)."""
    from drywallqa.utils import files

    real = files._drop_replaced

    def killed(old, dest, unexpected, earlier=False):
        if earlier:  # (a leftover of an earlier one, looked at before the renames)
            return real(old, dest, unexpected, earlier)
        monkeypatch.setattr(files, "_drop_replaced", real)
        if put_there is not None:
            put_there(old)
        raise Killed

    monkeypatch.setattr(files, "_drop_replaced", killed)


def test_a_leftover_of_a_replace_killed_after_its_renames_is_looked_at_not_deleted_unseen(tmp_path, monkeypatch,
                                                                                           caplog):
    """A replace killed after both renames, before it looked at the folder it set aside, left ``.model.replaced``
    holding a file put into ``model`` just before the swap. The next replace removed that leftover first, without the
    look ``unexpected`` gives the folder it replaces: the user's file was gone without a word. Now the leftover is
    looked at as that folder is: kept whole as ``model.replaced``, a WARNING naming the file and the folder; a
    leftover holding only expected files is still removed."""
    from drywallqa.utils.files import replace_dir

    dest = tmp_path / "model"
    dest.mkdir()
    (dest / "weights.bin").write_text("old")

    def new(n):
        folder = tmp_path / f"new{n}"
        folder.mkdir()
        (folder / "weights.bin").write_text(f"new {n}")
        return folder

    unexpected = lambda old: sorted(p.name for p in old.iterdir() if p.name != "weights.bin")  # noqa: E731
    _kill_after_the_renames(monkeypatch, lambda old: (old / "notes.txt").write_text("mine"))
    with pytest.raises(Killed):
        replace_dir(new(1), dest, unexpected=unexpected)
    hidden = tmp_path / ".model.replaced"
    assert (hidden / "notes.txt").read_text() == "mine" and (dest / "weights.bin").read_text() == "new 1"
    with caplog.at_level(logging.WARNING):
        assert replace_dir(new(2), dest, unexpected=unexpected) == dest
    kept = tmp_path / "model.replaced"
    assert (dest / "weights.bin").read_text() == "new 2" and not hidden.exists()
    assert (kept / "notes.txt").read_text() == "mine" and (kept / "weights.bin").read_text() == "old"
    assert "notes.txt" in caplog.text and str(kept) in caplog.text, caplog.text
    # a leftover of only what the replace writes: removed, as before, nothing said
    caplog.clear()
    _kill_after_the_renames(monkeypatch)
    with pytest.raises(Killed):
        replace_dir(new(3), dest, unexpected=unexpected)
    assert hidden.is_dir()
    with caplog.at_level(logging.WARNING):
        replace_dir(new(4), dest, unexpected=unexpected)
    assert not hidden.exists() and not caplog.text and sorted(p.name for p in tmp_path.iterdir()) == [
        "model", "model.replaced"]


def test_ship_keeps_a_file_a_killed_ship_left_in_its_hidden_folder(tiny_model_dir, synthetic_datasets, syn_splits,
                                                                   tmp_path, monkeypatch, caplog):
    """A ``ship`` killed after its two renames, before it looked at the old folder, leaves ``.OUT.replaced`` holding
    the ``eval/`` report an ``evaluate --out OUT/eval`` finished just before the swap. The next ``ship`` deleted it
    unlooked at; now it keeps that folder as ``OUT.replaced`` and names it (WARNING), ``--overwrite`` too (which names
    the files of ``OUT`` that may go, not those of a folder a killed ship set aside)."""
    from drywallqa.engine.shipping import ship

    dest = tmp_path / "shipped"
    shutil.copytree(tiny_model_dir, dest)

    def run(overwrite=False):
        return ship(tiny_model_dir, dest, datasets=("syn_crack", "syn_tape"), scales=((64,),), tta=(False,),
                    splits_dir=syn_splits, datasets_dir=synthetic_datasets, timing_images=2, budget=False, gate=False,
                    confidence=False, drywall_check=None, overwrite=overwrite, progress=False,
                    report=lambda line: None)

    def report_arrives(old):
        (old / "eval").mkdir()
        (old / "eval" / "report.md").write_text("report")

    _kill_after_the_renames(monkeypatch, report_arrives)
    with pytest.raises(Killed):
        run()
    assert (tmp_path / ".shipped.replaced" / "eval" / "report.md").is_file()
    (dest / "eval").mkdir()  # --overwrite deletes OUT's own eval/, not the killed ship's folder's, never looked at
    (dest / "eval" / "report.md").write_text("OUT's")
    with caplog.at_level(logging.WARNING):
        run(overwrite=True)
    kept = tmp_path / "shipped.replaced"
    assert (kept / "eval" / "report.md").read_text() == "report" and not (tmp_path / ".shipped.replaced").exists()
    assert (dest / "selection.json").is_file() and not (dest / "eval").exists()
    assert "eval/" in caplog.text and str(kept) in caplog.text, caplog.text


def _killed_between_the_renames(model_dir, dest, *extra):
    """``dest`` as a ship (or export) killed between replace_dir's two renames leaves it: gone, the earlier folder
    whole as ``.<name>.replaced`` (``extra``: (name, text) pairs written into it)."""
    hidden = dest.with_name(f".{dest.name}.replaced")
    shutil.copytree(model_dir, hidden)
    for name, text in extra:
        (hidden / name).parent.mkdir(parents=True, exist_ok=True)
        (hidden / name).write_text(text)
    return hidden


def test_a_ship_after_one_killed_between_its_renames_puts_the_earlier_model_back_first(
        tiny_model_dir, synthetic_datasets, syn_splits, tmp_path):
    """A ship killed between its two renames leaves no ``OUT``, the earlier model whole in ``.OUT.replaced``. The next
    ship took ``OUT`` for a new folder: the earlier model's ``MODEL_CARD.md`` (which a ship keeps) was deleted with it
    unsaid, its files ship does not write were not refused before the work, nor was it the model the new one is
    compared with. Now the next ship puts it back first, saying so, and goes on as with any ``OUT``: the card kept,
    a user's ``eval/`` in it refused before any work (exit 2, the earlier model back in ``OUT``, no traceback)."""
    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.engine.shipping import ship

    dest = tmp_path / "shipped"
    hidden = _killed_between_the_renames(tiny_model_dir, dest, ("MODEL_CARD.md", "card"))
    lines = []
    ship(tiny_model_dir, dest, datasets=("syn_crack", "syn_tape"), scales=((64,),), tta=(False,), splits_dir=syn_splits,
         datasets_dir=synthetic_datasets, timing_images=2, budget=False, gate=False, confidence=False,
         drywall_check=None, progress=False, report=lambda line: lines.append(str(line)))
    assert (dest / "MODEL_CARD.md").read_text() == "card" and (dest / "selection.json").is_file()
    assert not hidden.exists() and not dest.with_name("shipped.replaced").exists()
    assert any(str(hidden) in line and "put back" in line for line in lines), lines

    shutil.rmtree(dest)
    hidden = _killed_between_the_renames(tiny_model_dir, dest, ("eval/report.md", "report"))
    res = CliRunner().invoke(app, ["ship", str(tiny_model_dir), "--out", str(dest), "-d", "syn_crack", "-d", "syn_tape",
                                   "--scales", "64", "--tta", "off", "--no-budget", "--no-gate", "--no-confidence",
                                   "--no-drywall-check", "--timing-images", "2", "--splits-dir", str(syn_splits),
                                   "--datasets-dir", str(synthetic_datasets)])
    said = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 2 and "eval/" in said and "Traceback" not in said, said
    assert (dest / "eval" / "report.md").read_text() == "report" and not (dest / "selection.json").exists()
    assert not hidden.exists() and not dest.with_name("shipped.replaced").exists()


def test_an_export_after_one_killed_between_its_renames_puts_the_earlier_export_back_first(tiny_model_dir, tmp_path,
                                                                                           caplog):
    """An export killed between its two renames leaves no ``OUT``, the earlier export whole in ``.OUT.replaced``. The
    next export took ``OUT`` for a new folder: what was calibrated on the earlier export (its settings, a confidence)
    was not carried into the new one, and was deleted with it without a word. Now the earlier export is put back
    first, said in a WARNING, and its calibration kept as with any earlier export."""
    import json

    from drywallqa.export.onnx import export_onnx

    out = export_onnx(tiny_model_dir, tmp_path / "onnx")
    meta = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**meta, "threshold": 0.37}))  # calibrated on the export
    out.rename(tmp_path / ".onnx.replaced")  # killed between the renames of an export into it
    with caplog.at_level(logging.WARNING):
        assert export_onnx(tiny_model_dir, out) == out
    assert json.loads((out / "config.json").read_text())["threshold"] == 0.37
    assert not (tmp_path / ".onnx.replaced").exists() and not (tmp_path / "onnx.replaced").exists()
    assert str(tmp_path / ".onnx.replaced") in caplog.text and "put back" in caplog.text, caplog.text
