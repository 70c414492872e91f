"""The Markdown page of an evaluation report (``report.md``), from the ``report.json`` dict of
:func:`~drywallqa.engine.evaluator.evaluate`."""

from __future__ import annotations

import math
import re
from pathlib import PurePath

from ..metrics import ERROR_KINDS
from ..utils.slug import shown
from .tiling import tiling_text

UNDEFINED_NOTE = ("n/a: undefined for the split: the mIoU interval where it holds one source photo, precision where "
                  "the model marked no pixel in it, recall where it has no labelled pixel, pixel AP / F1-max where it "
                  "has no labelled pixel, AUROC where it has no positive or no negative image, Spearman where every "
                  "confidence (or every IoU) is the same, or where fewer than three masks are ranked")


def _num(value: float | None, spec: str = ".3f") -> str:
    """``value`` formatted by ``spec``; "n/a" for a value that is undefined (None, or NaN in a report.json read back)."""
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


METRIC_KEYS = ("mIoU", "mDice", "pooled_IoU", "precision", "recall", "pixel_AP", "pixel_F1max", "centerline_F1",
               "centerline_precision", "centerline_recall")


def _has_undefined(report: dict) -> bool:
    """Whether a value the report's tables show is undefined ("n/a"), so that the report says what n/a means."""
    values = ([r.get(k) for r in report["metrics"] for k in METRIC_KEYS if k in r]
              + [v for r in report["metrics"] for v in r.get("mIoU_CI95") or ()]
              + [r["AUROC"] for r in report.get("image_level") or []]
              + [r["spearman"] for r in report.get("confidence") or []])
    return any(_num(v) == "n/a" for v in values)


def text(value) -> str:
    """``value`` as Markdown text: control characters escaped (:func:`shown`), and a ``<`` (``\\<``), which a Markdown
    viewer read as the start of an HTML tag: a dataset's prompt "segment <tape> area" showed as "segment  area", and
    a photo named "<img src=x onerror=...>.jpg" among the files that failed ran as HTML where a viewer lets it."""
    return shown(value).replace("<", "\\<")


def cell(value) -> str:
    """``value`` as one cell of a Markdown table (:func:`text`): a ``|`` in it (a prompt "crack | hairline") escaped,
    which split the cell and moved the numbers after it under other columns."""
    return text(value).replace("|", "\\|")


def md_table(heading: str, columns: list[str], rows: list[list]) -> list[str]:
    """Lines of a ``## heading`` section holding one Markdown table."""
    return (["", f"## {heading}", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
            + ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows])


def _sizes_text(speed: dict) -> str:
    """The sizes of the photos a speed measurement timed: "640x480", or "3 sizes, 1x1 to 500x1" (fewest to most
    pixels) where they differ (only the first photo's size was named)."""
    sizes = speed.get("image_sizes") or [speed["image_size"]]
    text = [f"{w}x{h}" for h, w in sizes]
    return text[0] if len(text) == 1 else f"{len(text)} sizes, {text[0]} to {text[-1]}"


def _manifest_lines(manifests: list) -> list[str]:
    """Where the group-clean parts came from, one clause per dataset, and what a manifest other than the shipped one
    means for comparing the numbers."""
    if not manifests:
        return []
    said = "; ".join(f"{m['dataset']}: `{m['manifest']}` (sha256 {m['sha256']}"
                     + (", shipped" if m["shipped"] else ", the shipped one's content" if m["same_as_shipped"] else
                        ", **not the shipped split**" if m["same_as_shipped"] is False else "") + ")" for m in manifests)
    other = any(m["same_as_shipped"] is False for m in manifests)
    return [f"Group-clean parts read from: {said}."
            + (" Its group-clean numbers are not comparable with those of the shipped split (README, model cards)."
               if other else ""), ""]


GROUP_AT = 5  # files sharing one problem from which report.md says it once (report.json names every one)
GROUP_SHOWN = 3  # the files a grouped problem names


