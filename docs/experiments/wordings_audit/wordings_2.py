"""Helper 292's wordings audit (README.md): each wording through Segmenter.match_prompts with the shipped model.

    PYTHONPATH=src python docs/experiments/wordings_audit/wordings_2.py out/wordings.json
"""
import json, sys
from drywallqa import Segmenter
P = ["NO-CRACKS", "no_cracks", "NOT:crack", "not-crack", "no.cracks", "no,cracks", "No Cracks.", "no crack!", "no cracks?",
 "Not Cracks!!", "crack(s)", "tape(s)", "seam(s)", "not crack(s)", "no crack(s)", "except: cracks", "EVERYTHING EXCEPT CRACKS",
 "everything-except-cracks", "everything_except_cracks", "everything except\tcracks", "no  tape", "no\ttape", "NO TAPE!!!",
 "cracks, not tape", "tape, not cracks", "not tape, cracks", "cracks not tape", "tape not cracks", "cracks but not tape",
 "cracks but no tape", "crack without tape", "cracks (no tape)", "cracks [not tape]", "cracks -tape", "cracks excluding tape",
 "tape (not cracks)", "tape (no cracks)", "tape w/o cracks",
 "don\u2019t segment cracks", "DON'T SEGMENT CRACKS", "dont segment cracks", "Do NOT segment cracks", "don`t segment cracks",
 "don\u02bct segment cracks", "don\u2032t segment cracks", "don't  segment cracks",
 "no\u00a0cracks", "segment\u00a0crack", "no\u3000cracks", "\uff4e\uff4f \uff43\uff52\uff41\uff43\uff4b\uff53", "NO\u00a0TAPE",
 "no\u200bcracks", "n\u200bo cracks", "no\u00adcracks", "n\u00ado cracks", "no\u2060cracks", "n\u200do tape", "not\u200b cracks",
 "cr\u200back", "cr\u00adack", "ta\u200bpe", "crack\u0301",
 "no\u2010cracks", "crack\u2010free", "non\u2011crack", "\u2212crack", "\u2013crack", "\u2014crack", "no\u2014cracks",
 "\U0001f6ab cracks", "\u274c cracks", "cracks \u274c", "no cracks \U0001f642", "\u274c tape",
 "cracks? no", "tape? no.", "fissures", "fractures", "seams", "tapes", "joint tapes", "taping areas", "drywall joints",
 "mud joints", "crackS", "crack .", "crack ,", "\u201ccrack\u201d", "\u2018crack\u2019", "\u00abcrack\u00bb",
 "not \u201ccracks\u201d", "no 'cracks'", 'no "tape"', "no (cracks)", "no [tape]", "not-cracks", "no\u2014cracks", "NOT\u00a0cracks",
 "'no cracks'", '"not tape"', "(no cracks)", "[no tape]", "no. cracks", "No! Cracks", "no cracks!!!", "NO CRACKS!!!",
 "Nocracks", "notape", "nocrack", "no-tape", "no_tape", "not_crack", "cracks=no", "cracks: no", "crack=false", "tape: false",
 "cracks=0", "crack: 0", "cracks: none", "cracks - none", "cracks: never", "tape=off", "cracks off", "tape off", "without tape",
 "crack_free", "crackfree", "tape-less", "tapeless", "crackless", "un-cracked", "uncracked", "untaped", "no cracks pls",
 "no crack pls", "NOPE cracks", "nah cracks", "never cracks", "exclude cracks", "excl cracks", "excl. cracks", "w/o cracks",
 "-cracks", "!cracks", "~cracks", "not: cracks", "NOT(crack)", "not(crack)", "!(crack)", "~(crack)", "-(crack)", "NOT crack",
 "anything except cracks", "all except crack", "All except Cracks.", "everything except cracks.", "everything except the cracks!!",
]
seg = Segmenter.load()
out = []
for p in P:
    try:
        r = seg.match_prompts([p]); v = list(r.values())[0].to_dict()
        out.append({"prompt": p, "result": v})
        print(repr(p), '->', 'ANS' if v.get('known') else 'REF', v.get('concept'), v.get('understood_as'), round(v.get('margin') or 0, 3))
    except Exception as e:
        out.append({"prompt": p, "error": f"{type(e).__name__}: {e}"}); print(repr(p), "ERR", type(e).__name__, str(e)[:100])
json.dump(out, open(sys.argv[1], "w"), indent=1, ensure_ascii=False)
