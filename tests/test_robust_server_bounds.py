"""Robustness, class 5: the HTTP server cannot be held. Tile counts, pixels, upload size (while it streams,
chunked or not), request time and every parameter are bounded; the answers are 4xx (503 for the time
limit), never a 500, and the server stays up."""

import io
import select
import socket
import threading
import time

import numpy as np
import pytest
import uvicorn
from fastapi.testclient import TestClient
from PIL import Image

from drywallqa import Segmenter
from drywallqa.serve import ServeConfig, create_app


def _jpeg(w=64, h=48):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


@pytest.fixture
def client(tiny_model_dir):
    return TestClient(create_app(ServeConfig(max_upload_mb=0.5, max_tiles=16), Segmenter.load(tiny_model_dir)))


def _post(client, data, image=None):
    return client.post("/v1/segment", files={"image": ("w.jpg", image or _jpeg(), "image/jpeg")}, data=data)


def test_tile_counts_are_bounded(client):
    r = _post(client, {"prompts": ["segment crack"], "tile": "32"}, _jpeg(640, 640))
    assert r.status_code == 422 and "tiles" in r.json()["detail"] and "at most 16" in r.json()["detail"]
    assert _post(client, {"prompts": ["segment crack"], "tile": "320"}, _jpeg(640, 640)).status_code == 200
    assert _post(client, {"prompts": ["segment crack"], "tile": "31"}).status_code == 422


@pytest.mark.parametrize("value", ["1e308", "-1", "0", "nan", "inf", "-inf", "abc", "1001"])
def test_scale_out_of_range_is_422(client, value):
    r = _post(client, {"prompts": ["segment crack"], "mm_per_px": value})
    assert r.status_code == 422, (value, r.status_code, r.text)


@pytest.mark.parametrize("data", [
    {"prompts": ["x" * 301]},
    {"prompts": ["segment crack"], "flag": ["segment crack: area_px > 1"] * 33},
    {"prompts": ["segment crack"], "mask_format": "tiff"},
    {"prompts": [f"p{i}" for i in range(9)]},
    {"prompts": ["segment crack"], "include_probabilities": "maybe"},
])
def test_every_parameter_is_validated(client, data):
    assert _post(client, data).status_code == 422


def test_request_time_limit_answers_503_and_the_slot_comes_back(tiny_model_dir):
    inner = Segmenter.load(tiny_model_dir)

    class Slow(Segmenter):  # the declared interface: describe(), settings() ... come with it
        threshold = 0.5
        delay = 1.5

        def predict(self, image, prompts, threshold=None, label_shape=None):
            time.sleep(self.delay)
            return inner.predict(image, prompts)

    slow = Slow()
    client = TestClient(create_app(ServeConfig(request_timeout_s=0.3, max_concurrency=1), slow))
    r = _post(client, {"prompts": ["segment crack"]})
    assert r.status_code == 503 and r.headers["retry-after"] and "longer than" in r.json()["detail"]
    slow.delay = 0.0
    deadline = time.time() + 10
    while time.time() < deadline:  # the slot is held until the slow work really ends, then freed
        r = _post(client, {"prompts": ["segment crack"]})
        if r.status_code != 429:
            break
        time.sleep(0.1)
    assert r.status_code == 200


def _free_server(app):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    return server, thread, sock.getsockname()[1]


