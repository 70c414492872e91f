"""Negations in free text: what the shipped model's prompt gate answers, with the code it is run with.

    python docs/experiments/negations/run.py --out out/negations_066 [--test] [--fresh FILE ...]
    PYTHONPATH=<a checkout of 0.6.5>/src python docs/experiments/negations/run.py --out out/negations_065 ...
    python docs/experiments/negations/run.py --table out/negations_065/negations.json out/negations_066/negations.json

Each list is asked through the product (``Segmenter.match_prompts``: slips mended, places and negated tails left out,
negations refused) and scored as the share answered right: the known concepts' wordings answered as their concept,
other things and negations refused. Lists:
- ``development``: what the 0.6.6 rule was chosen on (``DEV`` below: negations naming the thing after a word of
  their own, "areas with no cracks"; things named first with a negated tail, "cracks with no tape"), written with
  the negations left answered in 0.6.5's second blind set (docs/experiments/surface_places), which is thereby no
  held-out check of this rule;
- the generated lists of docs/experiments/prompt_places (val part; ``--test``: the test part, read once), with and
  without places: what must not change;
- ``--fresh FILE``: fresh wordings written apart from the rule, ``{"crack": [...], "taping": [...], "other": [...],
  "negation": [...], "thing_then_negation": [[prompt, "crack" | "taping"], ...]}`` (any of the keys).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

import numpy as np

import drywallqa
from drywallqa import Segmenter
from drywallqa.text.prompts import check_prompt
from drywallqa.utils.files import write_text_atomic
from drywallqa.utils.formats import strict_json

_spec = importlib.util.spec_from_file_location("prompt_places", Path(__file__).parent.parent / "prompt_places" / "run.py")
prompt_places = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(prompt_places)

CONCEPTS = {"crack": "cracks", "cracks": "cracks", "taping": "taping"}
REFUSE = ("other", "unrelated", "negation")
DEV = {
    "negation": ["areas with no cracks", "parts of the wall with no tape", "drywall with no tape",
                 "wall surface minus the taping", "regions free of cracks", "sections lacking tape",
                 "the wall areas that have no cracks", "zones without any taping", "crack free wall",
                 "the portions of the wall where there is no tape", "wall minus cracks", "everything apart from the seams",
                 "plaster that has no cracks", "surfaces clear of tape"],
    "thing_then_negation": [["cracks with no tape", "crack"], ["crack, not tape", "crack"],
                            ["cracks that are not taped", "crack"], ["taping areas except the corners", "taping"],
                            ["crack, apart from the tape", "crack"], ["cracks but not the tape", "crack"],
                            ["seams on the wall without cracks", "taping"], ["joints without cracks", "taping"],
                            ["show the tape, not the cracks", "taping"], ["segment crack, not the tape", "crack"],
                            ["hairline cracks, ignore the joints", "crack"], ["taped seams but no cracks", "taping"]],
}


def rates(seg: Segmenter, lists: dict) -> dict:
    """Per list: the share answered and answered right, and the prompts answered wrong with their answer (a concept,
    "refused", or "input error" for text the product takes as no prompt)."""
    out = {}
    for name, items in lists.items():
        pairs = [(p, name) if isinstance(p, str) else tuple(p) for p in items]
        typed = {}  # each as the product takes it (on one line); one it takes as no prompt (NUL) is an input error
        for p, _ in pairs:
            try:
                typed[p] = check_prompt(p)
            except ValueError:
                pass
        matches = seg.match_prompts(list(typed.values()))
        answers = {p: "input error" if p not in typed else matches[typed[p]].concept if matches[typed[p]].known
                   else "refused" for p, _ in pairs}
        refused = ("refused", "input error")
        right = [answers[p] in refused if want in REFUSE else answers[p] == CONCEPTS[want] for p, want in pairs]
        out[name] = {"prompts": len(pairs), "answered": float(np.mean([a not in refused for a in answers.values()])),
                     "right": float(np.mean(right)), "wrong": {p: answers[p] for (p, _), ok in zip(pairs, right) if not ok}}
    return out


def generated(part: str, places: bool) -> dict:
    v = prompt_places.v
    make = (lambda ws, c: prompt_places.placed(ws, part)) if places else (lambda ws, c: v.paraphrases(c, part))
    lists = {c: make(ws, c) for c, ws in v.CONCEPT_WORDS.items()}
    lists["unrelated"] = prompt_places.placed(v.UNRELATED_WORDS, part) if places else v.unrelated(part)
    return lists


def table(paths: list[Path]) -> str:
    """A Markdown table of the share answered right, one column per report (its drywallqa version)."""
    reports = [json.loads(p.read_text()) for p in paths]
    head = "| list | prompts | " + " | ".join(r["version"] for r in reports) + " |"
    lines = [head, "|" + "---|" * (2 + len(reports))]
    for part, lists in reports[-1]["parts"].items():
        for name, r in lists.items():
            cells = [f"{rep['parts'].get(part, {}).get(name, {}).get('right', float('nan')):.3f}" for rep in reports]
            lines.append(f"| {part}: {name} | {r['prompts']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--test", action="store_true", help="also the test part of the generated lists (read once)")
    ap.add_argument("--fresh", type=Path, action="append", default=[], help="a JSON file of fresh wordings")
    ap.add_argument("--table", type=Path, nargs="+", help="print a table of these reports (no run)")
    ap.add_argument("--model-path", help="a model folder (default: the shipped model), e.g. one with another gate")
    args = ap.parse_args()
    if args.table:
        print(table(args.table))
        return
    if args.out is None:
        ap.error("--out is required for a run")
    seg = Segmenter.load(args.model_path)
    parts = {"development": rates(seg, DEV), "generated val, places": rates(seg, generated("val", True)),
             "generated val": rates(seg, generated("val", False))}
    if args.test:
        parts["generated test, places"] = rates(seg, generated("test", True))
        parts["generated test"] = rates(seg, generated("test", False))
    for path in args.fresh:
        parts[f"fresh: {path.name}"] = rates(seg, json.loads(path.read_text()))
    report = {"version": drywallqa.__version__, "gate_reading": seg.settings().get("gate", {}).get("reading"),
              "parts": parts}
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(strict_json(report), args.out / "negations.json")
    print(table([args.out / "negations.json"]))


if __name__ == "__main__":
    main()
