"""FastAPI app: ``POST /v1/segment``, ``GET /v1/models``, ``GET /v1/examples``, ``GET /healthz``, ``/docs`` and a web
page at ``/``.

The model is loaded once when the app is made. Every request is bounded before it costs anything:
the upload's size while it streams in (413 as soon as it passes ``max_upload_mb``, chunked or not), the
time its body takes to arrive (408 after ``body_timeout_s``, the connection closed), the form's end (400 for a
body cut short, not a field said to be missing), its text fields' bytes (422 for one that is no UTF-8), the photo's
pixels before they are decoded (413), the number of tiles a ``tile`` value would cut it into (422), each
parameter's range (422), and the time it may take (503 with ``Retry-After`` after ``request_timeout_s``).
At most ``max_concurrency`` requests are segmented at a time; one more is answered 429 at once rather
than queued without bound (before its photo is uploaded where it asks ``Expect: 100-continue``). Nothing a client sends is answered 500.
"""

from __future__ import annotations

import asyncio
import base64
import codecs
import io
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import numpy as np
from fastapi import Depends, FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import UploadFile as FormFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import parse_options_header
from starlette.routing import Route
from PIL import Image
from pydantic import StringConstraints
from typing_extensions import Annotated, Literal
try:
    from python_multipart import MultipartParser
    from python_multipart.exceptions import FormParserError
except ModuleNotFoundError:  # pragma: no cover - python-multipart before 0.0.13, as Starlette imports it
    from multipart import MultipartParser
    from multipart.exceptions import FormParserError

from .. import __version__
from ..engine.batch import mask_slug
from ..engine.segmenter import (LABEL_SHAPE_CHOICES, OLD_BACKENDS, RECORD_BESIDE, MapsNotFinite, Segmenter,
                                validate_prompts)
from ..engine.tiling import TiledSegmenter
from ..measures import MAX_MM_PER_PX, MIN_MM_PER_PX
from ..rules import flags, parse_rules
from ..text.prompts import MAX_PROMPT_CHARS, check_prompt
from ..utils.image_io import DEFAULT_MAX_PIXELS, ImageReadError, ImageTooLargeError, decode_image
from ..utils.plugins import plugin_failures_hidden
from ..utils.slug import file_stem
from .answer import SegmentAnswer
from .config import ServeConfig

PAGE = Path(__file__).with_name("page.html")
DEFAULT_SUGGESTIONS = ("segment crack", "segment taping area")
logger = logging.getLogger(__name__)


OLD_RUNTIME_NAMES = {name: old for old, (kind, name) in OLD_BACKENDS.items() if kind == "runtime"}  # torch -> embedded


class UploadTooLarge(HTTPException):
    def __init__(self, limit_mb: float):
        super().__init__(status_code=413, detail=f"upload larger than {limit_mb:g} MB: send a smaller photo (resize it, or "
                                                 "save it as JPEG); whoever runs the server can raise the limit "
                                                 "(drywallqa serve --max-upload-mb)")


class BodyTimeout(HTTPException):
    def __init__(self, timeout_s: float):
        super().__init__(status_code=408,
                         detail=f"the request body took longer than the server's limit of {timeout_s:g} s to arrive "
                                "(a slow connection, or an upload cut short); send it again, and over a slow connection "
                                "a smaller photo")


class MalformedForm(HTTPException):
    def __init__(self, detail: str):
        super().__init__(status_code=400, detail=detail)


class FieldNotText(HTTPException):
    def __init__(self, detail: str):
        super().__init__(status_code=422, detail=detail)


FORM_CUT_SHORT = ("the request body ended before the multipart form did (no closing boundary): the upload was cut "
                  "short, or the form is malformed, so fields or the photo may be missing; send the request again")
BODY_CUT_SHORT = "the request body ended before its Content-Length: it was cut short; send the request again"
BUILD_THE_FORM = ("let the HTTP client build the form (curl -F image=@photo.jpg -F prompts='segment crack'; requests "
                  "files=; a browser's FormData) rather than writing the body or its Content-Type header by hand")
NOT_THE_FORM = ("the request body is not the multipart form its Content-Type header announces (no part starts with "
                f"its boundary): {BUILD_THE_FORM}")
# what Starlette's form parser says, and what the client is told instead
FORM_PARSER_ERRORS = {
    "Invalid multipart data.": f"the multipart form is malformed (a boundary or a part's headers cannot be read): "
                               f"{BUILD_THE_FORM}",
    "Missing boundary in multipart.": f"the Content-Type multipart/form-data names no boundary: {BUILD_THE_FORM}",
}


class FormEnd:
    """Whether a multipart body, read chunk by chunk, opened with its boundary and reached its closing boundary
    (``--BOUNDARY--``): a body that ends before it was cut short (or is malformed), and its form would be read as
    the fields that happened to arrive whole (a photo missing: a misleading 422)."""

    def __init__(self, boundary: bytes):
        self.opening, self.closing = b"--" + boundary, b"--" + boundary + b"--"
        self.tail, self.opened, self.closed = b"", False, False

    def feed(self, chunk: bytes) -> None:
        if self.closed or not chunk:
            return
        text = self.tail + chunk
        self.opened = self.opened or self.opening in text
        self.closed = self.closing in text
        self.tail = text[-len(self.closing):]

    def problem(self) -> str | None:
        """Why the form that arrived is no whole form, or None."""
        return None if self.closed else FORM_CUT_SHORT if self.opened else NOT_THE_FORM


FILE_FIELDS = frozenset({"image"})  # the form's file fields: never checked as text


