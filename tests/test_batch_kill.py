"""A batch killed with SIGKILL in the middle, then rerun: every output present and valid."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
from PIL import Image


def _photos(folder, n=200):
    """``n`` random 128x96 JPEGs p000.jpg... in ``folder`` (made): a batch long enough to stop in the middle."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)).save(folder / f"p{i:03d}.jpg")
    return folder


def test_kill_9_then_rerun_completes_everything(tiny_model_dir, tmp_path):
    imgs = _photos(tmp_path / "imgs")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "drywallqa.cli", "predict", str(imgs), "-p", "segment crack", "-p", "segment taping area",
           "--out", str(out), "--model-path", str(tiny_model_dir)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("*__results.json"))) < 5:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(list(out.glob("*__results.json")))
    assert 5 <= done_before < 200, "the kill should land in the middle of the batch"
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"{done_before} skipped" in rerun.stdout.replace("\n", " ") or "skipped" in rerun.stdout
    for i in range(200):
        for slug in ("segment_crack", "segment_taping_area"):
            m = np.asarray(Image.open(out / f"p{i:03d}__{slug}.png"))
            assert m.shape == (96, 128) and set(np.unique(m)) <= {0, 255}
    assert not list(out.glob("*.tmp"))
    assert len(json.loads((out / "results.json").read_text())["images"]) == 200


def test_sigterm_stops_predict_as_ctrl_c_does(tiny_model_dir, tmp_path):
    """SIGTERM (``docker stop``, ``kill``, a scheduler) ended predict at once: no results.json or report of the photos
    done. Now it stops as Ctrl-C does, and exits with SIGTERM's code."""
    imgs = _photos(tmp_path / "imgs")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "drywallqa.cli", "predict", str(imgs), "-p", "segment crack", "--out", str(out),
           "--model-path", str(tiny_model_dir)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("*__results.json"))) < 5:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGTERM)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 143, output
    results = json.loads((out / "results.json").read_text())
    assert results["interrupted"] is True and 5 <= len(results["images"]) < 200, output
    assert len(results["images"]) + len(results["failed"]) == 200
    assert (out / "report.html").is_file() and "interrupted:" in output and "Traceback" not in output
    assert not list(out.glob(".*.tmp")) and not list(out.glob("*.tmp"))
