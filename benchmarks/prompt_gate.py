"""Free text, honestly: the shipped model on prompts it does not know and on paraphrases of those it does.

    python benchmarks/prompt_gate.py --out out/prompt_gate [--model-path DIR] [--raw-sample 20] [--paraphrase-sample N]
                                     [--limit N]

On the published valid photos of both datasets, with the prompt lists of :mod:`drywallqa.text.vocabulary`
held out from the gate's anchors (``train``) and from its margin choice (``val``), i.e. their ``test`` parts:

- unrelated prompts: mean foreground fraction of their masks on every photo of both datasets (the gate on;
  and for a seeded sample of ``--raw-sample`` of them, with the gate off, for comparison);
- paraphrases of each dataset's concept: mIoU against the dataset's labels, beside the canonical prompt's;
- the known prompts: whether the gate answers them (it must: their masks are then what the model made before).

Prompts the gate refuses get empty masks without running the decoder (the result is the same). Writes
``prompt_gate.json`` and ``prompt_gate.md``.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np
import torch

from drywallqa import Segmenter
from drywallqa.cli.common import error_message
from drywallqa.data.registry import get_dataset_config
from drywallqa.data.sample import load_split, photo_and_label
from drywallqa.engine.evaluator import check_eval_out
from drywallqa.metrics import label_and_valid, mask_iou
from drywallqa.text import vocabulary
from drywallqa.utils.argtypes import at_least, positive_int
from drywallqa.utils.files import write_text_atomic
from drywallqa.utils.formats import strict_json
from drywallqa.utils.paths import check_writable_path
from drywallqa.utils.progress import progress_bar

DATASETS = ("cracks", "taping")


def answered(seg, prompts) -> dict:
    """prompt -> whether ``seg`` answers it: its prompt gate's word, or every prompt where it has no gate (a run's
    ``best/`` not yet calibrated: ``match_prompts`` is empty)."""
    matches = seg.match_prompts(prompts)
    return {p: matches[p].known if p in matches else True for p in prompts}


def run(model_path, limit: int | None, raw_sample: int, paraphrase_sample: int | None = None) -> dict:
    gated = Segmenter.load(model_path)
    raw = Segmenter.load(model_path, prompt_gate=False)
    unrelated = vocabulary.unrelated("test")
    sample = random.Random(0).sample(unrelated, min(raw_sample, len(unrelated)))
    asked_unrelated = [p for p, known in answered(gated, unrelated).items() if known]  # the rest are empty without a model run
    report = {"model": str(model_path or "shipped"), "unrelated_prompts": len(unrelated),
              "unrelated_answered": asked_unrelated, "datasets": {}}
    for ds in DATASETS:
        cfg = get_dataset_config(ds)
        samples, _ = load_split(ds, "valid")
        samples = samples[:limit] if limit else samples
        paraphrases = vocabulary.paraphrases(ds, "test")
        if paraphrase_sample and paraphrase_sample < len(paraphrases):  # a seeded sample, for slow machines
            paraphrases = random.Random(1).sample(paraphrases, paraphrase_sample)
        para_known = answered(gated, paraphrases)
        known = answered(gated, list(cfg.prompts))
        ious = {p: [] for p in [cfg.canonical_prompt, *paraphrases]}
        fg_gated, fg_raw = [], []
        for s in progress_bar(samples, desc=ds):
            image, target = photo_and_label(s, target=True)
            gt, valid = label_and_valid(target)  # its 'ignore' pixels in no score, as evaluate scores
            ask = [cfg.canonical_prompt, *[p for p in paraphrases if para_known[p]], *asked_unrelated]
            r = gated.predict(image, ask)
            for p in ious:
                mask = r.masks[p] if p in r.masks else np.zeros_like(gt)
                ious[p].append(mask_iou(mask, gt, valid))
            fg_gated.append(sum(float(r.masks[p].mean()) for p in asked_unrelated) / len(unrelated))
            if sample:  # --raw-sample 0: no comparison with the gate off
                rr = raw.predict(image, sample)
                fg_raw.append(float(np.mean([rr.masks[p].mean() for p in sample])))
        canon = float(np.mean(ious[cfg.canonical_prompt]))
        para = {p: float(np.mean(ious[p])) for p in paraphrases}
        report["datasets"][ds] = {
            "images": len(samples), "known_prompts_answered": known,
            "canonical_mIoU": canon, "paraphrases": len(paraphrases),
            "paraphrases_answered": sum(para_known.values()),
            "paraphrase_mIoU_mean": float(np.mean(list(para.values()))),
            "paraphrase_mIoU_minus_canonical": float(np.mean(list(para.values()))) - canon,
            "worst_paraphrases": sorted(para.items(), key=lambda kv: kv[1])[:8],
            "unrelated_mean_foreground_gate_on": float(np.mean(fg_gated)),
            f"unrelated_mean_foreground_gate_off_sample_of_{len(sample)}": float(np.mean(fg_raw)) if fg_raw else None,
        }
    return report


def markdown(report: dict) -> str:
    lines = ["# Prompt gate (held-out `test` lists of drywallqa.text.vocabulary, published valid photos)", "",
             f"Unrelated prompts: {report['unrelated_prompts']}, answered by the gate: {len(report['unrelated_answered'])} "
             f"({', '.join(report['unrelated_answered']) or 'none'})", "",
             "| dataset | images | unrelated: mean foreground, gate on | gate off (sample) | canonical mIoU | "
             "paraphrases answered | paraphrase mIoU | minus canonical |", "|---|---|---|---|---|---|---|---|"]
    for ds, r in report["datasets"].items():
        off = next(v for k, v in r.items() if k.startswith("unrelated_mean_foreground_gate_off"))
        lines.append(f"| {ds} | {r['images']} | {r['unrelated_mean_foreground_gate_on']:.4f} | {'n/a' if off is None else f'{off:.4f}'} | "
                     f"{r['canonical_mIoU']:.3f} | {r['paraphrases_answered']} of {r['paraphrases']} | "
                     f"{r['paraphrase_mIoU_mean']:.3f} | {r['paraphrase_mIoU_minus_canonical']:+.3f} |")
    lines += ["", "Known prompts answered: " + "; ".join(f"{ds}: {all(r['known_prompts_answered'].values())}"
                                                         for ds, r in report["datasets"].items())]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("out/prompt_gate"))
    ap.add_argument("--model-path", default=None)
    ap.add_argument("--limit", type=positive_int, default=None, help="photos per dataset (smoke runs)")
    ap.add_argument("--raw-sample", type=at_least(0), default=20, help="unrelated prompts scored with the gate off (0: none)")
    ap.add_argument("--paraphrase-sample", type=positive_int, default=None, help="paraphrases per dataset (default: all)")
    ap.add_argument("--threads", type=positive_int, default=2)
    args = ap.parse_args()
    try:  # before the run: a file there (or a folder that cannot be written) failed only as the reports were written
        check_writable_path(args.out, folder=True)
        check_eval_out(args.out, DATASETS)  # its reports were written among a split's photos
    except ValueError as exc:
        ap.error(f"--out: {exc}")
    torch.set_num_threads(args.threads)
    empty = [ds for ds in DATASETS if not load_split(ds, "valid")[0]]
    if empty:  # a report of 0 images and NaN scores was written
        raise SystemExit(f"error: no published valid photo of {' or '.join(empty)} was read (the datasets folder: "
                         "DRYWALLQA_DATASETS)")
    try:  # before the run: a folder that is not there or no model's
        Segmenter.load(args.model_path)
    except (OSError, ValueError, KeyError) as exc:
        ap.error(f"--model-path: {error_message(exc)}")
    report = run(args.model_path, args.limit, args.raw_sample, args.paraphrase_sample)
    report["command"] = " ".join(["python benchmarks/prompt_gate.py", *__import__("sys").argv[1:]])
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(strict_json(report), args.out / "prompt_gate.json")
    write_text_atomic(markdown(report), args.out / "prompt_gate.md")
    print(markdown(report))


if __name__ == "__main__":
    from drywallqa.utils.signals import run_main

    run_main(main)  # Ctrl-C: one line and exit 130, as a drywallqa command
