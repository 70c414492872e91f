"""A pytest-xdist worker of `make test` that died ("[gw1] node down: Not properly terminated"): Ray started again
after a Ray job's end, by a thread the job left running, ended the whole test process 60 s later."""

import pytest
from conftest import write_photos


def test_a_ray_call_after_the_ray_job_shut_ray_down_starts_no_other_ray(tiny_model_dir, tmp_path):
    """predict_paths_ray shuts down the Ray it started, but Ray Data leaves threads of the job running (its block
    prefetcher's ``ray.wait`` comes after the rows are taken, on busy CPUs). Such a call after the shutdown started a
    new local Ray instance in that thread (Ray's start on first use); the system ended its servers with the thread,
    and the process, left connected to servers that were gone, ended itself 60 s later ("Failed to connect to GCS
    within 60 seconds ... The program will terminate"): the xdist worker running the next test died. Now such a call
    raises "Ray has not been started yet" and starts nothing. (Made here in this thread, whose end ends nothing.)"""
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        pytest.skip("Ray is already running in this process: the job does not start or shut it down")
    from drywallqa.engine.batch_ray import predict_paths_ray

    write_photos(tmp_path / "imgs", 2)
    try:
        summary = predict_paths_ray(tiny_model_dir, [tmp_path / "imgs"], ["segment crack"], tmp_path / "out")
        assert len(summary.done) == 2 and not summary.failed
        assert not ray.is_initialized()
        with pytest.raises(Exception, match="Ray has not been started"):
            ray.put(1)  # as the job's prefetcher thread calls ray.wait
        assert not ray.is_initialized()
    finally:
        if ray.is_initialized():  # the Ray that call started (before the fix)
            ray.shutdown()
