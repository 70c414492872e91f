"""Leftovers of the ship, calibration and own-data sweeps: a calibration file that is a folder, writer locks that
cannot be made, the colour copy of a mask check."""
import re

import pytest
from typer.testing import CliRunner

from drywallqa.cli import app


def _flat(text: str) -> str:
    return re.sub(r"[\s│]+", " ", text)


@pytest.mark.parametrize("command,name", [("calibrate-gate", "prompt_gate.npz"),
                                          ("calibrate-confidence", "confidence.json")])
def test_a_folder_named_as_the_calibration_file_is_said_to_be_moved_away(tiny_model_dir, command, name):
    (tiny_model_dir / name).mkdir()
    res = CliRunner().invoke(app, [command, "--model-path", str(tiny_model_dir)])
    out = _flat(res.output)
    assert res.exit_code == 2 and "is a folder" in out and "move it away" in out, out
    assert (tiny_model_dir / name).is_dir()


@pytest.mark.parametrize("errno_,missing", [(13, False), (2, True)])
def test_a_writer_lock_that_cannot_be_made_names_its_folder_not_a_file_to_remove(tmp_path, monkeypatch, errno_, missing):
    from filelock import FileLock

    from drywallqa.engine.folder_writers import FolderInUse, holding_writer_lock, writer_lock_path

    parent = tmp_path / ("gone" if missing else "read_only")
    if not missing:
        parent.mkdir()
    folder = parent / "model"

    def refuse(self, *args, **kwargs):
        raise (PermissionError if errno_ == 13 else FileNotFoundError)(errno_, "refused", self.lock_file)

    monkeypatch.setattr(FileLock, "acquire", refuse)
    with pytest.raises(FolderInUse) as info:
        with holding_writer_lock(folder, "ship", "ship into another --out"):
            pass
    message = str(info.value)
    assert "remove it" not in message and str(writer_lock_path(folder, "ship")) in message
    assert (f"{parent.resolve()} does not exist" if missing else f"{parent.resolve()} cannot be written") in message
    assert "ship into another --out" in message


def test_a_writer_lock_there_that_cannot_be_opened_is_still_said_to_be_removed(tmp_path, monkeypatch):
    from filelock import FileLock

    from drywallqa.engine.folder_writers import FolderInUse, holding_writer_lock, writer_lock_path

    folder = tmp_path / "model"
    writer_lock_path(folder, "export").write_text("")

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "refused", self.lock_file)

    monkeypatch.setattr(FileLock, "acquire", refuse)
    with pytest.raises(FolderInUse, match="remove it"):
        with holding_writer_lock(folder, "export", "export into another --out"):
            pass


@pytest.mark.parametrize("kind", ["soft", "empty", "noisy"])
def test_a_colour_mask_is_not_converted_where_its_colours_are_not_looked_at(tmp_path, monkeypatch, kind):
    """A soft map (many levels), an empty mask and one of a JPEG's near-black noise are said without their colours:
    each was copied as RGB for nothing."""
    import numpy as np
    from PIL import Image

    from drywallqa.data.sample import soft_mask_problem

    plane = np.zeros((64, 64), np.uint8)
    if kind == "soft":
        plane[:] = np.arange(64, dtype=np.uint8)[None, :] * 4
    elif kind == "noisy":
        plane[20:40, 20:40] = 255
        plane[::7, ::5] = np.where(plane[::7, ::5] == 0, 2, 255)
    Image.fromarray(np.stack([plane] * 3, axis=-1)).save(tmp_path / "mask.png")
    converted, convert = [], Image.Image.convert

    def counting(self, mode=None, *args, **kwargs):
        converted.append(mode)
        return convert(self, mode, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "convert", counting)
    problem = soft_mask_problem(tmp_path / "mask.png")
    assert converted == []
    said = {"soft": "grey levels", "empty": None, "noisy": "values near 0"}[kind]
    assert (problem is None) if said is None else said in problem.message
