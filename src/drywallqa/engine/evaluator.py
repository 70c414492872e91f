"""Evaluation per dataset split and prompt, at the original image resolution.

Two families of splits: the published ``valid`` splits (comparable with others, but Roboflow copies of
the same photo sit in train too) and the ``test`` part of the group-clean split manifests (no copy of
any test photo was trained on: the honest number).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..data.grouping import samples_of_part
from ..data.registry import get_dataset_config
from ..data.sample import load_split
from ..measures import mask_measures
from ..metrics import PixelScoreMeter, SegmentationMeter, image_auroc
from ..utils.image_io import read_image
from ..viz import COLORS, grid, overlay
from .predictor import Segmenter

QA_KEYS = ("components", "area_fraction", "length_px", "mean_width_px", "max_width_px")
EMPTY_CONVENTION = "an image with empty ground truth and empty prediction scores IoU = Dice = 1"


@dataclass
class EvalSet:
    name: str       # e.g. "published valid" / "group-clean test"
    dataset: str
    samples: list


def build_eval_sets(datasets, which=("published", "group"), splits_dir="splits", datasets_dir=None,
                    limit: int | None = None) -> list[EvalSet]:
    sets = []
    for ds in datasets:
        if "published" in which:
            s, _ = load_split(ds, "valid", datasets_dir)
            sets.append(EvalSet("published valid", ds, s[:limit] if limit else s))
        if "group" in which:
            s = samples_of_part(ds, "test", splits_dir, datasets_dir)
            sets.append(EvalSet("group-clean test", ds, s[:limit] if limit else s))
        if "val" in which:  # where thresholds and options are chosen; published valid/test images left out
            s = samples_of_part(ds, "val", splits_dir, datasets_dir, exclude_published=("valid", "test"))
            sets.append(EvalSet("group-clean val", ds, s[:limit] if limit else s))
    return sets


def evaluate_set(segmenter: Segmenter, eval_set: EvalSet, all_datasets, progress: bool = True, keep: int = 4):
    """Metrics per prompt of the set's dataset, cross-prompt foreground fraction, and a few examples."""
    own = get_dataset_config(eval_set.dataset).prompts
    others = [p for d in all_datasets if d != eval_set.dataset for p in get_dataset_config(d).prompts]
    prompts = list(own) + others
    meters = {p: SegmentationMeter() for p in own}
    pixel = {p: PixelScoreMeter() for p in own}
    image_scores = []  # (prompt, image score = max probability, label = the image shows that prompt's class)
    cross = {p: [] for p in others}
    qa = {"ground truth": [], own[0]: []}  # QA measures of the canonical prompt's masks vs the ground truth
    examples, failures = [], []
    for sample in tqdm(eval_set.samples, desc=f"{eval_set.name} {eval_set.dataset}", disable=not progress):
        try:
            image = read_image(sample.image_path)
            gt = sample.load_mask()
        except (OSError, ValueError) as exc:
            failures.append(f"{sample.image_path}: {exc}")
            continue
        result = segmenter.predict(image, prompts)
        for p in own:
            meters[p].update(result.masks[p], gt)
            pixel[p].update(result.probabilities[p], gt)
            image_scores.append((p, float(result.probabilities[p].max()), bool(gt.any())))
        for p in others:
            cross[p].append(float(result.masks[p].mean()))
            image_scores.append((p, float(result.probabilities[p].max()), False))
        qa["ground truth"].append(mask_measures(gt))
        qa[own[0]].append(mask_measures(result.masks[own[0]]))
        if len(examples) < keep:
            examples.append((image, gt, {p: result.masks[p] for p in prompts}))
    rows = [{"split": eval_set.name, "dataset": eval_set.dataset, "prompt": p, **m.compute(), **pixel[p].compute()}
            for p, m in meters.items()]
    cross_rows = [
        {"split": eval_set.name, "dataset": eval_set.dataset, "prompt": p, "mean_foreground_fraction": float(np.mean(v)) if v else float("nan")}
        for p, v in cross.items()
    ]
    qa_rows = [
        {"split": eval_set.name, "dataset": eval_set.dataset, "masks": who,
         **{k: float(np.mean([m[k] for m in ms])) for k in QA_KEYS}} for who, ms in qa.items() if ms
    ]
    return rows, cross_rows, qa_rows, image_scores, examples, failures


