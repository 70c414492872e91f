"""Speed as users meet it: median milliseconds end to end from an image file, for the first prompt and per
extra prompt, on a fixed number of threads (what ``evaluate``, ``ship`` and ``make benchmark`` report)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch

from ..utils.image_io import read_image
from .segmenter import Segmenter


def measure_speed(segmenter: Segmenter, paths: list[Path], prompts: list[str], threads: int = 2, warmup: int = 1) -> dict:
    """Median ms per image end to end from file: one prompt, and per extra prompt."""
    torch.set_num_threads(threads)
    for _ in range(warmup):  # the first calls at a new input size are slow
        segmenter.predict(paths[0], prompts)
    first, extra, confidence = [], [], []
    for path in paths:
        t0 = time.perf_counter()
        result = segmenter.predict(path, prompts[:1])
        t1 = time.perf_counter()
        segmenter.predict(path, prompts)
        t2 = time.perf_counter()
        first.append(1e3 * (t1 - t0))
        extra.append(1e3 * ((t2 - t1) - (t1 - t0)) / max(1, len(prompts) - 1))
        p = prompts[0]
        t3 = time.perf_counter()  # what the confidence costs inside predict: the same call again
        segmenter.mask_confidence(p, result.probabilities[p], result.masks[p], concept=result.concepts.get(p, {}).get("concept"))
        confidence.append(1e3 * (time.perf_counter() - t3))
    return {
        "images": len(paths),
        "threads": threads,
        "image_size": list(read_image(paths[0]).shape[:2]),
        "median_ms_first_prompt": statistics.median(first),
        "median_ms_per_extra_prompt": statistics.median(extra),
        "median_ms_confidence_per_prompt": statistics.median(confidence),
        "prompts": prompts,
    }
