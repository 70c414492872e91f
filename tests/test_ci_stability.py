"""CI stability: how `make test` runs pytest (pytest-xdist), where a test process dies."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def make_test_pytest_args() -> list[str]:
    """The arguments `make test` gives pytest (its default TEST_WORKERS), as make expands them."""
    done = subprocess.run(["make", "-n", "-s", "-o", ".venv/.installed", "-o", "browser-deps", "test"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if " -m pytest" in line)
    return line.split(" -m pytest", 1)[1].split()


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_a_test_process_that_dies_late_in_make_test_ends_the_run_naming_it_not_a_hang(tmp_path):
    """A test process (a pytest-xdist worker) that died late in `make test` ("[gw1] node down: Not properly
    terminated" at 99%) left the run idle for ever: pytest-xdist 3.8's loadfile scheduling queues the files the dead
    worker had finished again, as empty work, and its replacement and the other worker wait for tests that never come
    (pytest-dev/pytest-xdist#1327, #1378). Now a worker's death ends the run: the test it died in is named, failed."""
    pytest.importorskip("xdist")
    args = make_test_pytest_args()
    assert "-n" in args, args  # the default run is distributed
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    for i in range(20):
        (tmp_path / f"test_f{i:02d}.py").write_text("def test_a():\n    pass\n\ndef test_b():\n    pass\n")
    (tmp_path / "test_f18.py").write_text(  # the worker dies in a late file, once (a rerun passes)
        "import os\n\ndef test_a():\n    pass\n\ndef test_dies():\n"
        "    if not os.path.exists('died'):\n        open('died', 'w').close()\n        os._exit(1)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}  # not this worker's own
    try:
        done = subprocess.run([sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider", "-q"], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=180)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the run hung after a worker died: {exc.stdout!r}")
    assert (tmp_path / "died").exists()
    assert done.returncode == 1, done.stdout + done.stderr
    assert "crashed while running 'test_f18.py::test_dies'" in done.stdout, done.stdout


def _caught_by_the_system(sig) -> bool:
    """Whether the system runs a handler for ``sig`` in this process (Linux: /proc's SigCgt), whatever Python records."""
    with open(f"/proc/{os.getpid()}/status") as status:
        mask = next(int(line.split()[1], 16) for line in status if line.startswith("SigCgt:"))
    return bool(mask >> (sig - 1) & 1)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="no /proc")
def test_the_ray_test_that_starts_ray_itself_leaves_the_stop_signals_as_they_were(tmp_path):
    """test_a_ray_clusters_address_passes_the_check called ray.init and ray.shutdown itself: Ray's SIGTERM handler
    (``sys.exit``) stayed Python's record in the test process, the system's at its default under it; a later test of
    the same process (pytest-xdist runs many files in one) saw a handler that was not the default, so `drywallqa serve`
    stopped by SIGHUP exited 15 (test_a_hangup_stops_the_server_as_sigterm_does_answering_the_request_in_flight failed
    whenever it ran after it), and a SIGTERM there ended the process."""
    import signal

    pytest.importorskip("ray")
    from test_robust_ray_and_stops import test_a_ray_clusters_address_passes_the_check

    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        test_a_ray_clusters_address_passes_the_check(tmp_path)
        after = {sig: signal.getsignal(sig) for sig in before}
        assert after == before, after
        for sig, handler in after.items():  # the system's handler is the one Python names
            assert _caught_by_the_system(sig) == callable(handler), (sig, handler)
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def test_a_stuck_test_fails_with_its_stack_instead_of_holding_the_run_for_ever(request, tmp_path):
    """A test that waits for ever (a lock, a server or a subprocess that never answers) held `make test` until someone
    stopped it, with no word of where. Now each test has a bound (pytest-timeout, in the test extra, set in
    pyproject.toml) above the longest wait a test sets itself, and a test past it fails with its stack."""
    assert request.config.pluginmanager.hasplugin("timeout"), "pytest-timeout is not installed: pip install -e '.[dev]'"
    assert float(request.config.getini("timeout") or 0) > 600  # test_robust_batch_jobs waits 600 s for a Ray job
    (tmp_path / "test_stuck.py").write_text("import threading\n\ndef test_waits_for_ever():\n"
                                            "    threading.Event().wait()\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    try:  # the project's settings, the bound made short
        done = subprocess.run([sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir",
                               str(tmp_path), "-o", "timeout=2", str(tmp_path / "test_stuck.py")], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("a stuck test held the run")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Timeout (>2.0s) from pytest-timeout" in done.stdout, done.stdout
    assert "test_stuck.py:4" in done.stdout, done.stdout  # where it was stuck
