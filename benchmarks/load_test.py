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
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from drywallqa.serve.config import EXAMPLES_DIR
from drywallqa.utils.argtypes import positive_int
from drywallqa.utils.files import write_text_atomic
from drywallqa.utils.formats import strict_json
from drywallqa.utils.image_io import ImageReadError, read_image
from drywallqa.utils.paths import check_writable_path
from drywallqa.utils.progress import progress_bar

DEFAULT_IMAGE = EXAMPLES_DIR / "cracks_2363_jpg.jpg"  # found from any working folder
START_TIMEOUT_S = 120
STDERR_LINES = 20  # of the server's error output shown when it does not start


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def run_load(url: str, payload: bytes, n: int, concurrency: int, timeout: float,
                   progress: bool = False) -> list[tuple[int, float]]:
    """``n`` requests from ``concurrency`` clients: (status, ms) of each, -1 for no answer; ``progress``: a bar of the
    requests answered (2000 by default: minutes)."""
    results: list[tuple[int, float]] = []
    queue = iter(range(n))
    bar = progress_bar(total=n, desc="requests", disable=not progress)

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
            bar.update(1)
            if retry:
                await asyncio.sleep(retry)

    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    finally:
        bar.close()
    return results


def check_inputs(image: Path, out: Path) -> None:
    """Refuse, before the server starts, an ``--image`` that is no readable photo and an ``--out`` that cannot be a
    folder (ValueError naming the option and the file)."""
    try:
        read_image(image)
    except ImageReadError as exc:
        raise ValueError(f"--image: {exc}") from None
    try:
        check_writable_path(out, folder=True)
    except ValueError as exc:
        raise ValueError(f"--out: {exc}") from None


def wait_for_server(server: subprocess.Popen, url: str, log, timeout: float = START_TIMEOUT_S) -> None:
    """Return once ``url`` answers 200; SystemExit as soon as the ``server`` process has exited, or after ``timeout``
    seconds, with the last lines of its error output (``log``: the file it writes them to)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        code = server.poll()
        if code is not None:
            raise SystemExit(f"the server exited with code {code} before it answered:\n{_last_lines(log)}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server did not answer {url} within {timeout:g} s; its last output:\n{_last_lines(log)}")


def _last_lines(log) -> str:
    log.flush()
    log.seek(0)
    lines = log.read().decode("utf-8", errors="replace").splitlines()[-STDERR_LINES:]
    return "\n".join(f"  {line}" for line in lines) or "  (nothing)"


def summarize(results: list[tuple[int, float]], wall: float, args) -> dict:
    """The report of one run: status counts, p50/p99 latency of the answered requests (None, JSON null, when fewer
    than two were answered), throughput."""
    codes = Counter(s for s, _ in results)
    ok = sorted(ms for s, ms in results if s == 200)
    q = statistics.quantiles(ok, n=100) if len(ok) > 1 else [None] * 99
    return {
        "requests": args.requests, "concurrency": args.concurrency, "server_concurrency": args.server_concurrency,
        "status_counts": {str(k): v for k, v in sorted(codes.items())},
        "unexpected_errors": sum(v for k, v in codes.items() if k not in (200, 429, 503)),
        "p50_ms_ok": q[49], "p99_ms_ok": q[98], "throughput_ok_per_s": len(ok) / wall, "wall_s": wall,
    }


def write_report(report: dict, out: Path) -> None:
    """``load_test.json`` (strict JSON) and ``load_test.md`` in ``out``, each written whole."""
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(strict_json(report), out / "load_test.json")
    show = lambda v: "n/a" if v is None else round(v, 2) if isinstance(v, float) else v
    md = "\n".join(f"| {k} | {show(v)} |" for k, v in report.items())
    write_text_atomic("| measure | value |\n|---|---|\n" + md + "\n", out / "load_test.md")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=positive_int, default=2000)
    ap.add_argument("--concurrency", type=positive_int, default=8)
    ap.add_argument("--server-concurrency", type=positive_int, default=2)
    ap.add_argument("--model-path", type=Path, default=None)
    ap.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    ap.add_argument("--out", type=Path, default=Path("out/load_test"))
    args = ap.parse_args()
    try:
        check_inputs(args.image, args.out)
    except ValueError as exc:
        ap.error(str(exc))
    payload = args.image.read_bytes()
    port = free_port()
    cmd = [sys.executable, "-m", "drywallqa.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--max-concurrency", str(args.server_concurrency)]
    if args.model_path:
        cmd += ["--model-path", str(args.model_path)]
    with tempfile.TemporaryFile() as log:  # a file, not a pipe: a pipe nobody reads would stall a chatty server
        server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
        try:
            print(f"starting drywallqa serve on 127.0.0.1:{port} (its model loads: up to {START_TIMEOUT_S} s)...",
                  file=sys.stderr, flush=True)
            wait_for_server(server, f"http://127.0.0.1:{port}/healthz", log)
            t0 = time.perf_counter()
            results = asyncio.run(run_load(f"http://127.0.0.1:{port}/v1/segment", payload, args.requests, args.concurrency, 60,
                                           progress=True))
            wall = time.perf_counter() - t0
        finally:
            server.terminate()
            server.wait(10)
    report = summarize(results, wall, args)
    write_report(report, args.out)
    print(strict_json(report))


if __name__ == "__main__":
    from drywallqa.utils.signals import run_main

    run_main(main)  # Ctrl-C: one line and exit 130, as a drywallqa command