def grouped_problems(problems: list, key: str = "data_problems") -> list[str]:
    """``problems`` (``"path: message"``, each once) as report.md lists them: a problem given :data:`GROUP_AT` times
    or more (a dataset of thousands of JPEG masks; one photo's several bad annotations too), the same but for its
    numbers (grey levels, pixels, percentages of each file), in one line where the first of them is: how many, the
    first message, the first few files' names and that report.json's ``key`` (``data_problems``; ``failures``: the
    files that failed) names every one; the others as they are."""
    groups: dict = {}
    for p in map(str, problems):
        path, sep, message = p.partition(": ")
        groups.setdefault(re.sub(r"\d+(\.\d+)?", "#", message) if sep else p, []).append((path, message, p))
    lines = []
    for members in groups.values():
        if len(members) < GROUP_AT:
            lines += [p for *_, p in members]
            continue
        files = list(dict.fromkeys(path for path, *_ in members))
        names = ", ".join(PurePath(path).name for path in files[:GROUP_SHOWN])
        folders = {str(PurePath(path).parent) for path in files}
        numbered = any(message != members[0][1] for _, message, _ in members)  # (a failure's "unreadable image": none)
        whose = f" ({PurePath(files[0]).name}'s numbers)" if numbered else ""
        more = f" and {len(files) - GROUP_SHOWN} more" if len(files) > GROUP_SHOWN else ""  # (one photo's several
        # annotations: 1 file, 6 times, named whole: it was "a.jpg and -2 more")
        lines.append(f"{len(files)} file{'s' * (len(files) != 1)}"
                     f"{f' ({len(members)} times)' if len(members) > len(files) else ''}: "
                     f"{members[0][1]}{whose}: {names}{more}{f' in {folders.pop()}' if len(folders) == 1 else ''}; "
                     f"report.json's {key} names every one{', with its numbers' if numbered else ''}")
    return lines


