"""A second look at the commits of 0626 (h218): init_from's training settings, the lock wait, plugins, one reader of a
photo and its label, the training cache's resize."""

import threading
import time

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
