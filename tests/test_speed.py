"""measure_speed on a fake clock: bursts of delay from a shared CPU must not reach the medians."""

from __future__ import annotations

import random
from types import SimpleNamespace

import numpy as np
import pytest

from drywallqa.engine import speed


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def perf_counter(self):
        return self.t


class FakeSegmenter:
    """Costs 100 ms for the first prompt and 10 ms per extra prompt, plus a burst of 0-80 ms on 60% of the calls."""

    def __init__(self, clock, seed=0):
        self.clock, self.rng = clock, random.Random(seed)
        self.size_of = lambda path: (640, 480)  # each photo's (height, width): its masks' size

    def predict(self, path, prompts):
        burst = self.rng.uniform(0, 0.08) if self.rng.random() < 0.6 else 0.0
        self.clock.t += 0.100 + 0.010 * (len(prompts) - 1) + burst
        mask = np.zeros(self.size_of(path), bool)
        return SimpleNamespace(probabilities={p: mask for p in prompts}, masks={p: mask for p in prompts}, concepts={})

    def mask_confidence(self, prompt, probabilities, mask, concept=None):
        self.clock.t += 0.002
        return 0.5


@pytest.fixture
def fake(monkeypatch, tmp_path):
    clock = FakeClock()
    monkeypatch.setattr(speed.time, "perf_counter", clock.perf_counter)
    monkeypatch.setattr(speed.torch, "set_num_threads", lambda n: None)
    return FakeSegmenter(clock), [tmp_path / f"{i}.jpg" for i in range(30)]


def test_fastest_of_repeats_recovers_the_model_cost(fake):
    seg, paths = fake
    s = speed.measure_speed(seg, paths, ["a", "b", "c"], repeats=5)
    assert s["median_ms_first_prompt"] == pytest.approx(100.0, abs=1.0)
    assert s["median_ms_per_extra_prompt"] == pytest.approx(10.0, abs=1.0)
    assert s["median_ms_confidence_per_prompt"] == pytest.approx(2.0)
    assert s["repeats"] == 5 and s["image_size"] == [640, 480] and s["images"] == 30


def test_one_run_per_image_is_at_the_mercy_of_bursts(fake):
    """The control: without repeats the same bursts move the first-prompt median well off the true cost."""
    seg, paths = fake
    s = speed.measure_speed(seg, paths, ["a", "b", "c"], repeats=1)
    assert s["median_ms_first_prompt"] > 101.0


def test_repeats_below_one_refused(fake):
    seg, paths = fake
    with pytest.raises(ValueError, match="repeats"):
        speed.measure_speed(seg, paths, ["a"], repeats=0)


def test_batch_speed_times_the_batch_jobs_whole_work(tiny_model_dir, tmp_path, monkeypatch):
    from PIL import Image

    from drywallqa import Segmenter
    from drywallqa.engine import batch

    paths = []
    for i in range(2):
        Image.fromarray(np.full((48, 64, 3), 60 * i, np.uint8)).save(tmp_path / f"{i}.jpg")
        paths.append(tmp_path / f"{i}.jpg")
    jobs = []
    real = batch.process_image
    monkeypatch.setattr(batch, "process_image", lambda seg, path, opts: jobs.append(opts.prompts) or real(seg, path, opts))
    s = speed.measure_speed(Segmenter.load(tiny_model_dir), paths, ["segment crack", "segment taping area"],
                            repeats=1, batch=True)
    assert s["median_ms_first_prompt_batch"] > 0 and np.isfinite(s["median_ms_per_extra_prompt_batch"])
    assert jobs.count(("segment crack",)) == 2 and jobs.count(("segment crack", "segment taping area")) == 3  # + warm-up
    assert not list(tmp_path.glob("*.png"))  # written into a temporary folder, not beside the photos


def test_one_prompt_has_no_cost_per_extra_prompt_to_report(fake):
    """A dataset of one prompt (a user's own) was timed "per extra prompt" as the difference of two runs of the same
    call: timing noise in the report as a cost (33 ms, 196 ms as a batch job, on a busy machine)."""
    from drywallqa.engine.eval_report import render_markdown

    seg, paths = fake
    s = speed.measure_speed(seg, paths[:3], ["a"], repeats=2)
    assert s["median_ms_first_prompt"] > 0 and s["median_ms_per_extra_prompt"] is None
    report = {"model": {}, "empty_convention": "x", "metrics": [], "cross_prompt": [],
              "speed": {**s, "median_ms_first_prompt_batch": 120.0, "median_ms_per_extra_prompt_batch": None}}
    md = render_markdown(report)
    assert "per extra prompt: n/a (one prompt asked)" in md and "median 120.0 ms for the first prompt\n" in md


def test_the_report_names_the_format_of_the_photos_timed(fake, tmp_path):
    """The speed line said "JPEG" whatever was timed (a dataset of PNG photos, a user's own)."""
    from PIL import Image

    from drywallqa.engine.eval_report import render_markdown

    seg, _ = fake
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    Image.new("RGB", (8, 8)).save(tmp_path / "b.photo", format="JPEG")  # by its bytes, not its name
    s = speed.measure_speed(seg, [tmp_path / "a.png"], ["a", "b"], repeats=1)
    assert s["image_formats"] == ["PNG"]
    assert "images of 480x640 PNG, 2 threads" in render_markdown({"model": {}, "empty_convention": "x", "metrics": [],
                                                                  "cross_prompt": [], "speed": s})
    assert speed.measure_speed(seg, [tmp_path / "a.png", tmp_path / "b.photo"], ["a"], repeats=1)["image_formats"] == [
        "JPEG", "PNG"]


def test_photos_of_several_sizes_are_not_reported_as_the_first_ones_size(fake, monkeypatch):
    """The report said "30 images of 480x640" where the photos timed were of three sizes: the first photo's size only."""
    from drywallqa.engine.eval_report import render_markdown

    seg, paths = fake
    sizes = {0: (64, 48), 1: (3000, 4000), 2: (640, 480)}
    seg.size_of = lambda path: sizes[paths.index(path) % 3]
    s = speed.measure_speed(seg, paths, ["a", "b"], repeats=1)
    assert s["image_size"] == [64, 48] and s["image_sizes"] == [[64, 48], [640, 480], [3000, 4000]]
    md = render_markdown({"model": {}, "empty_convention": "x", "metrics": [], "cross_prompt": [], "speed": s})
    assert "- 30 images of 3 sizes, 48x64 to 4000x3000 " in md


def test_the_process_s_thread_count_is_given_back(fake, monkeypatch):
    """measure_speed set torch's threads to 2 and left them so: evaluate() from Python (and the ONNX runtime, which
    follows torch's count) ran on 2 threads for the rest of the process. Given back after, an error too."""
    seg, paths = fake
    threads = [7]
    monkeypatch.setattr(speed.torch, "get_num_threads", lambda: threads[-1])
    monkeypatch.setattr(speed.torch, "set_num_threads", threads.append)
    speed.measure_speed(seg, paths[:2], ["a", "b"], threads=2)
    assert threads == [7, 2, 7]
    seg.predict = lambda *a: (_ for _ in ()).throw(RuntimeError("model failed"))
    with pytest.raises(RuntimeError):
        speed.measure_speed(seg, paths[:2], ["a"], threads=2)
    assert threads[-1] == 7