class FormText:
    """Whether the text fields of a multipart body, read chunk by chunk as it streams in (python-multipart, the parser
    Starlette reads the form with), are text: Starlette reads a field whose bytes are no UTF-8 as Latin-1 (``segment
    \\xff crack`` as "segment ÿ crack", asked as that prompt), and once read, a Latin-1 "ÿ" cannot be told from a UTF-8
    one, so the bytes are checked here. UTF-8 unless the Content-Type names another charset Python knows (Starlette
    reads the fields in that one). A field's name is checked too; a file's contents are not. A body the parser cannot
    read is left to Starlette's parser, which answers it."""

    def __init__(self, boundary: bytes, charset: str):
        self.charset, self.problem = charset, None
        self._header, self._value, self._disposition = b"", b"", b""
        self._name, self._decoder = "", None
        self._parser = MultipartParser(boundary, {
            "on_part_begin": self._begin, "on_header_field": self._header_field, "on_header_value": self._header_value,
            "on_header_end": self._header_end, "on_headers_finished": self._headers_finished,
            "on_part_data": self._data, "on_part_end": self._end})

    def feed(self, chunk: bytes) -> None:
        if self._parser is None or self.problem or not chunk:
            return
        try:
            self._parser.write(chunk)
        except FormParserError:  # malformed: Starlette's parser says so (400)
            self._parser = None

    def _not_text(self, what: str) -> None:
        label = "UTF-8" if self.charset == "utf-8" else f"{self.charset} (the charset its Content-Type names)"
        self.problem = self.problem or (f"{what}: not {label} text; send the form's text fields in UTF-8 (as curl -F, "
                                        "Python requests and a browser's FormData do)")

    def _begin(self) -> None:
        self._disposition, self._name, self._decoder = b"", "", None

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        if self._header.lower() == b"content-disposition":
            self._disposition = self._value
        self._header, self._value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        try:
            self._name = options.get(b"name", b"").decode(self.charset)
        except UnicodeError:  # UnicodeDecodeError, or a codec that decodes nothing ("undefined", punycode)
            return self._not_text("a form field's name")
        if b"filename" not in options and self._name and self._name not in FILE_FIELDS:  # a text field (Starlette: a
            # file is a part with a file name); the photo sent without one is the endpoint's to answer ("send the photo
            # as a file upload"), and so is a part with no name
            self._decoder = codecs.getincrementaldecoder(self.charset)()

    def _data(self, data: bytes, start: int, end: int) -> None:
        self._read(data[start:end])

    def _end(self) -> None:
        self._read(b"", final=True)

    def _read(self, data: bytes, final: bool = False) -> None:
        if self._decoder is None:
            return
        try:
            self._decoder.decode(data, final)
        except UnicodeError:  # UnicodeDecodeError, or a codec that decodes nothing ("undefined", punycode)
            self._decoder = None
            self._not_text(self._name[:40] or "a form field")


def form_readers(content_type: bytes | None) -> tuple[FormEnd, FormText] | tuple[None, None]:
    """A :class:`FormEnd` and a :class:`FormText` for a multipart/form-data Content-Type with a boundary, else
    ``(None, None)`` (the form parser answers for a missing boundary, no other body is a form, and a URL-encoded one
    is answered 415 by the one endpoint that reads a form). Raises :class:`MalformedForm` for a boundary the form
    parser cannot read."""
    kind, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        return None, None
    try:
        codec = codecs.lookup(params.get(b"charset", b"utf-8").decode("latin-1"))
        charset = codec.name if getattr(codec, "_is_text_encoding", True) else "utf-8"  # not "base64", "zlib"
    except LookupError:  # Starlette reads the fields as Latin-1 then: checked as UTF-8, what a client sends
        charset = "utf-8"
    try:
        return FormEnd(boundary), FormText(boundary, charset)
    except FormParserError as exc:  # a boundary longer than the parser reads (256 bytes; RFC 2046 allows 70): it was
        # a 500, Starlette's parser failing on it too
        raise MalformedForm(f"the multipart form's boundary cannot be read ({exc}; RFC 2046 allows 70 characters): "
                            f"{BUILD_THE_FORM}") from None


class BodyLimits:
    """ASGI middleware: a request body is counted while it streams in and refused (413) the moment it
    passes ``limit`` bytes, whether or not it declared a Content-Length, so no upload is spooled to the end;
    and it must have arrived whole ``timeout_s`` seconds after the request's headers, or it is refused (408),
    so a client that trickles it in (a byte every few seconds) holds nothing for longer. A response sent
    before the body has arrived (a 408, a 413, a 404) closes an HTTP/1 connection: the rest is not read.
    A body read to its end that is shorter than its Content-Length, or a multipart form without its closing
    boundary, is refused (400: cut short) rather than read as the fields that arrived; a text field that is no
    UTF-8 (:class:`FormText`) is refused (422, naming it) rather than read as Latin-1."""

    def __init__(self, app, limit: int, limit_mb: float, timeout_s: float):
        self.app, self.limit, self.limit_mb, self.timeout_s = app, limit, limit_mb, timeout_s

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {}
        for name, value in scope.get("headers") or []:  # the first of a header sent twice, as Starlette reads it: the
            headers.setdefault(name.lower(), value)  # last one's Content-Type left the form unchecked (Latin-1 read)
        length = headers.get(b"content-length", b"")
        has_body = length.strip(b"0") != b"" or b"transfer-encoding" in headers
        try:
            form, text = form_readers(headers.get(b"content-type"))
        except MalformedForm as exc:  # answered before the body is read, as a declared length over the limit is
            form = text = None
            refused = exc
        else:
            refused = UploadTooLarge(self.limit_mb) if length.isdigit() and int(length) > self.limit else None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        received = 0
        arrived = started = False

        async def bounded_receive():
            nonlocal received, arrived
            if arrived:  # what follows the body is the wait for a disconnect, which has no limit
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0))
            except asyncio.TimeoutError:
                raise BodyTimeout(self.timeout_s) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise UploadTooLarge(self.limit_mb)
                if form is not None:
                    form.feed(message.get("body", b""))
                    text.feed(message.get("body", b""))
                    if text.problem:
                        raise FieldNotText(text.problem)
            arrived = message["type"] != "http.request" or not message.get("more_body", False)
            if arrived and message["type"] == "http.request":  # the whole body is here: is it whole?
                if length.isdigit() and received < int(length):
                    raise MalformedForm(BODY_CUT_SHORT)
                if received and form is not None and form.problem():
                    raise MalformedForm(form.problem())
            return message

        async def closing_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                sent = list(message.get("headers", []))
                if (has_body and not arrived and scope.get("http_version", "1.1").startswith("1")
                        and not any(name.lower() == b"connection" for name, _ in sent)):
                    message = {**message, "headers": [*sent, (b"connection", b"close")]}
            await send(message)

        if refused is not None:
            return await self._refuse(scope, closing_send, refused)
        try:
            await self.app(scope, bounded_receive, closing_send)
        except (UploadTooLarge, BodyTimeout, MalformedForm, FieldNotText) as exc:
            if not started:
                await self._refuse(scope, closing_send, exc)

    @staticmethod
    async def _refuse(scope, send, exc: HTTPException):
        await JSONResponse({"detail": exc.detail}, status_code=exc.status_code)(scope, None, send)