def test_chunked_upload_is_refused_while_it_streams(tiny_model_dir):
    server, thread, port = _free_server(create_app(ServeConfig(max_upload_mb=0.25), Segmenter.load(tiny_model_dir)))
    try:
        conn = socket.create_connection(("127.0.0.1", port), timeout=10)
        boundary = "b0undary"
        conn.sendall((f"POST /v1/segment HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
                      f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n").encode())
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"w.jpg\"\r\n"
                f"Content-Type: image/jpeg\r\n\r\n").encode()
        chunk = b"0" * 65536
        sent, answer = 0, b""
        for i in range(200):  # 12.5 MB offered, 50 times the limit
            data = head + chunk if i == 0 else chunk
            try:
                conn.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(data)
            if select.select([conn], [], [], 0.02)[0]:
                break
        answer = conn.recv(65536)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert sent < 2 * 2**20, f"the server read {sent} bytes before refusing"
        conn.close()
        # still up
        ok = socket.create_connection(("127.0.0.1", port), timeout=10)
        ok.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        assert b"200 OK" in ok.recv(4096)
        ok.close()
    finally:
        server.should_exit = True
        thread.join(10)


def test_declared_length_over_the_limit_is_refused_at_once(client):
    r = client.post("/v1/segment", content=b"x" * 10, headers={"content-length": str(10 * 2**20),
                                                             "content-type": "multipart/form-data; boundary=x"})
    assert r.status_code == 413


@pytest.mark.parametrize("args", [["--max-upload-mb", "inf"], ["--request-timeout", "0"], ["--port", "99999"],
                                  ["--port", "-1"], ["--max-pixels", "0"]])
def test_serve_refuses_impossible_settings_before_starting(args):
    from typer.testing import CliRunner

    from drywallqa.cli import app

    res = CliRunner().invoke(app, ["serve", *args])
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit), (res.output, res.exception)
    assert args[0] in res.output


def _noise_png(w=48, h=32):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def test_slow_measures_are_under_the_time_limit_and_off_the_event_loop(tiny_model_dir, monkeypatch):
    import drywallqa.serve.app as app_module

    real = app_module.mask_measures
    measuring = threading.Event()

    def slow(*args, **kwargs):  # a 12-MP mask's skeleton or a noisy taping mask's joints take this long
        measuring.set()
        time.sleep(1.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(app_module, "mask_measures", slow)
    seg = Segmenter.load(tiny_model_dir)
    seg.predict(np.zeros((32, 48, 3), np.uint8), ["segment crack"])  # the text encoder loaded: segmenting is quick
    with TestClient(create_app(ServeConfig(request_timeout_s=0.5), seg)) as client:
        answer = {}

        def post():
            answer["r"] = client.post("/v1/segment", files={"image": ("w.png", _noise_png(), "image/png")},
                                      data={"prompts": ["segment crack"]})

        thread = threading.Thread(target=post)
        thread.start()
        assert measuring.wait(30)
        t0 = time.perf_counter()
        assert client.get("/healthz").status_code == 200
        assert time.perf_counter() - t0 < 1.0  # the event loop is free while the request is measured
        thread.join()
    assert answer["r"].status_code == 503 and answer["r"].headers["Retry-After"]


def test_options_in_the_query_string_are_refused_not_ignored(tiny_model_dir):
    client = TestClient(create_app(ServeConfig(), Segmenter.load(tiny_model_dir)))
    r = client.post("/v1/segment?mm_per_px=0.5", files={"image": ("w.png", _noise_png(), "image/png")},
                    data={"prompts": ["segment crack"]})
    assert r.status_code == 422 and "mm_per_px" in r.json()["detail"] and "form" in r.json()["detail"]
    ok = client.post("/v1/segment", files={"image": ("w.png", _noise_png(), "image/png")},
                     data={"prompts": ["segment crack"], "mm_per_px": "0.5"})
    assert ok.status_code == 200 and "area_mm2" in ok.json()["results"][0]["measures"]


def test_a_scale_too_small_for_any_camera_is_refused(tiny_model_dir):
    client = TestClient(create_app(ServeConfig(), Segmenter.load(tiny_model_dir)))
    r = client.post("/v1/segment", files={"image": ("w.png", _noise_png(), "image/png")},
                    data={"prompts": ["segment crack"], "mm_per_px": "1e-320"})  # every area read 0.0 mm²
    assert r.status_code == 422 and "mm_per_px" in str(r.json()["detail"])