def image_level_rows(split: str, image_scores: list) -> list[dict]:
    """Image-level AUROC per prompt: its own dataset's images with a non-empty ground truth are positives,
    images without it (the other datasets' images) are negatives."""
    rows = []
    for p in dict.fromkeys(x[0] for x in image_scores):
        s = [x for x in image_scores if x[0] == p]
        labels = [x[2] for x in s]
        rows.append({"split": split, "prompt": p, "AUROC": image_auroc([x[1] for x in s], labels),
                     "positives": int(sum(labels)), "negatives": int(len(labels) - sum(labels))})
    return rows


def measure_speed(segmenter: Segmenter, paths: list[Path], prompts: list[str], threads: int = 2, warmup: int = 1) -> dict:
    """Median ms per image end to end from file: one prompt, and per extra prompt."""
    torch.set_num_threads(threads)
    for _ in range(warmup):  # the first calls at a new input size are slow
        segmenter.predict(paths[0], prompts)
    first, extra = [], []
    for path in paths:
        t0 = time.perf_counter()
        segmenter.predict(path, prompts[:1])
        t1 = time.perf_counter()
        segmenter.predict(path, prompts)
        t2 = time.perf_counter()
        first.append(1e3 * (t1 - t0))
        extra.append(1e3 * ((t2 - t1) - (t1 - t0)) / max(1, len(prompts) - 1))
    return {
        "images": len(paths),
        "threads": threads,
        "image_size": list(read_image(paths[0]).shape[:2]),
        "median_ms_first_prompt": statistics.median(first),
        "median_ms_per_extra_prompt": statistics.median(extra),
        "prompts": prompts,
    }


def model_facts(model_dir: Path | None, segmenter: Segmenter) -> dict:
    facts = {}
    if hasattr(segmenter, "num_parameters"):
        facts["parameters"] = segmenter.num_parameters()
    if model_dir is not None:
        facts["model_dir"] = str(model_dir)
        facts["file_size_mb"] = round(sum(f.stat().st_size for f in Path(model_dir).glob("*") if f.is_file()) / 2**20, 2)
    facts["threshold"] = getattr(segmenter, "threshold", None)
    facts["threshold_source"] = getattr(segmenter, "metadata", {}).get("selected_on", "given")
    facts["prompt_thresholds"] = dict(getattr(segmenter, "prompt_thresholds", {}))
    facts["postprocess"] = dict(getattr(segmenter, "postprocess", {}))
    return facts