def _without_slash(request: Request, app: FastAPI) -> bool:
    """Whether the request's path is one of the app's routes (any method; not a mounted folder such as /examples)
    with trailing slashes added."""
    path = request.url.path
    if not path.endswith("/") or not path.rstrip("/"):
        return False
    return any(isinstance(route, Route) and route.path == path.rstrip("/") for route in app.routes)


BUSY = "the server is busy; retry shortly"


class BusyBeforeUpload:
    """ASGI middleware: a ``POST /v1/segment`` that waits for the server's leave before it sends its body
    (``Expect: 100-continue``, as curl asks for a large upload) is answered 429 at once while every slot is busy, its
    photo never uploaded. Any other request is told once its body has arrived (the route's own check): a client that
    sends its body at once can lose an answer given before it has sent it, to the connection's reset."""

    def __init__(self, app, slots: asyncio.Semaphore, path: str = "/v1/segment"):
        self.app, self.slots, self.path = app, slots, path

    async def __call__(self, scope, receive, send):
        if (scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == self.path and self.slots.locked()
                and any(name.lower() == b"expect" and value.strip().lower() == b"100-continue"
                        for name, value in scope.get("headers") or [])):
            return await JSONResponse({"detail": BUSY}, status_code=429, headers={"Retry-After": "1"})(scope, receive,
                                                                                                       send)
        await self.app(scope, receive, send)


class HeadAsGet:
    """ASGI middleware: HEAD is answered wherever GET is, with GET's status and headers and no body (RFC 9110: a
    server answers both); a FastAPI route answers only the methods it lists (HEAD /v1/models was a 405)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "HEAD":
            return await self.app(scope, receive, send)

        async def without_body(message):
            await send({**message, "body": b""} if message["type"] == "http.response.body" else message)

        await self.app({**scope, "method": "GET"}, receive, without_body)


RANGE_ADVICE = "ask for bytes=START-END within the file, or leave the Range header out for the whole photo"


class ExampleFiles(StaticFiles):
    """The sample photos (``/examples/...``), whose answers to a Range header they cannot serve are the server's JSON
    errors (``{"detail": ...}``): Starlette answers a malformed one with a plain-text 400 and one that starts past the
    file's end with an empty 416 (its Content-Range header kept)."""

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not any(name.lower() == b"range" for name, _ in scope.get("headers") or []):
            return await super().__call__(scope, receive, send)
        held = {}

        async def json_errors(message):
            if message["type"] == "http.response.start" and message["status"] in (400, 416):
                held.update(start=message, body=b"")  # answered below, once its plain-text body has come
                return
            if "start" not in held:
                return await send(message)
            held["body"] += message.get("body", b"")
            if message.get("more_body", False):
                return
            status = held["start"]["status"]
            said = held["body"].decode("latin-1").strip().rstrip(".").removeprefix("Range header: ")
            said = said[:1].lower() + said[1:]  # Starlette's reason: "Malformed range header.", "Range header: ..."
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in held["start"]["headers"]
                       if k.lower() == b"content-range"}
            size = headers.get("content-range", "").rpartition("/")[2]
            detail = (f"the Range header asks for bytes past the end of the file ({size} bytes): {RANGE_ADVICE}"
                      if status == 416 else f"the Range header cannot be served ({said or 'malformed'}): {RANGE_ADVICE}")
            await JSONResponse({"detail": detail}, status_code=status, headers=headers)(scope, receive, send)

        await super().__call__(scope, receive, json_errors)


NOT_FOUND = ("no such path: the API is POST /v1/segment, GET /v1/models, GET /v1/examples and GET /healthz (described "
             "at /docs and /openapi.json); the web page is at /")
NO_EXAMPLE = "no such example photo: GET /v1/examples lists them"


def encode_mask(mask: np.ndarray, fmt: str) -> dict:
    if fmt == "png":
        buf = io.BytesIO()
        Image.fromarray(mask.astype(np.uint8) * 255).save(buf, format="PNG")
        return {"format": "png", "base64": base64.b64encode(buf.getvalue()).decode()}
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"format": "coco_rle", "size": list(rle["size"]), "counts": rle["counts"].decode()}


TOO_MANY_PIXELS = ("send a smaller photo: resize it, or set the camera to a lower resolution; whoever runs the server "
                   "can raise the limit with drywallqa serve --max-pixels")