def render_markdown(report: dict) -> str:
    per_prompt = "; ".join(f"{p!r}: {t}" for p, t in report["model"].get("prompt_thresholds", {}).items())
    post = "; ".join(f"{p!r}: {spec}" for p, spec in report["model"].get("postprocess", {}).items() if spec)
    lines = ["# Evaluation report", "", f"Threshold {report['model'].get('threshold')}"
             + (f" (per prompt: {per_prompt})" if per_prompt else "")
             + f", chosen on: {report['model'].get('threshold_source')}."
             + (f" Post-processing: {post}." if post else "")
             + f" {report['empty_convention'][:1].upper()}{report['empty_convention'][1:]}.", "",
             *([f"**Warnings** ({len(report['warnings'])}): the masks of a prompt the model does not answer are empty "
                "and score as such (`--no-prompt-gate` answers every prompt):", ""] + [f"- {text(w)}" for w in report["warnings"]] + [""]
               if report.get("warnings") else []),
             *_manifest_lines(report.get("split_manifests") or []),
             "mIoU 95% CI: bootstrap over source photos (file-name stem before `.rf.`; all copies of one photo "
             "drawn together), 1,000 resamples.", "",
             "| split | dataset | prompt | images | mIoU | mIoU 95% CI | mDice | pooled IoU | precision | recall | pixel AP | pixel F1-max |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["metrics"]:
        ci = r.get("mIoU_CI95", (float("nan"), float("nan")))
        read = f" (masks of {r['map_of']!r})" if r.get("map_of") not in (None, r["prompt"]) else ""
        lines.append(f"| {cell(r['split'])} | {cell(r['dataset'])} | {cell(r['prompt'] + read)} | {r['images']} | {_num(r['mIoU'])} | "
                     f"{_num(ci[0])}-{_num(ci[1])} | " + " | ".join(
                         _num(r[k]) for k in ("mDice", "pooled_IoU", "precision", "recall", "pixel_AP", "pixel_F1max"))
                     + " |")
    if _has_undefined(report):
        lines += ["", f"*{UNDEFINED_NOTE}.*"]
    if report.get("image_level"):
        lines += md_table("Image level (score = max probability; positives: images of the prompt's class)",
                          ["split", "prompt", "AUROC", "positives", "negatives"],
                          [[r["split"], r["prompt"], _num(r["AUROC"]), r["positives"], r["negatives"]] for r in report["image_level"]])
    if report["cross_prompt"]:
        lines += md_table("Cross-prompt check (other dataset's prompts; lower is better)",
                          ["split", "images of", "prompt", "mean predicted foreground fraction"],
                          [[r["split"], r["dataset"], r["prompt"], _num(r["mean_foreground_fraction"], ".4f")]
                           for r in report["cross_prompt"]])
        if any(_num(r["mean_foreground_fraction"]) == "n/a" for r in report["cross_prompt"]):
            lines += ["", "*n/a: a dataset listing the prompt labels every one of these photos too (it shows that "
                      "dataset's thing), so none was asked it as another thing.*"]
    else:
        lines += ["", "## Cross-prompt check", "", "Not run: it asks each dataset's photos for the prompts of datasets "
                  "of another concept, and no dataset of another concept was evaluated."]
    if report.get("qa_measures"):
        lines += md_table("QA measures: mean per image, predicted (canonical prompt) vs ground truth",
                          ["split", "dataset", "masks", "components", "area fraction", "length px", "mean width px", "max width px"],
                          [[r["split"], r["dataset"], r["masks"], f"{r['components']:.2f}", f"{r['area_fraction']:.4f}",
                            f"{r['length_px']:.1f}", f"{r['mean_width_px']:.1f}", f"{r['max_width_px']:.1f}"] for r in report["qa_measures"]])
    rows = [r for r in report["metrics"] if "centerline_F1" in r]
    if rows:
        lines += md_table(f"Centre-line agreement (width-insensitive; tolerance {rows[0]['centerline_tolerance']:g} of the shorter side)",
                          ["split", "dataset", "prompt", "mIoU", "centre-line F1 (mean per image)", "centre-line precision",
                           "centre-line recall"],
                          [[r["split"], r["dataset"], r["prompt"],
                            *(_num(r[k]) for k in ("mIoU", "centerline_F1", "centerline_precision", "centerline_recall"))]
                           for r in rows])
    if report.get("headroom"):
        lines += md_table("Headroom of thresholding (oracle diagnostics: they look at the scored ground truth; not results)",
                          ["split", "dataset", "prompt", "mIoU", "best single threshold", "its mIoU", "mIoU with the best threshold per image"],
                          [[r["split"], r["dataset"], r["prompt"], f"{r['mIoU']:.3f}", f"{r['best_single_threshold']:.2f}",
                            f"{r['mIoU_best_single_threshold']:.3f}", f"{r['mIoU_best_threshold_per_image']:.3f}"] for r in report["headroom"]])
        rows = [r for r in report["headroom"] if "width_oracle_mIoU_best_single_width" in r]
        lines += md_table("Label widths (oracle: the ground truth's own centre lines redrawn at one stroke width; not results)",
                          ["split", "dataset", "best single half-width (of the shorter side)", "its mIoU",
                           "mIoU with the best width per image"],
                          [[r["split"], r["dataset"], f"{r['width_oracle_best_half_width']:g}",
                            f"{r['width_oracle_mIoU_best_single_width']:.3f}", f"{r['width_oracle_mIoU_best_width_per_image']:.3f}"]
                           for r in rows]) if rows else []
        rows = [r for r in report["headroom"] if "share_tp" in r]
        lines += md_table(f"Where the errors are (wrong pixels within {rows[0]['boundary_band']:g} of the shorter side of the "
                          "other mask are outline errors: the region was found, its outline differs; farther ones are region "
                          "errors: spurious or missed regions; share of all found-or-wrong pixels, and the mIoU if region "
                          "errors were fixed: oracle diagnostics, not results)",
                          ["split", "dataset", "mIoU", "found", "FP outline", "FP region", "FN outline", "FN region",
                           "mIoU without spurious regions", "without missed regions", "outline errors only"],
                          [[r["split"], r["dataset"], f"{r['mIoU']:.3f}", *(f"{r['share_' + k]:.3f}" for k in ERROR_KINDS),
                            f"{r['mIoU_without_spurious']:.3f}", f"{r['mIoU_without_missed']:.3f}", f"{r['mIoU_boundary_only']:.3f}"]
                           for r in rows]) if rows else []
    if report.get("memory"):
        lines += md_table("Seen and unseen source photos (canonical prompt; seen: the model trained on another "
                          "copy of the photo, by file-name stem, from its train_files.json)",
                          ["split", "dataset", "images seen", "mIoU seen", "images unseen", "mIoU unseen"],
                          [[r["split"], r["dataset"], r["images_seen"], _num(r["mIoU_seen"]), r["images_unseen"],
                            _num(r["mIoU_unseen"])] for r in report["memory"]])
    if report.get("confidence"):
        fractions = sorted(report["confidence"][0]["kept"], reverse=True)
        lines += md_table("Confidence (canonical prompt): how well it ranks masks by their true IoU; mIoU of the most "
                          "confident masks kept (oracle: kept by true IoU)",
                          ["split", "dataset", "masks", "Spearman", *(f"mIoU of {f:.0%} kept" for f in fractions),
                           "gain at 80%", "oracle gain at 80%"],
                          [[r["split"], r["dataset"], r["masks"], _num(r["spearman"]),
                            *(_num(r["kept"][f]) for f in fractions), _num(r["gain_at_80"], "+.3f"),
                            f"{r['oracle_kept'][0.8] - r['oracle_kept'][1.0]:+.3f}"] for r in report["confidence"]])
        if report.get("confidence_png"):
            lines += ["", f"![confidence]({report['confidence_png']})"]
    m = report["model"]
    lines += ["", "## Model", "", f"- parameters: {m.get('parameters', 'n/a'):,}" if isinstance(m.get("parameters"), int) else "- parameters: n/a",
              f"- model folder on disk: {m.get('file_size_mb', 'n/a')} MB (10^6 bytes, all its files)",
              f"- precision: {m.get('precision', 'float32')}"]
    if m.get("tiling"):
        lines.append(f"- tiled: {text(tiling_text(m['tiling']))}")
    if "speed" in report:
        s = report["speed"]
        lines += ["", "## Speed (CPU, end to end from file)", "",
                  f"- {s['images']} images of {_sizes_text(s)} "
                  f"{', '.join(s.get('image_formats') or ['JPEG'])}, {s['threads']} threads"
                  + (f", fastest of {s['repeats']} runs per image" if s.get("repeats", 1) > 1 else ""),
                  f"- median {s['median_ms_first_prompt']:.1f} ms for the first prompt",
                  f"- median {s['median_ms_per_extra_prompt']:.1f} ms per extra prompt"
                  if s.get("median_ms_per_extra_prompt") is not None else "- per extra prompt: n/a (one prompt asked)"]
        if "median_ms_confidence_per_prompt" in s:
            lines.append(f"- median {s['median_ms_confidence_per_prompt']:.1f} ms of it for a mask's confidence")
        if "median_ms_first_prompt_batch" in s:
            extra = s.get("median_ms_per_extra_prompt_batch")
            lines.append(f"- as a batch job (`drywallqa predict`: mask files, QA measures with joints, records): median "
                         f"{s['median_ms_first_prompt_batch']:.1f} ms for the first prompt"
                         + (f", {extra:.1f} ms per extra prompt" if extra is not None else ""))
    if report.get("failures"):
        lines += ["", "## Files that failed", ""] + [f"- {text(f)}" for f in grouped_problems(report["failures"],
                                                                                               "failures")]
    if report.get("data_problems"):
        lines += ["", "## Data problems (the photos were scored with what could be read)", ""] + \
                 [f"- {text(f)}" for f in grouped_problems(report["data_problems"])]
    if report.get("examples_png"):
        lines += ["", f"![examples]({report['examples_png']})"]
    if report.get("worst_png"):
        lines += ["", "## Worst images per split (canonical prompt; all images in `per_image.csv`)", "",
                  f"![worst images]({report['worst_png']})"]
    return "\n".join(lines) + "\n"
