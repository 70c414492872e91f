"""``drywallqa serve``: the HTTP API and the web page."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator, Optional

import typer

from ..serve.config import ServeConfig, SettingError
from ..utils.signals import InterruptOnStop
from .common import (GATE_HELP, INTERRUPTED_CODE, MODEL_HELP, MODEL_PATH_HELP, PIPELINE_HELP, PRECISION_HELP, RUNTIME_HELP,
                     TILE_HELP, app, check_text_encoder, load_segmenter, tagged)

ENLARGE_TILES_HELP = ("A tile smaller than the model's input size, --tile's or a request's 'tile', resized to that size "
                      "(as up to 0.6.28; scored lower on the group-clean val photos). Default: a tile is seen at its own "
                      "size.")

# ServeConfig's fields by the option of drywallqa serve that sets each
OPTION_OF = {"max_upload_mb": "--max-upload-mb", "max_concurrency": "--max-concurrency", "max_prompts": "--max-prompts",
             "max_rules": "--max-rules", "max_pixels": "--max-pixels", "max_tiles": "--max-tiles",
             "request_timeout_s": "--request-timeout", "body_timeout_s": "--body-timeout",
             "enlarge_tiles": "--enlarge-tiles"}


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
    model_path: Optional[str] = typer.Option(None, help=MODEL_PATH_HELP),
    model: Optional[str] = typer.Option(None, help=MODEL_HELP),
    runtime: str = typer.Option(ServeConfig.runtime, help=RUNTIME_HELP),
    pipeline: Optional[str] = typer.Option(None, help=PIPELINE_HELP),
    max_upload_mb: float = typer.Option(ServeConfig.max_upload_mb, help="Larger uploads are answered 413."),
    max_concurrency: int = typer.Option(ServeConfig.max_concurrency, help="Requests segmented at once; more are answered 429."),
    max_prompts: int = typer.Option(ServeConfig.max_prompts, help="Prompts per request; more are answered 422."),
    max_rules: int = typer.Option(ServeConfig.max_rules, help="flag rules per request; more are answered 422."),
    tile: Optional[int] = typer.Option(None, help=TILE_HELP),
    enlarge_tiles: bool = typer.Option(ServeConfig.enlarge_tiles, help=ENLARGE_TILES_HELP),
    max_pixels: int = typer.Option(ServeConfig.max_pixels, help="Photos with more pixels are answered 413 before decoding."),
    max_tiles: int = typer.Option(ServeConfig.max_tiles, help="A tile size that would cut a photo into more tiles is answered 422."),
    request_timeout: float = typer.Option(ServeConfig.request_timeout_s, help="Seconds a request may take; then it is answered 503."),
    body_timeout: float = typer.Option(ServeConfig.body_timeout_s, help="Seconds a request's body may take to arrive; then it is answered 408. "
                                       "Also the seconds a request's headers may take, from when its connection opened "
                                       "or the previous answer was sent, and the seconds a client may leave its answer unread; then the "
                                       "connection is closed."),
    max_connections: int = typer.Option(
        256, help="Connections open at once (idle ones included); a request beyond them is answered 503, so that "
                  "clients holding connections open cannot take every one the machine has."),
    prompt_gate: bool = typer.Option(True, "--prompt-gate/--no-prompt-gate", help=GATE_HELP),
    precision: str = typer.Option(ServeConfig.precision, help=PRECISION_HELP),
):
    """HTTP API (POST /v1/segment, GET /v1/models, GET /v1/examples, GET /healthz, /docs) and a web page at /."""
    import uvicorn

    from ..serve import create_app
    from ..serve.connections import headers_bounded_protocol

    if not max_connections > 0:
        raise typer.BadParameter(f"must be greater than 0, got {max_connections}", param_hint="--max-connections")
    try:  # the server's limits, checked where the server reads them, before the model loads
        config = ServeConfig(str(model_path) if model_path else None, runtime, max_upload_mb, max_concurrency,
                             max_prompts=max_prompts, max_pixels=max_pixels, max_tiles=max_tiles,
                             request_timeout_s=request_timeout, body_timeout_s=body_timeout, max_rules=max_rules,
                             pipeline=pipeline, precision=precision, enlarge_tiles=enlarge_tiles)
    except SettingError as exc:
        raise typer.BadParameter(exc.reason, param_hint=OPTION_OF.get(exc.field, exc.field)) from None
    if not 0 <= port <= 65535:
        raise typer.BadParameter(f"must be in 0..65535, got {port}", param_hint="--port")
    try:
        seg = load_segmenter(model_path, model, runtime, tile=tile, prompt_gate=prompt_gate, pipeline=pipeline,
                             precision=precision, enlarge_tiles=enlarge_tiles and bool(tile))  # (else: requests' tiles)
        check_text_encoder(seg)  # before the server starts: any prompt may come
    except KeyboardInterrupt:  # Ctrl-C or a stop signal while the model loads: nothing was served, nothing written
        tagged("interrupted:", "yellow", "stopped before the server started")
        raise typer.Exit(code=INTERRUPTED_CODE) from None
    _check_address(host, port)  # uvicorn said "startup complete", then failed to bind (exit 3)
    app_ = create_app(config, seg)
    try:
        with _hangup_as_terminate():
            uvicorn.run(app_, host=host, port=port, http=headers_bounded_protocol(body_timeout),
                        limit_concurrency=max_connections)
    except KeyboardInterrupt:  # Ctrl-C or a stop signal, raised again by uvicorn once it has shut down: a normal end
        pass


@contextmanager
def _hangup_as_terminate() -> Iterator[None]:
    """SIGHUP (the terminal closed, ``kill -HUP``) stops the server as SIGTERM does: uvicorn shuts down gracefully on
    SIGINT and SIGTERM only, and a SIGHUP raised ``KeyboardInterrupt`` into its event loop (each request in flight
    cancelled: a 500 and a traceback). Where SIGHUP is ignored (``nohup``) or handled by whatever runs the command, it
    is left alone (:func:`~drywallqa.utils.signals.stop_signals_as_interrupt`)."""
    hangup = getattr(signal, "SIGHUP", None)
    if (hangup is None or threading.current_thread() is not threading.main_thread()
            or not isinstance(signal.getsignal(hangup), InterruptOnStop)):
        yield
        return
    before = signal.signal(hangup, lambda signum, frame: signal.raise_signal(signal.SIGTERM))
    try:
        yield
    finally:
        signal.signal(hangup, before)


def _check_address(host: str, port: int) -> None:
    """``host:port`` can be listened on (as uvicorn binds it: SO_REUSEADDR): a port another server holds, an address
    this machine does not have, a port below 1024 without the right are said before the server starts."""
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise typer.BadParameter(f"cannot resolve {host!r}: {exc}", param_hint="--host") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise typer.BadParameter(f"cannot listen on {host}:{port}: {exc.strerror or exc} (another server on that port? "
                                     "choose another with --port)", param_hint="--port / --host") from None