def read_upload(data: bytes, max_pixels: int | None = DEFAULT_MAX_PIXELS, notes: list | None = None) -> np.ndarray:
    """The uploaded bytes as ``(H, W, 3)`` uint8 RGB; 413 above ``max_pixels`` (saying what the client can do, not
    the command line's option and the Python argument), 400 if not an image. What was read otherwise than the file
    holds (only the first frame of an animated GIF, ...) is added to ``notes``: the client is told, not only the log."""
    if not data:  # it would be "not one of the formats read"
        raise HTTPException(status_code=400, detail="the upload is empty (0 bytes): send the photo's file "
                                                    "(curl -F image=@photo.jpg)")
    try:
        return decode_image(io.BytesIO(data), "the upload", max_pixels, advice=TOO_MANY_PIXELS, notes=notes)
    except ImageTooLargeError as exc:
        raise HTTPException(status_code=413, detail=str(exc)) from exc
    except ImageReadError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc


def model_description(seg: Segmenter, enlarge_tiles: bool = False) -> dict:
    """What ``/v1/models`` says of the loaded segmenter (:meth:`Segmenter.describe`): the input size it runs at,
    not the trained one. ``enlarge_tiles``: the server's (:attr:`ServeConfig.enlarge_tiles`), which a request's
    ``tile`` follows where the server does not tile."""
    described = seg.describe()
    keys = ("runtime", "pipeline", "model_type", "threshold", "prompt_thresholds", "text_encoder", "image_size",
            "scales", "tta", "tile", "tile_enlarge", "version")
    out = {k: described.get(k) for k in keys}
    out["tile_enlarge"] = bool(out["tile_enlarge"] or enlarge_tiles)  # a tile smaller than the input size enlarged
    out["scales"] = out["scales"] or []
    out["tta"] = bool(out["tta"])
    out["prompt_thresholds"] = out["prompt_thresholds"] or {}
    out["precision"] = described.get("precision", "float32")
    out["backend"] = out["pipeline"] or OLD_RUNTIME_NAMES.get(out["runtime"], out["runtime"])  # the 0.4 field, deprecated
    return {**out, "suggested_prompts": suggested_prompts(seg)}


def suggested_prompts(seg: Segmenter) -> list[str]:
    """The prompts the model was tuned for (its per-prompt thresholds), canonical ones first; else the defaults.
    A prompt that serves another as its box adapter ("bounding box of taped joint") is no suggestion: it still
    works when asked, but its masks are boxes."""
    described = seg.describe()
    adapters = set()
    for options in (described.get("postprocess") or {}).values():
        for option in options if isinstance(options, list) else [options]:
            if isinstance(option, dict) and isinstance(option.get("prompt"), str):
                adapters.add(option["prompt"])
    known = [p for p in described.get("prompt_thresholds") or {} if p not in adapters]
    first = [p for p in DEFAULT_SUGGESTIONS if p in known] if known else list(DEFAULT_SUGGESTIONS)
    return first + [p for p in known if p not in first]


# what a request's body may hold beyond its photo's --max-upload-mb: the other form fields (prompts, rules) and the
# parts' headers (a photo of exactly the limit was refused 413: the whole body was held to it)
FORM_ALLOWANCE = 2**16  # 64 KiB: some 200 prompts of 300 characters
# the most characters a prompt field may hold as sent: its MAX_PROMPT_CHARS as read and the spaces and line ends
# around them. A longer one is refused by the form's own check, before check_prompt reads it character by character
# in the event loop (a prompt of 1 MB, within the upload limit, held it for half a second, /healthz too)
PROMPT_FIELD_CHARS = 4 * MAX_PROMPT_CHARS


