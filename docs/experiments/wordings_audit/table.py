"""Before/after tables of README.md: python table.py before_1.json after_1.json [before_2.json after_2.json]."""
import json, sys
def load(f): return {r["prompt"]: r for r in json.load(open(f))}
def verdict(r):
    if "error" in r:
        e = r["error"]; return "error (clean): " + e.split(":", 1)[1].strip().split(";")[0].split(":")[0][:60]
    v = r["result"] if "concept" in r["result"] else list(r["result"].values())[0]
    return f"answered: {v['concept']}" if v["known"] else f"refused (nearest {v['concept']})"
def shown(p):
    s = p if len(p) < 50 else p[:12] + f"... ({len(p)} chars)"
    s = json.dumps(s, ensure_ascii=True)[1:-1] if any(ord(c) < 32 or 0x200b <= ord(c) <= 0x2060 or c in "\xad\u02bc\u2032" for c in s) else s
    s = s.replace("|", "\\|")
    return ("`` " + s + " ``" if "`" in s else "`" + s + "`") if s.strip() else ("`" + repr(s) + "`" if s else "(empty)")
for a, b in zip(sys.argv[1::2], sys.argv[2::2]):
    A, B = load(a), load(b)
    print("| wording | before | after |\n|---|---|---|")
    for p in A:
        va, vb = verdict(A[p]), verdict(B[p])
        print(f"| {shown(p)} | {va} | {'**' + vb + '**' if vb != va else 'same'} |")
    print()
