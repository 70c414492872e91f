"""Load test of the HTTP API on loopback (bounded): N requests, C at a time, against `drywallqa serve`.

    python benchmarks/load_test.py --requests 2000 --concurrency 8 --out out/load_test [--model-path DIR]

Starts `drywallqa serve` as a separate process on 127.0.0.1 (a free port), posts a 640x640 JPEG with
one prompt from C clients that honour ``Retry-After`` (at most 1 s) after a 429, and writes
``load_test.json``/``.md``: status counts (only 200 and the intended 429/503 are acceptable), p50/p99
latency of the answered requests, throughput. Bounded in requests and time; stops the server itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

from drywallqa.utils.argtypes import positive_int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def run_load(url: str, payload: bytes, n: int, concurrency: int, timeout: float) -> list[tuple[int, float]]:
    results: list[tuple[int, float]] = []
    queue = iter(range(n))

    async def worker(client):
        for _ in queue:
            t0 = time.perf_counter()
            retry = 0.0
            try:
                r = await client.post(url, files={"image": ("wall.jpg", payload, "image/jpeg")}, data={"prompts": ["segment crack"]})
                status = r.status_code
                if status in (429, 503):
                    retry = min(1.0, float(r.headers.get("retry-after", 1)))
            except httpx.HTTPError:
                status = -1
            results.append((status, 1e3 * (time.perf_counter() - t0)))
            if retry:
                await asyncio.sleep(retry)

    async with httpx.AsyncClient(timeout=timeout) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=positive_int, default=2000)
    ap.add_argument("--concurrency", type=positive_int, default=8)
    ap.add_argument("--server-concurrency", type=positive_int, default=2)
    ap.add_argument("--model-path", type=Path, default=None)
    ap.add_argument("--image", type=Path, default=Path("src/drywallqa/examples/cracks_2363_jpg.jpg"))
    ap.add_argument("--out", type=Path, default=Path("out/load_test"))
    args = ap.parse_args()
    port = free_port()
    cmd = [sys.executable, "-m", "drywallqa.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--max-concurrency", str(args.server_concurrency)]
    if args.model_path:
        cmd += ["--model-path", str(args.model_path)]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise SystemExit("the server did not start")
        payload = args.image.read_bytes()
        t0 = time.perf_counter()
        results = asyncio.run(run_load(f"http://127.0.0.1:{port}/v1/segment", payload, args.requests, args.concurrency, 60))
        wall = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait(10)
    codes = Counter(s for s, _ in results)
    ok = sorted(ms for s, ms in results if s == 200)
    q = statistics.quantiles(ok, n=100) if len(ok) > 1 else [float("nan")] * 99
    report = {
        "requests": args.requests, "concurrency": args.concurrency, "server_concurrency": args.server_concurrency,
        "status_counts": {str(k): v for k, v in sorted(codes.items())},
        "unexpected_errors": sum(v for k, v in codes.items() if k not in (200, 429, 503)),
        "p50_ms_ok": q[49], "p99_ms_ok": q[98], "throughput_ok_per_s": len(ok) / wall, "wall_s": wall,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "load_test.json").write_text(json.dumps(report, indent=2))
    md = "\n".join(f"| {k} | {v if not isinstance(v, float) else round(v, 2)} |" for k, v in report.items())
    (args.out / "load_test.md").write_text("| measure | value |\n|---|---|\n" + md + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