def create_app(config: ServeConfig | None = None, segmenter: Segmenter | None = None) -> FastAPI:
    """The FastAPI app of ``drywallqa serve``: the endpoints of docs/serving.md and the web page at ``/``.

    Args:
        config: limits, model and options (default: :class:`ServeConfig`'s defaults, the shipped model).
        segmenter: a segmenter already loaded (default: ``Segmenter.load`` of ``config.model_path``).
    """
    config = config or ServeConfig()
    seg = segmenter or Segmenter.load(config.model_path, runtime=config.runtime, pipeline=config.pipeline,
                                      precision=config.precision)
    if config.enlarge_tiles and isinstance(seg, TiledSegmenter) and not seg.enlarge:  # the server's own tiles too
        seg = TiledSegmenter.retiled(seg, enlarge=True)
    slots = asyncio.Semaphore(config.max_concurrency)
    # a thread per slot: the event loop's default executor has min(32, CPUs + 4) threads (6 on 2 CPUs), and a request
    # let in beyond them waited in its queue, unstarted, until its time limit answered it 503
    workers = ThreadPoolExecutor(max_workers=config.max_concurrency, thread_name_prefix="drywallqa-segment")
    limit = int(config.max_upload_mb * 2**20)
    app = FastAPI(title="drywallqa", version=__version__, docs_url=None, redoc_url=None, redirect_slashes=False,
                  description="Prompted segmentation for construction QA: photo + text prompts -> masks + QA measures.")
    app.add_middleware(BusyBeforeUpload, slots=slots)  # inside BodyLimits: its early answer closes the connection
    app.add_middleware(BodyLimits, limit=limit + FORM_ALLOWANCE, limit_mb=config.max_upload_mb,  # the photo: below
                       timeout_s=config.body_timeout_s)
    app.add_middleware(HeadAsGet)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):  # where and what, never the input echoed back
        errors = []
        for raw in exc.errors():
            e = {k: raw[k] for k in ("loc", "msg", "type") if k in raw}
            loc = tuple(e.get("loc", ()))
            if loc == ("body", "image") and e.get("type") != "missing":  # a text field, not a file
                e["msg"] = NOT_A_FILE
            elif loc[:1] == ("body",) and isinstance(raw.get("input"), FormFile):  # a file, not a text field
                e["msg"] = NOT_TEXT
            elif loc[:2] == ("body", "prompts") and e.get("type") == "string_pattern_mismatch":  # not pydantic's pattern
                e["msg"] = "a prompt must hold a visible character, e.g. 'segment crack'"
            elif loc[:2] == ("body", "prompts") and e.get("type") == "string_too_long":  # PROMPT_FIELD_CHARS
                e["msg"] = f"a prompt may have at most {MAX_PROMPT_CHARS} characters"
            errors.append(e)
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        detail = exc.detail
        if exc.status_code == 400 and str(detail).startswith(("Part exceeded maximum size", "Field exceeded maximum size")):
            # Starlette's form parsers (multipart, URL-encoded), which do not name the field
            detail = (f"a form field that is not a file upload is over 1 MB (a prompt has at most {MAX_PROMPT_CHARS} "
                      f"characters, a rule 500): {NOT_A_FILE}")
        elif exc.status_code == 400:
            detail = FORM_PARSER_ERRORS.get(detail, detail)
        if isinstance(detail, str) and (hidden := plugin_failures_hidden(detail)) != detail:  # a name of a plugin
            # that failed to load: the unknown name and the known ones answered, the plugin's exception (local paths)
            # logged alone
            logger.warning("%s answered %d: %s", request.url.path, exc.status_code, detail)
            detail = hidden
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 404 and detail == "Not Found" and _without_slash(request, app):
            # Starlette's own redirect (redirect_slashes) wrote its Location from the request's Host header: a URL on
            # whatever host a client named. This one is relative (RFC 9110), so the client stays where it was.
            path = request.url.path.rstrip("/")
            location = path + (f"?{request.url.query}" if request.url.query else "")
            return JSONResponse({"detail": f"this path is {path} (no trailing slash)"}, status_code=307,
                                headers={"Location": location})
        if exc.status_code == 404 and detail == "Not Found":  # Starlette's, for a path no route or file has
            detail = NO_EXAMPLE if request.url.path.startswith("/examples/") else NOT_FOUND
        elif exc.status_code == 405 and "Allow" in headers:  # HEAD is answered wherever GET is (HeadAsGet)
            allowed = [m.strip() for m in headers["Allow"].split(",")]
            allowed += ["HEAD"] if "GET" in allowed and "HEAD" not in allowed else []
            headers["Allow"] = ", ".join(allowed)
            detail = f"this path answers {', '.join(allowed)} only"
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=headers or None)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):  # a bug of ours: logged, answered in JSON, server stays up
        logger.exception("unexpected error on %s", request.url.path)
        return JSONResponse({"detail": f"internal error ({type(exc).__name__})"}, status_code=500)

    try:  # Swagger UI served by the package itself, so /docs works with no internet
        import swagger_ui_bundle

        app.mount("/static/swagger", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="swagger")

        @app.get("/docs", include_in_schema=False)
        def docs() -> HTMLResponse:
            return get_swagger_ui_html(openapi_url="/openapi.json", title="drywallqa API",
                                       swagger_js_url="/static/swagger/swagger-ui-bundle.js",
                                       swagger_css_url="/static/swagger/swagger-ui.css", swagger_favicon_url="")
    except ImportError:  # pragma: no cover - a dependency of the package; without it /openapi.json still works
        pass

    examples = Path(config.examples_dir) if config.examples_dir else None
    if examples is not None and examples.is_dir():
        app.mount("/examples", ExampleFiles(directory=examples), name="examples")

    @app.get("/v1/examples")
    def list_examples() -> dict:
        """Sample photos to try (the web page's gallery)."""
        names = sorted(p.name for p in examples.glob("*.jpg")) if examples is not None and examples.is_dir() else []
        # each url a URL: "wall #3.jpg" was sent as /examples/wall (404)
        return {"examples": [{"name": n, "url": f"/examples/{quote(n)}"} for n in names]}

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/v1/models")
    def models() -> dict:
        # the upload limit, for the page to refuse a photo over it before sending it (it uploaded 20 MB over a phone's
        # link to be told 413)
        return {"version": __version__, "models": [model_description(seg, config.enlarge_tiles)], "limits": {"max_upload_mb": config.max_upload_mb}}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return PAGE.read_text()

    error = {"content": {"application/json": {"schema": {"type": "object", "properties": {"detail": {}}}}}}
    errors = {
        400: {"description": "The upload is not a readable image, or the form was cut short or is malformed.", **error},
        408: {"description": f"The request body took longer than {config.body_timeout_s:g} s to arrive.", **error},
        413: {"description": f"The upload is larger than {config.max_upload_mb:g} MB or has more than "
                             f"{config.max_pixels:,} pixels.", **error},
        415: {"description": "The body is not a multipart form (multipart/form-data).", **error},
        422: {"description": "Missing or empty prompts, or a bad option.", **error},
        429: {"description": "All segmentation slots are busy; retry after a second.", **error},
        503: {"description": f"The request took longer than {config.request_timeout_s:g} s.", **error},
    }

    answered = {200: {"model": SegmentAnswer, "description": "The photo's masks and QA measures per prompt (docs/serving.md, "
                                                            "'The answer and results.json')."}}
    # the answer described (answer.py), not checked: response_model=None, or the dict annotation would be the schema
    @app.post("/v1/segment", responses={**answered, **errors}, response_model=None,
              dependencies=[Depends(multipart_form)])
    async def segment(
        request: Request,
        image: UploadFile = File(..., description="The photo (JPEG, PNG, ...)."),
        # check_prompt counts a prompt's characters as read (stripped of surrounding spaces, its line ends as "; "), as
        # the CLI and Python do; the field's raw length refused a prompt of 300 characters with a space around it. The
        # field as sent is bounded more loosely (PROMPT_FIELD_CHARS): the body's own bound is the photo's
        prompts: list[Annotated[str, StringConstraints(pattern=r"\S", max_length=PROMPT_FIELD_CHARS)]] = Form(
            ..., min_length=1, description=(
                "Text prompts, each with a visible character and at most "
                f"{MAX_PROMPT_CHARS} characters once stripped of surrounding spaces (repeat the field for several)."),
        ),
        mask_format: str = Form("png", description="png (base64) or coco_rle."),
        include_probabilities: bool = Form(False, description="Also return a 0..255 probability PNG per prompt."),
        mm_per_px: float | None = Form(None, ge=MIN_MM_PER_PX, le=MAX_MM_PER_PX, allow_inf_nan=False,
                                       description=("Scale in millimetres per pixel of the photo at its own size "
                                                    "(not the model's input size), for QA measures in millimetres.")),
        tile: int | None = Form(None, ge=32, le=16384, description=(
            "Predict a photo wider or taller than this many pixels on overlapping tiles of this size: for photos of a "
            f"larger stretch of wall than one training photo showed (overrides the server's --tile; at most "
            f"{config.max_tiles} tiles; a tile smaller than the model's input size is seen at its own size"
            f"{', enlarged to the input size (the server runs with --enlarge-tiles)' if config.enlarge_tiles else ''}).")),
        min_confidence: float | None = Form(None, ge=0, le=1, allow_inf_nan=False, description=(
            "Empty the masks whose confidence (the estimated IoU of the mask, 0..1, in each result) is lower.")),
        label_shape: Literal[LABEL_SHAPE_CHOICES] | None = Form(None, description=(  # the enum of the OpenAPI page
            "box: the masks of prompts trained on box labels (taping) as the boxes chosen for scoring against such "
            "labels; left out: the mask as the model sees it.")),
        flag: list[Annotated[str, StringConstraints(max_length=500)]] = Form([], max_length=config.max_rules, description=(
            "QA rule 'PROMPT: MEASURE OP NUMBER' (repeat the field for several), e.g. "
            "'segment crack: max_width_mm > 0.3'; the rules the photo breaks come back under flags.")),
        preview: bool = Form(False, description=(
            "Also return the photo as the server read it (upright, RGB) as a JPEG, base64, in image.jpeg_base64: for a "
            "client that cannot decode the photo's format itself (HEIC outside Safari, TIFF) and draws the masks on "
            f"it. At the masks' size; a photo with a side longer than {JPEG_MAX_SIDE:,} px (a JPEG's limit) is scaled "
            "down to fit, its aspect kept: image.jpeg_width and image.jpeg_height give the JPEG's size.")),
    ) -> dict:
        check_form_fields(await request.form(), request.query_params)  # the form was parsed already: read again for free
        sent = prompts
        try:
            prompts = validate_prompts(prompts)
        except ValueError as exc:  # the reason without the prompt quoted: no input is echoed back
            raise HTTPException(status_code=422, detail=refused_field("prompts", sent, check_prompt, exc)) from exc
        notes = merged_prompts(sent, prompts)
        try:
            rules = parse_rules(flag, prompts, mm_per_px)
        except ValueError as exc:
            raise HTTPException(status_code=422, detail=refused_field(
                "flag", flag, lambda rule: parse_rules([rule], prompts, mm_per_px), exc)) from exc
        if len(prompts) > config.max_prompts:
            raise HTTPException(status_code=422, detail=f"at most {config.max_prompts} prompts per request")
        if mask_format not in ("png", "coco_rle"):
            raise HTTPException(status_code=422, detail="mask_format must be png or coco_rle")
        data = await image.read(limit + 1)
        if len(data) > limit:
            raise UploadTooLarge(config.max_upload_mb)
        if slots.locked():
            raise HTTPException(status_code=429, detail=BUSY, headers={"Retry-After": "1"})
        await slots.acquire()
        t0 = time.perf_counter()
        loop = asyncio.get_running_loop()
        job = loop.run_in_executor(workers, _segment_and_describe, seg, data, prompts, tile, config, label_shape,
                                   min_confidence, mm_per_px, mask_format, include_probabilities, rules, t0, preview,
                                   notes)
        job.add_done_callback(lambda _: slots.release())  # the slot is held until the work really ends
        try:  # measures and encodings run in the worker too: under the time limit and the slot, off the event loop
            answer = await asyncio.wait_for(asyncio.shield(job), timeout=config.request_timeout_s)
        except asyncio.TimeoutError:
            raise HTTPException(status_code=503, headers={"Retry-After": "5"},
                                detail=f"segmenting took longer than the server's limit of {config.request_timeout_s:g} s; "
                                       "send a smaller photo, fewer prompts or a larger tile") from None
        return {**answer, **file_names(image.filename, prompts)}

    return app


