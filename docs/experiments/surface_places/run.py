"""Places on a wall: "holes in the drywall" judged as "holes" (prompt gate, shipped model; no photos).

Compares two readings of a prompt with a place phrase at its end, on the shipped model's gate:
- 0.6.4: the place is left out only where the rest scores a higher margin than the whole prompt
  (negations answered as any other prompt; slips mended with 0.6.5's dictionary);
- 0.6.5: where the place is a wall, a board, a ceiling or the photo and the prompt asks for a named thing,
  the place is always left out (``PromptGate.on_a_surface``); else as 0.6.4; and a surface named before the
  thing ("ceiling crack") may be left out too where that scores a higher margin (``PromptGate.unmodified``);
  a negation ("no cracks") refused (``PromptGate.negated``).
on the generated lists with places of ../prompt_places (val part, and the test part with --test), on the
development lists below (written to choose the rule: no held-out check), and on a file of fresh wordings
written independently of the rule (--fresh FILE: {"crack": [...], "taping": [...], "other": [...]}, and
optionally "negation": [...], prompts asking for what is not there, to be refused).

    python docs/experiments/surface_places/run.py --out out/surface_places [--test] [--fresh FILE]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from drywallqa import Segmenter
from drywallqa.text.encoder import get_text_encoder
from drywallqa.utils.files import write_text_atomic
from drywallqa.utils.formats import strict_json

_spec = importlib.util.spec_from_file_location("prompt_places", Path(__file__).parent.parent / "prompt_places" / "run.py")
prompt_places = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(prompt_places)

# development lists: what the rule was chosen on (a prompt's concept in its place; other things on a wall; compounds)
DEV = {
    "taping": ["mud on the seams", "mud over the joints", "compound along the joints", "paper over the seams",
               "strips along the seams", "bands along the joints", "lines along the joints", "marks along the seams",
               "bumps along the seams", "ridges along the joints", "edges of the tape", "everything along the seam",
               "the stuff on the joints", "coating on the seams", "plaster over the joints", "separation in the drywall",
               "mudded joints", "butt joints", "vertical seams", "horizontal joint", "ceiling seams", "flat joints",
               "tapered joints", "paper tape", "mesh tape", "finished seams", "taped seams", "corner joint",
               "inside corner tape", "factory edge joint"],
    "cracks": ["segment pixels on the crack", "damage in the drywall", "area around the crack", "filler in the crack",
               "caulk in the crack", "breaks in the plaster", "splits in the board", "openings in the plaster",
               "lines in the plaster", "fine lines on the wall", "fractures in the wall", "gaps in the plaster",
               "tears in the paper", "crevices in the wall", "settlement crack", "shrinkage cracks", "diagonal crack",
               "stair-step crack", "vertical crack", "horizontal cracks", "corner crack", "ceiling crack",
               "spiderweb cracks", "map cracking", "stress crack", "structural crack", "thin crack", "long crack",
               "plaster crack"],
    "other": ["holes in the drywall", "dent in the wall", "nail pop in the drywall", "scratches on the wall",
              "water stain on the drywall", "mold on the drywall", "screw pops in the drywall", "bubbles in the paint",
              "peeling paint on the wall", "scuffs on the wall", "gouges in the drywall", "nail holes in the wall",
              "anchor holes in the drywall", "outlet in the wall", "switch on the wall", "stains on the drywall",
              "chips in the wall", "dings in the drywall", "smudges on the wall", "paint drips on the wall",
              "dust on the drywall", "a nail in the wall", "screws in the drywall", "a picture on the wall",
              "graffiti on the wall", "a vent in the drywall", "wires in the wall", "moisture in the drywall",
              "a hole in the wall", "a dent in the drywall", "pipe joint", "tape measure", "duct tape", "masking tape",
              "knee joint"],
}
FRESH_CONCEPTS = {"crack": "cracks", "taping": "taping", "other": "other", "negation": "negation"}  # the last two: refuse


def judges(seg: Segmenter) -> dict:
    gate = seg.gate
    encoder = get_text_encoder(seg.text_encoder)
    encode = lambda ps: encoder.encode(list(ps)).numpy()  # noqa: E731

    def higher_margin(p):  # 0.6.4's reading
        mended = gate.correct(p)
        head = gate.subject(mended)
        if head == mended:
            return mended
        _, _, margin = gate.scores(encode([mended, head]))
        return head if margin[1] > margin[0] else mended

    return encode, {"0.6.4 (higher margin)": higher_margin, "0.6.5 (surfaces)": lambda p: gate.understood(p, encode)}


def rates(seg: Segmenter, lists: dict) -> dict:
    """Per list (a concept's name, or "other"/"unrelated" for prompts to refuse) and reading: the share answered and
    the share answered right (refused, for the lists to refuse), and the prompts whose answer the readings change."""
    encode, rules = judges(seg)
    out = {}
    for name, prompts in lists.items():
        out[name] = {"prompts": len(prompts)}
        known = {}
        for rule, judge in rules.items():
            judged = {p: judge(p) for p in prompts}
            m = seg.gate.match(prompts, encode(judged.values()), judged)
            if rule.startswith("0.6.4"):  # 0.6.4 answered negations ("no cracks") as any other prompt
                m = {p: replace(x, known=x.margin >= seg.gate.min_margin or judged[p] in seg.gate.canonical.values())
                     for p, x in m.items()}
            refuse = name in ("other", "unrelated", "negation")
            right = [(not m[p].known) if refuse else (m[p].known and m[p].concept == name) for p in prompts]
            known[rule] = {p: m[p].known for p in prompts}
            out[name][rule] = {"answered": float(np.mean([m[p].known for p in prompts])), "right": float(np.mean(right))}
        a, b = known.values()
        out[name]["changed"] = {p: ("answered -> refused" if a[p] else "refused -> answered") for p in prompts if a[p] != b[p]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--test", action="store_true", help="also the test part of the generated lists (read once)")
    ap.add_argument("--fresh", type=Path, help="a JSON file of fresh wordings: crack / taping / other lists")
    args = ap.parse_args()
    seg = Segmenter.load()
    gen = lambda part: {**{c: prompt_places.placed(ws, part) for c, ws in prompt_places.v.CONCEPT_WORDS.items()},  # noqa: E731
                        "unrelated": prompt_places.placed(prompt_places.v.UNRELATED_WORDS, part)}
    bare = lambda part: {**{c: prompt_places.v.paraphrases(c, part) for c in prompt_places.v.CONCEPT_WORDS},  # noqa: E731
                         "unrelated": prompt_places.v.unrelated(part)}
    report = {"generated val": rates(seg, gen("val")), "generated val, no place": rates(seg, bare("val")),
              "development lists": rates(seg, DEV)}
    if args.test:
        report["generated test"] = rates(seg, gen("test"))
        report["generated test, no place"] = rates(seg, bare("test"))
    if args.fresh:
        fresh = json.loads(args.fresh.read_text())
        report["fresh wordings"] = rates(seg, {FRESH_CONCEPTS[k]: v for k, v in fresh.items()})
        report["fresh wordings"]["file"] = args.fresh.name
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(strict_json(report), args.out / "surface_places.json")
    for part, lists in report.items():
        for name, r in lists.items():
            if isinstance(r, dict):
                print(f"{part:24s} {name:9s} n={r['prompts']:5d} " + "  ".join(
                    f"{k}: answered {r[k]['answered']:.3f} right {r[k]['right']:.3f}" for k in r if k not in ("prompts", "changed"))
                    + f"  changed {len(r['changed'])}")


if __name__ == "__main__":
    main()
