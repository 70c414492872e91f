"""A second look at the commits of 0626 (h218): init_from's training settings, the lock wait, plugins, one reader of a
photo and its label, the training cache's resize."""

import sys
import threading
import time

import pytest

from drywallqa.utils import files


def test_a_folder_lock_waited_for_while_its_holder_removes_the_folder_is_taken(tmp_path, monkeypatch):
    """A command waiting for a folder's lock (LOCK_WAIT_S) while the one holding it ends, and removes the folder it
    made: the lock was then 'cannot be opened (No such file or directory) ... remove it'; it is taken."""
    monkeypatch.setattr(files, "LOCK_WAIT_S", 10.0)
    folder, held = tmp_path / "new" / "eval", threading.Event()

    def first():
        with files.folder_lock(folder, ".lock", "evaluation", "choose another --out"):
            held.set()
            time.sleep(0.3)

    thread = threading.Thread(target=first)
    thread.start()
    held.wait()
    try:
        with files.folder_lock(folder, ".lock", "evaluation", "choose another --out") as out:
            assert out.is_dir()
    finally:
        thread.join()
    assert not (tmp_path / "new").exists()  # made for it, and removed again, as by the first


def test_a_plugin_that_exits_as_it_is_imported_is_named_and_ends_nothing(tmp_path, monkeypatch):
    """A module named as a plugin that calls sys.exit on import (a script parsing its own arguments): the first
    registry miss of any command (the server's too) ended the process with the plugin's words alone."""
    from drywallqa.models.encoders import ENCODERS
    from drywallqa.utils.plugins import load_plugins

    (tmp_path / "dq_exits_on_import.py").write_text("import sys\nsys.exit('usage: train.py --data DIR')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("DRYWALLQA_PLUGINS", "dq_exits_on_import")
    load_plugins.cache_clear()
    try:
        with pytest.raises(KeyError) as err:
            ENCODERS.get("no_such_encoder")
        said = str(err.value)
        assert "plugin 'dq_exits_on_import' could not be imported" in said and "usage: train.py" in said, said
    finally:
        sys.modules.pop("dq_exits_on_import", None)
        load_plugins.cache_clear()