def multipart_form(request: Request) -> None:
    """415 for a /v1/segment request whose body is no multipart form (JSON, a URL-encoded form, none): its fields
    would be read as missing (422 "image: Field required" for a JSON body that holds one), which says nothing of
    the form it must be. Checked before the fields."""
    kind, _ = parse_options_header(request.headers.get("content-type"))
    if kind != b"multipart/form-data":
        this = ("a body without a Content-Type" if not kind else "a JSON body" if kind.endswith(b"json") else
                "a URL-encoded form, which carries no file" if kind == b"application/x-www-form-urlencoded" else
                "the Content-Type this request names")
        raise HTTPException(status_code=415, detail=f"/v1/segment reads a multipart form (multipart/form-data), not "
                                                    f"{this}: send the photo as a file and each prompt as a field, "
                                                    "e.g. curl -F image=@photo.jpg -F prompts='segment crack' (Python "
                                                    "requests: files={'image': ...}, data={'prompts': [...]}; a "
                                                    "browser: FormData)")


SINGLE_FIELDS = ("image", "mask_format", "include_probabilities", "mm_per_px", "tile", "min_confidence", "label_shape",
                 "preview")
FORM_FIELDS = (*SINGLE_FIELDS, "prompts", "flag")
NOT_A_FILE = "send the photo as a file upload, with a file name (curl -F image=@photo.jpg)"
NOT_TEXT = "a file upload where text is expected: send this field as text (curl --form-string NAME=VALUE), not a file"


