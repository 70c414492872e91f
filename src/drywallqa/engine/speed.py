"""Speed as users meet it: median milliseconds end to end from an image file, for the first prompt and per
extra prompt, on a fixed number of threads (what ``evaluate``, ``ship`` and ``make benchmark`` report).

A shared or throttled CPU adds delays that have nothing to do with the model, and they come in bursts: one
call can be slowed by 50% and the next not at all, which once gave a *negative* median cost per extra prompt.
So each photo is timed ``repeats`` times, one prompt and all prompts in alternating order, and the fastest of
its repeats counts (as ``timeit`` does); the median is then taken over photos. A median cost per extra prompt below 0
(one or two photos timed, an extra prompt cheaper than the timing's noise) is reported as 0: no prompt takes
negative time, and "-3.1 ms per extra prompt" stood in the reports. Every call still reads and
decodes the file and encodes the photo: nothing is cached between calls.

With ``batch=True`` the same is timed for a batch job's whole work on a photo (``drywallqa predict``'s
:func:`~drywallqa.engine.batch.process_image`: read, predict, each mask's PNG, QA measures with taped joints, and
the photo's record), into a temporary folder."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

from ..utils.progress import progress_bar
from .segmenter import Segmenter


def _fastest(path, one, every, repeats: int) -> tuple[float, float, object]:
    """The fastest of ``repeats`` runs of ``one(path)`` and of ``every(path)``, in alternating order, in ms, and what
    the last run returned."""
    first, all_, returned = [], [], None
    for r in range(repeats):
        order = ((first, one), (all_, every)) if r % 2 == 0 else ((all_, every), (first, one))
        for times, run in order:
            t0 = time.perf_counter()
            returned = run(path)
            times.append(1e3 * (time.perf_counter() - t0))
    return min(first), min(all_), returned


def _extra_cost(costs) -> float:
    """The median of the per-photo costs of an extra prompt, at least 0: a negative one is timing noise larger than
    the cost (one or two photos timed), not a prompt that saves time."""
    return max(0.0, statistics.median(costs))


def _formats(paths) -> list[str]:
    """The file formats of the photos timed (JPEG, PNG, ...), as their files say (not their names)."""
    found = set()
    for path in paths:
        try:
            with Image.open(path) as im:
                found.add(im.format or "unknown")
        except OSError:
            found.add("unknown")
    return sorted(found)


def _sizes(shapes) -> list[list[int]]:
    """The sizes ``[height, width]`` of the photos timed (``shapes``: their masks'), each once, the fewest pixels
    first: a report of photos of several sizes named only the first photo's ("50 images of 640x640" where most were
    4000x3000)."""
    return [list(hw) for hw in sorted(set(shapes), key=lambda hw: (hw[0] * hw[1], hw))]


def measure_speed(segmenter: Segmenter, paths: list[Path], prompts: list[str], threads: int = 2, warmup: int = 1,
                  repeats: int = 3, batch: bool = False, progress: bool = False, desc: str = "timing") -> dict:
    """Median ms per image end to end from file: one prompt, and per extra prompt (fastest of ``repeats``); with
    ``batch``, also of a batch job's whole work (``*_batch``: mask files and QA measures included). With one prompt the
    cost per extra prompt is None: there is none to time (the difference of two runs of the same call was reported,
    timing noise read as a cost). ``progress``: a bar over the photos timed (``desc`` its name; a minute or more for
    ``evaluate``'s 50 photos on a CPU, which showed nothing meanwhile)."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    before = torch.get_num_threads()  # the process's own, given back after (evaluate() from Python left it at 2)
    torch.set_num_threads(threads)
    try:
        return _measure(segmenter, paths, prompts, threads, warmup, repeats, batch, progress, desc)
    finally:
        torch.set_num_threads(before)


def _measure(segmenter: Segmenter, paths: list[Path], prompts: list[str], threads: int, warmup: int, repeats: int,
             batch: bool, progress: bool = False, desc: str = "timing") -> dict:
    """:func:`measure_speed`'s work, on the threads it set."""
    for _ in range(warmup):  # the first calls at a new input size are slow
        segmenter.predict(paths[0], prompts)
    extra_prompts = max(1, len(prompts) - 1)
    first, extra, confidence, shapes = [], [], [], []
    for path in progress_bar(paths, desc=desc, disable=not progress):
        one, every, result = _fastest(path, lambda p: segmenter.predict(p, prompts[:1]),
                                      lambda p: segmenter.predict(p, prompts), repeats)
        first.append(one)
        extra.append((every - one) / extra_prompts)
        p = prompts[0]  # in either call's result
        shapes.append(tuple(result.masks[p].shape[:2]))  # the photo's size as read (its masks are at it): not read again
        t3 = time.perf_counter()  # what the confidence costs inside predict: the same call again
        segmenter.mask_confidence(p, result.probabilities[p], result.masks[p], concept=result.concepts.get(p, {}).get("concept"))
        confidence.append(1e3 * (time.perf_counter() - t3))
    out = {
        "images": len(paths),
        "threads": threads,
        "repeats": repeats,
        "image_size": list(shapes[0]),  # the first photo's; every size timed in image_sizes
        "image_sizes": _sizes(shapes),
        "image_formats": _formats(paths),
        "median_ms_first_prompt": statistics.median(first),
        "median_ms_per_extra_prompt": _extra_cost(extra) if len(prompts) > 1 else None,
        "median_ms_confidence_per_prompt": statistics.median(confidence),
        "prompts": prompts,
    }
    if batch:
        from .batch import job_options, process_image  # the batch job's own code, not a copy of it

        with tempfile.TemporaryDirectory() as folder:
            jobs = [job_options(asked, Path(folder) / name, False, None, None, settings=segmenter.settings(), overwrite=True)
                    for name, asked in (("one", prompts[:1]), ("every", prompts))]
            process_image(segmenter, Path(paths[0]), jobs[1])  # warm-up
            times = [_fastest(Path(path), lambda q: process_image(segmenter, q, jobs[0]),
                              lambda q: process_image(segmenter, q, jobs[1]), repeats)[:2]
                     for path in progress_bar(paths, desc=f"{desc} (batch job)", disable=not progress)]
        out["median_ms_first_prompt_batch"] = statistics.median(t[0] for t in times)
        out["median_ms_per_extra_prompt_batch"] = (_extra_cost([(t[1] - t[0]) / extra_prompts for t in times])
                                                   if len(prompts) > 1 else None)
    return out