def evaluate(segmenter: Segmenter, out_dir: str | Path, datasets=("cracks", "taping"), which=("published", "group"),
             splits_dir="splits", datasets_dir=None, limit: int | None = None, speed_images: int = 50,
             model_dir: Path | None = None, progress: bool = True) -> dict:
    """Run the whole evaluation and write ``report.json``, ``report.md`` and ``examples.png`` to ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sets = build_eval_sets(datasets, which, splits_dir, datasets_dir, limit)
    results, cross, qa, grid_rows, failures = [], [], [], [], []
    scores_by_split: dict[str, list] = {}
    canon = [get_dataset_config(d).canonical_prompt for d in datasets]
    for es in sets:
        rows, cross_rows, qa_rows, image_scores, examples, fails = evaluate_set(segmenter, es, datasets, progress)
        scores_by_split.setdefault(es.name, []).extend(image_scores)
        results += rows
        cross += cross_rows
        qa += qa_rows
        failures += fails
        if es.name == "published valid":
            for image, gt, masks in examples[:3]:
                grid_rows.append([image, overlay(image, gt, (0, 255, 0))] +
                                 [overlay(image, masks[p], COLORS[i]) for i, p in enumerate(canon)])
    report = {
        "metrics": results,
        "cross_prompt": cross,
        "image_level": [r for split, sc in scores_by_split.items() for r in image_level_rows(split, sc)],
        "qa_measures": qa,
        "empty_convention": EMPTY_CONVENTION,
        "resolution": "original image size (masks upsampled from the model's output)",
        "model": model_facts(model_dir, segmenter),
        "failures": failures,
        "environment": {"python": platform.python_version(), "torch": torch.__version__,
                        "machine": platform.machine(), "cpus": os.cpu_count()},
    }
    if speed_images:
        paths = [s.image_path for s in load_split(datasets[0], "valid", datasets_dir)[0][:speed_images]]
        all_prompts = [p for d in datasets for p in get_dataset_config(d).prompts][:3]
        report["speed"] = measure_speed(segmenter, paths, all_prompts)
    if grid_rows:
        grid(grid_rows, ["input", "ground truth"] + canon, out / "examples.png")
        report["examples_png"] = "examples.png"
    (out / "report.json").write_text(json.dumps(report, indent=2))
    (out / "report.md").write_text(render_markdown(report))
    return report


def render_markdown(report: dict) -> str:
    per_prompt = "; ".join(f"{p!r}: {t}" for p, t in report["model"].get("prompt_thresholds", {}).items())
    post = "; ".join(f"{p!r}: {spec}" for p, spec in report["model"].get("postprocess", {}).items() if spec)
    lines = ["# Evaluation report", "", f"Threshold {report['model'].get('threshold')}"
             + (f" (per prompt: {per_prompt})" if per_prompt else "")
             + f", chosen on: {report['model'].get('threshold_source')}."
             + (f" Post-processing: {post}." if post else "")
             + f" {report['empty_convention'][:1].upper()}{report['empty_convention'][1:]}.", "",
             "| split | dataset | prompt | images | mIoU | mDice | pooled IoU | precision | recall | pixel AP | pixel F1-max |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["metrics"]:
        lines.append(f"| {r['split']} | {r['dataset']} | {r['prompt']} | {r['images']} | {r['mIoU']:.3f} | "
                     f"{r['mDice']:.3f} | {r['pooled_IoU']:.3f} | {r['precision']:.3f} | {r['recall']:.3f} | "
                     f"{r['pixel_AP']:.3f} | {r['pixel_F1max']:.3f} |")
    if report.get("image_level"):
        lines += ["", "## Image level (score = max probability; positives: images of the prompt's class)", "",
                  "| split | prompt | AUROC | positives | negatives |", "|---|---|---|---|---|"]
        for r in report["image_level"]:
            lines.append(f"| {r['split']} | {r['prompt']} | {r['AUROC']:.3f} | {r['positives']} | {r['negatives']} |")
    lines += ["", "## Cross-prompt check (other dataset's prompts; lower is better)", "",
              "| split | images of | prompt | mean predicted foreground fraction |", "|---|---|---|---|"]
    for r in report["cross_prompt"]:
        lines.append(f"| {r['split']} | {r['dataset']} | {r['prompt']} | {r['mean_foreground_fraction']:.4f} |")
    if report.get("qa_measures"):
        lines += ["", "## QA measures: mean per image, predicted (canonical prompt) vs ground truth", "",
                  "| split | dataset | masks | components | area fraction | length px | mean width px | max width px |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in report["qa_measures"]:
            lines.append(f"| {r['split']} | {r['dataset']} | {r['masks']} | {r['components']:.2f} | {r['area_fraction']:.4f} | "
                         f"{r['length_px']:.1f} | {r['mean_width_px']:.1f} | {r['max_width_px']:.1f} |")
    m = report["model"]
    lines += ["", "## Model", "", f"- parameters: {m.get('parameters', 'n/a'):,}" if isinstance(m.get("parameters"), int) else "- parameters: n/a",
              f"- files on disk: {m.get('file_size_mb', 'n/a')} MB"]
    if "speed" in report:
        s = report["speed"]
        lines += ["", "## Speed (CPU, end to end from file)", "",
                  f"- {s['images']} images of {s['image_size'][1]}x{s['image_size'][0]} JPEG, {s['threads']} threads",
                  f"- median {s['median_ms_first_prompt']:.1f} ms for the first prompt",
                  f"- median {s['median_ms_per_extra_prompt']:.1f} ms per extra prompt"]
    if report.get("failures"):
        lines += ["", "## Files that failed", ""] + [f"- {f}" for f in report["failures"]]
    if report.get("examples_png"):
        lines += ["", f"![examples]({report['examples_png']})"]
    return "\n".join(lines) + "\n"