NUMBER_FIELDS = ("mm_per_px", "tile", "min_confidence")


def check_form_fields(form, query=()) -> None:
    """422 for a field /v1/segment does not know (a misspelt ``mm_per_pixel`` would be ignored: measures in px), for
    a single-valued field sent twice (which value counts would be a guess), for any query parameter (the options
    are read from the form only: ``?mm_per_px=0.5`` would be ignored as silently) and for a JSON list sent as one
    ``prompts`` or ``flag`` field (``["segment crack", "segment taping area"]`` would be asked as one prompt, read as
    whichever of the two it is nearest: one mask where two were asked)."""
    if query:
        names = sorted(set(query.keys()))
        raise HTTPException(status_code=422, detail=f"query parameter(s) {', '.join(repr(k[:40]) for k in names[:5])}: "
                                                    "/v1/segment reads its options from the form only; send them as "
                                                    f"form fields ({', '.join(FORM_FIELDS)})")
    unknown = sorted(k for k in set(form.keys()) if k not in FORM_FIELDS)
    if unknown:
        raise HTTPException(status_code=422, detail=f"unknown form field(s) {', '.join(repr(k[:40]) for k in unknown[:5])}; "
                                                    f"the fields are {', '.join(FORM_FIELDS)}")
    repeated = [k for k in SINGLE_FIELDS if len(form.getlist(k)) > 1]
    if repeated:
        what = "image" if repeated[0] == "image" else f"{repeated[0]!r} field"
        raise HTTPException(status_code=422, detail=f"send one {what} per request (the form had "
                                                    f"{len(form.getlist(repeated[0]))} {repeated[0]!r} fields)")
    for name in NUMBER_FIELDS:  # Python's own syntax of numbers: "1_0" was read as 10
        if any(isinstance(value, str) and "_" in value for value in form.getlist(name)):
            raise HTTPException(status_code=422, detail=f"{name}: a number such as 0.5, without '_'")
    for name in ("prompts", "flag"):
        if any(_json_list(value) for value in form.getlist(name)):
            raise HTTPException(status_code=422, detail=f"{name}: a JSON list in one field; repeat the field instead, "
                                                        f"one per {'prompt' if name == 'prompts' else 'rule'} "
                                                        f"(curl -F {name}='...' -F {name}='...')")


def refused_field(name: str, values: list[str], check, exc: ValueError) -> str:
    """What a 422 says of a repeated field (``prompts``, ``flag``) whose values ``check`` refuses: the reason, without
    the value quoted (no input is echoed back), led by the field and, where it was sent more than once, the place of
    the first value refused ("flag 3: ...", as the field's other errors are placed): which of eight prompts holds an
    invisible control character, which line of the page's QA rules is wrong, was left to guess."""
    place = ""
    if len(values) > 1:
        for i, value in enumerate(values):
            try:
                check(value)
            except ValueError as refused:
                place, exc = f" {i + 1}", refused
                break
    return f"{name}{place}: {getattr(exc, 'reason', exc)}"


def merged_prompts(sent: list[str], prompts: list[str]) -> tuple[str, ...]:
    """What a client is told where the ``prompts`` answered are not the prompts it ``sent``, one for one: a prompt
    sent again (or again but for spaces or line ends) is answered once, and a result's ``prompt`` is the prompt as
    read (stripped, on one line), so a client pairing results with its prompts by position or by text knows why."""
    repeats, said = len(sent) - len(prompts), []
    if repeats:
        said.append(f"{repeats} of the {len(sent)} prompts sent repeat another (once stripped of surrounding spaces "
                    "and read on one line) and are answered once: one result per prompt, in the order each was first "
                    "sent")
    if any(check_prompt(p) != p for p in sent):  # each was checked already
        said.append("some prompts were read stripped of surrounding spaces or on one line: each result's 'prompt' is "
                    "the prompt as read")
    return tuple(said)


def _json_list(value) -> bool:
    if not isinstance(value, str) or not value.strip().startswith("["):
        return False
    try:
        return isinstance(json.loads(value), list)
    except ValueError:
        return False


def _segment(seg, data: bytes, prompts: list[str], tile: int | None, config: ServeConfig,
             label_shape: str | None = None):
    """Decode and segment one upload (in a worker thread): -> (RGB array, SegmentationResult), its warnings led by
    what reading the photo noted.

    Raises HTTPException: 413 / 400 for the photo, 422 for a tile that cuts it into too many tiles."""
    notes: list[str] = []
    rgb = read_upload(data, config.max_pixels, notes)
    predictor = seg
    if tile or isinstance(seg, TiledSegmenter):  # the server's tile limit, whoever chose the tile
        # and its choice to enlarge a small tile (a request's tile on a server that does not tile was never enlarged)
        predictor = TiledSegmenter.retiled(seg, tile, max_tiles=config.max_tiles, enlarge=config.enlarge_tiles or None)
        try:
            predictor.check_tiles(*rgb.shape[:2], advice="use a larger tile")
        except ValueError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None
    try:
        result = predictor.predict(rgb, prompts, label_shape=label_shape)
    except MapsNotFinite as exc:  # the server's model, not the request: said as such (no prompt echoed), and logged
        logger.error("%s", exc)
        raise HTTPException(status_code=500, detail="the server's model failed: its probability maps hold NaN or "
                                                    "infinity (weights that overflow, or a damaged model)") from None
    except ValueError as exc:  # the photo or a prompt the model cannot take
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    result.warnings = notes + served_warnings(predictor, prompts, result)
    return rgb, result


