"""Review 209 of the day's change (50571a4..): what it broke, each with the case that shows it."""

from __future__ import annotations


def test_a_killed_runs_temporary_folder_is_removed_where_a_held_file_cannot_be_deleted(tmp_path, monkeypatch):
    """remove_stale_temp_dirs came to remove a killed run's lock file while holding it: where an open file cannot be
    deleted (Windows: filelock opens its lock without FILE_SHARE_DELETE, and releasing it deletes it), that raised
    PermissionError, so after one killed save every temp_dir of the prefix (a training run's best/, an export into the
    same --out) failed for good."""
    import pathlib

    from drywallqa.utils import files

    stale = tmp_path / ".best.123-abc"  # as a killed run left it: its folder and its lock file, held by none
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"half")
    (tmp_path / ".best.123-abc.lock").touch()
    held = set()
    real_lock, real_unlink = files.FileLock, pathlib.Path.unlink

    class Held:  # filelock's lock, keeping count of the files held open
        def __init__(self, path, **kwargs):
            self.path, self.lock = str(path), real_lock(path, **kwargs)

        def acquire(self, *args, **kwargs):
            got = self.lock.acquire(*args, **kwargs)
            held.add(self.path)
            return got

        def release(self, *args, **kwargs):
            held.discard(self.path)
            return self.lock.release(*args, **kwargs)

        def __enter__(self):
            self.acquire()
            return self

        def __exit__(self, *exc):
            self.release()

    def unlink(self, missing_ok=False):  # as Windows answers the deletion of a file open in a process
        if str(self) in held:
            raise PermissionError(13, "The process cannot access the file because it is being used by another "
                                      "process", str(self))
        return real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(files, "FileLock", Held)
    monkeypatch.setattr(pathlib.Path, "unlink", unlink)
    assert files.remove_stale_temp_dirs(tmp_path, ".best.") == 1
    assert list(tmp_path.iterdir()) == []
    with files.temp_dir(tmp_path, ".best.") as tmp:  # and a new save goes on
        (tmp / "model.safetensors").write_bytes(b"weights")
        tmp.rename(tmp_path / "best")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best"]


def test_a_prompt_field_of_a_megabyte_is_refused_before_it_is_read_character_by_character(tiny_model_dir, monkeypatch):
    """The prompts field lost its bound as sent (300 characters as read are checked by check_prompt): a prompt of up to
    a megabyte per field, within the upload limit, then went whole to check_prompt, which reads it character by
    character in the server's event loop (half a second a megabyte, /healthz waiting). A field far beyond any prompt is
    refused as the form is read, saying the limit; one of 300 characters with spaces around it still passes."""
    import io

    import numpy as np
    from fastapi.testclient import TestClient
    from PIL import Image

    from drywallqa import Segmenter
    from drywallqa.serve import ServeConfig, app as served, create_app

    real, read = served.validate_prompts, []

    def validate(prompts):
        read.extend(len(p) for p in prompts)
        return real(prompts)

    monkeypatch.setattr(served, "validate_prompts", validate)
    client = TestClient(create_app(ServeConfig(max_upload_mb=0.5), Segmenter.load(tiny_model_dir)))
    buf = io.BytesIO()
    Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(buf, format="PNG")
    r = client.post("/v1/segment", files={"image": ("w.png", buf.getvalue(), "image/png")},
                    data={"prompts": ["segment crack " + "x" * 200_000]})
    assert r.status_code == 422 and "at most 300 characters" in r.text, r.text
    assert read == [], read  # not read character by character
    r = client.post("/v1/segment", files={"image": ("w.png", buf.getvalue(), "image/png")},
                    data={"prompts": ["  " + "segment crack " + "x" * 286 + " \n"]})
    assert r.status_code == 200, r.text
