"""Peak memory of one HTTP request, by photo size and number of prompts (what a server needs per concurrent request).

    python benchmarks/request_memory.py --out out/request_memory [--sides 4000 8000] [--prompts 1 8] [--model-path DIR]

Each case runs in a fresh Python process: the app of ``drywallqa serve`` (FastAPI TestClient, the model's default
runtime, 2 threads) answers one request for a small photo first (the model loaded and warm), then one for a square
JPEG of ``side`` x ``side`` px made of 8 px blocks of random colour (many small mask regions: the measures' worst
case) with ``prompts`` prompts. Its peak resident memory above the process's before that request is the request's
cost. Writes ``request_memory.json``/``.md``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from drywallqa.export.onnx import is_onnx_export_dir
from drywallqa.models.base import is_drywallqa_model_dir, not_a_model_folder
from drywallqa.models.shipped import resolve_model_dir
from drywallqa.utils.argtypes import at_least, positive_int
from drywallqa.utils.files import write_text_atomic
from drywallqa.utils.formats import strict_json
from drywallqa.utils.paths import check_writable_path

PROMPTS = ["segment crack", "segment taping area", "segment drywall seam", "segment joint/tape", "crack in the wall",
           "joint tape", "hairline crack", "taped seam"]

ONE_CASE = r"""
import json, resource, sys, time
import torch
torch.set_num_threads(2)
from fastapi.testclient import TestClient
from drywallqa.serve import ServeConfig, create_app
from drywallqa.serve.config import EXAMPLES_DIR
photo, prompts, model_path = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3] or None
client = TestClient(create_app(ServeConfig(model_path, max_pixels=10**9)))
warm = (EXAMPLES_DIR / "cracks_2363_jpg.jpg").read_bytes()
client.post("/v1/segment", files={"image": ("a.jpg", warm, "image/jpeg")}, data={"prompts": prompts[:1]})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t0 = time.perf_counter()
r = client.post("/v1/segment", files={"image": ("p.jpg", open(photo, "rb").read(), "image/jpeg")},
                data={"prompts": prompts})
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"status": r.status_code, "seconds": seconds, "before_mb": before, "request_mb": peak - before}))
"""


def noise_jpeg(side: int, path: Path) -> None:
    blocks = (np.random.default_rng(0).random((side // 8, side // 8, 3)) * 255).astype(np.uint8)
    Image.fromarray(blocks).resize((side, side), Image.NEAREST).save(path, quality=80)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("out/request_memory"))
    ap.add_argument("--sides", type=at_least(32), nargs="+", default=[4000, 8000], help="photo sides, px (at least 32)")
    ap.add_argument("--prompts", type=positive_int, nargs="+", default=[1, 8], help=f"at most {len(PROMPTS)}")
    ap.add_argument("--model-path", default="", help="a model folder or shipped name (default: the shipped model)")
    args = ap.parse_args()
    if max(args.prompts) > len(PROMPTS):
        ap.error(f"--prompts: at most {len(PROMPTS)}")
    try:  # before the first case: an --out that is a file, a model folder that is not there
        check_writable_path(args.out, folder=True)
        if args.model_path and not is_drywallqa_model_dir(resolve_model_dir(args.model_path)):  # each case's traceback
            raise ValueError(f"--model-path: {not_a_model_folder(resolve_model_dir(args.model_path))}")
        if args.model_path and is_onnx_export_dir(resolve_model_dir(args.model_path)):  # the cases run the torch runtime
            raise ValueError(f"--model-path: {args.model_path} is an ONNX export; give the torch model folder it was "
                             "exported from")
    except (OSError, ValueError) as exc:
        ap.error(str(exc))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for side in args.sides:
            photo = Path(tmp) / f"noise_{side}.jpg"
            noise_jpeg(side, photo)
            for n in args.prompts:  # one long call each: said before it starts
                print(f"{side * side / 1e6:.0f} MP, {n} prompt(s): a fresh server process answers it...", file=sys.stderr,
                      flush=True)
                done = subprocess.run([sys.executable, "-c", ONE_CASE, str(photo), json.dumps(PROMPTS[:n]), args.model_path],
                                      capture_output=True, text=True)
                if done.returncode != 0:
                    print(done.stderr[-2000:], file=sys.stderr)
                    return 1
                row = {"megapixels": side * side / 1e6, "prompts": n, **json.loads(done.stdout.strip().splitlines()[-1])}
                rows.append(row)
                print(f"{row['megapixels']:.0f} MP, {n} prompt(s): {row['request_mb']:.0f} MB above "
                      f"{row['before_mb']:.0f} MB, {row['seconds']:.1f} s, HTTP {row['status']}")
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(strict_json({"rows": rows}), args.out / "request_memory.json")
    lines = ["| photo | prompts | peak above the warm server | time | status |", "|---|---|---|---|---|"]
    lines += [f"| {r['megapixels']:.0f} MP | {r['prompts']} | {r['request_mb'] / 1024:.2f} GB | {r['seconds']:.1f} s | "
              f"{r['status']} |" for r in rows]
    write_text_atomic("\n".join(lines) + "\n", args.out / "request_memory.md")
    print(f"-> {args.out / 'request_memory.md'}")
    return 0


if __name__ == "__main__":
    from drywallqa.utils.signals import run_main

    run_main(main)  # Ctrl-C: one line and exit 130, as a drywallqa command