JPEG_MAX_SIDE = 65_500  # the most pixels a side of a JPEG holds (Pillow: "broken data stream" past it)


def preview_jpeg(rgb: np.ndarray) -> dict:
    """The photo as read, as a JPEG for a client that cannot decode its format: ``jpeg_base64``, ``jpeg_width``,
    ``jpeg_height``. At the masks' size, so that they lie on it as they do on the photo, unless a side is longer than
    a JPEG holds (:data:`JPEG_MAX_SIDE`): then scaled down to fit, its aspect kept (a preview is for display; a
    photo 70,000 px wide was a 500)."""
    shown = Image.fromarray(rgb)
    shown.thumbnail((JPEG_MAX_SIDE, JPEG_MAX_SIDE))  # only ever smaller, at least 1 px a side
    buf = io.BytesIO()
    shown.save(buf, format="JPEG", quality=85)
    return {"jpeg_base64": base64.b64encode(buf.getvalue()).decode(), "jpeg_width": shown.width,
            "jpeg_height": shown.height}


GATE_OFF_SWITCH = "Whoever runs this server can turn the check off (drywallqa serve --no-prompt-gate) for the raw map."


def served_warnings(predictor, prompts: list[str], result) -> list[str]:
    """``result.warnings`` worded for a client of the server: the prompt gate's for a prompt it left unanswered end
    with :data:`GATE_OFF_SWITCH` (whoever runs the server can turn the check off), not with the command line's flag
    and the Python argument, which a web page's user has no use for. Other warnings are kept as they are."""
    refused = [p for p in prompts if (result.concepts.get(p) or {}).get("known") is False]
    if not refused:
        return result.warnings
    matches = predictor.match_prompts(refused)
    worded = dict(zip(predictor.prompt_warnings(matches), predictor.prompt_warnings(matches, GATE_OFF_SWITCH)))
    return [worded.get(w, w) for w in result.warnings]


def _segment_and_describe(seg, data: bytes, prompts: list[str], tile: int | None, config: ServeConfig,
                          label_shape: str | None, min_confidence: float | None, mm_per_px: float | None,
                          mask_format: str, include_probabilities: bool, rules, t0: float, preview: bool = False,
                          notes: tuple = ()) -> dict:
    """:func:`_segment`, then the response body (measures, encoded masks, flags; the photo as read, with
    ``preview``; ``notes`` first among its warnings), all in the worker thread."""
    rgb, result = _segment(seg, data, prompts, tile, config, label_shape)
    result.keep_confident(min_confidence)  # masks not trusted enough for this caller come back empty
    records = {p: result.prompt_entry(p, mm_per_px) for p in prompts}  # results.json's record of each, its keys
    out = [answer_item(p, records[p], encode_mask(result.masks[p], mask_format)) for p in prompts]
    if include_probabilities:
        for p, item in zip(prompts, out):
            buf = io.BytesIO()
            Image.fromarray((result.probabilities[p] * 255).round().astype(np.uint8)).save(buf, format="PNG")
            item["probability_png_base64"] = base64.b64encode(buf.getvalue()).decode()
    # with what tells a mask that says nothing of the photo (emptied, a prompt the gate refused): its rules not checked,
    broken = flags({"prompts": records}, rules, "min_confidence")  # not passed; the emptied named by the field that
    described = {"width": rgb.shape[1], "height": rgb.shape[0]}   # emptied them
    if preview:
        described.update(preview_jpeg(rgb))
    total = 1e3 * (time.perf_counter() - t0)
    return {"image": described, "height": rgb.shape[0], "width": rgb.shape[1],  # (results.json's, beside its photo)
            "results": out, "flags": broken, "warnings": [*notes, *result.warnings],
            "timings_ms": {**result.timings_ms, "total_ms": total}, **({"tiles": result.tiles} if result.tiles else {})}


def file_names(filename: str | None, prompts) -> dict:
    """The names ``drywallqa predict`` gives the files of a photo uploaded as ``filename``, for a client that saves
    them (the page's downloads): ``stem``, the photo's part (:func:`~drywallqa.utils.slug.file_stem` of the name's
    stem; ``photo`` where the upload names none), and ``prompt_files``, each prompt's part as results.json's
    (:func:`~drywallqa.engine.batch.mask_slug`): a mask is ``<stem>__<prompt_files[p]>.png``, as
    :func:`~drywallqa.engine.batch.mask_name` names it. One rule: the page has no SHA-1 to hash a prompt or a
    name with (``crypto.subtle`` is for HTTPS pages only, not a server on the LAN)."""
    return {"stem": file_stem(Path(filename or "").stem) or "photo", "prompt_files": {p: mask_slug(p) for p in prompts}}


# what a prompt's record (segmenter.prompt_record) says beside its QA measures: its taped joints and RECORD_BESIDE; in
# an answer's item, not under its "measures" (the layout of 0.6)
BESIDE_MEASURES = ("joints", *RECORD_BESIDE)


def answer_item(prompt: str, record: dict, mask: dict) -> dict:
    """A prompt's item of the answer from its record as results.json keeps it (:meth:`SegmentationResult.prompt_entry`:
    its QA measures, ``joints``, ``confidence``, ``emptied_below``, ``concept``), every key of it as results.json has
    it (docs/serving.md, "The answer and results.json"), led by ``prompt``, the ``mask`` itself (:func:`encode_mask`,
    where results.json names its file) and the measures again under ``measures``, as 0.6 answered them."""
    measures = {k: v for k, v in record.items() if k not in BESIDE_MEASURES}
    return {"prompt": prompt, "mask": mask, "measures": measures, **record}
