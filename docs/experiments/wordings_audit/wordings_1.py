"""Helper 292's wordings audit (README.md): each wording through Segmenter.match_prompts with the shipped model.

    PYTHONPATH=src python docs/experiments/wordings_audit/wordings_1.py out/wordings.json
"""
import json, sys, traceback
from drywallqa import Segmenter
PROMPTS = ["segment crack", "cracks", "find the cracks please", "crack in wall", "hairline fracture", "seam tape",
 "taping area", "drywall joint", "mud joint", "joint compound", "not cracks", "no tape", "everything except cracks",
 "CRACK!!", "crack?", "crak", "segment  crack ", "Crack.", "grietas", "fissure", "window", "door", "paint drip",
 "", "   ", "crack " * 334, "\U0001F9F1 crack \U0001F525", "\U0001F525", "segment\ncrack", "segment\x00crack",
 "segment crack and taping", "crack; rm -rf /",
 # extra
 "CRACKS", "Cracks!", "crack...", "cracks???", "'crack'", '"crack"', "(crack)", "[crack]", "crack,", "-crack-",
 "crack!!!1", "¿grietas?", "grietas en la pared", "Fissures", "FISSURE", "fisure", "seam", "SEAMS!", "tape.",
 "taping", "Taping area.", "joints", "mudded joints", "no cracks", "NO CRACKS", "No cracks!", "not tape", "no taping",
 "no-cracks", "without cracks", "anything but cracks", "except cracks", "all but the tape", "not the cracks.",
 "NOT CRACKS", "dont show cracks", "don't segment cracks", "do not segment the tape", "crack free", "non-crack",
 "crack?!", "crack‽", "crack…", "crack\t", "ｃｒａｃｋ", "CRАCK", "crack\u200b", "segment crack and tape", "cracks and seams",
 "cracks or tape", "cracks & tape", "crack/tape", "crack, tape", "segment crack; segment taping", "crack and window",
 "window crack", "windows", "crack in window", "glass crack", "cracked window", "cracked glass", "paint crack",
 "tape measure", "masking tape", "painter's tape", "joint of my knee", "mud", "compound", "drip", "paint",
 "crack 🙂", "🙂", "taping 😀", "c r a c k", "cr ack", "crack-crack", "CrAcK", "crackk", "crakc", "cracs", "tpae", "tapping", "seem",
 "seg crack", "segment: crack", "segment=crack", "prompt: crack", "<crack>", "crack</script>", "{crack}", "crack 100%",
 "crack #1", "crack1", "crack_", "_crack", "crack_line", "drywall_joint", "taping-area", "TAPING_AREA",
 "1", "?", "!!!", "...", "-", "a", "the", "segment", "segment the", "find", "please", "mask",
]
seg = Segmenter.load()
m = seg.match_prompts
out = []
for p in PROMPTS:
    try:
        r = m([p])
        d = {k: (v.to_dict() if hasattr(v, "to_dict") else v) for k, v in r.items()}
        out.append({"prompt": p, "result": d})
    except Exception as e:
        out.append({"prompt": p, "error": f"{type(e).__name__}: {e}", "tb": traceback.format_exc()[-600:]})
json.dump(out, open(sys.argv[1], "w"), indent=1, ensure_ascii=False)
