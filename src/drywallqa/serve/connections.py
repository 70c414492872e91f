"""The HTTP/1 protocol ``drywallqa serve`` runs uvicorn with: a request's headers must arrive in time, and every
answer the protocol gives itself is JSON, as the app's are.

uvicorn bounds the time a kept-alive connection may stay idle between requests, but not the time a request's
headers take to arrive: a client that connects and sends nothing, or trickles its headers in (a byte every few
seconds, the classic slowloris), held its connection, and a file descriptor, for as long as it liked; enough of
them and the server accepts no one. The body is bounded by the app (:class:`~drywallqa.serve.app.BodyLimits`).

The protocol leans on uvicorn's h11 protocol's own attributes (``conn``, ``loop``, ``transport``,
``timeout_keep_alive_handler``); where a uvicorn lacks one of them the connection is served as uvicorn serves it,
without the bound, rather than failing.

uvicorn answers two things before the app sees a request, in plain text: a request that is no HTTP (400 "Invalid HTTP
request received.") and one over ``limit_concurrency`` (503 "Service Unavailable"). A client of the API reads
``{"detail": ...}`` from every other answer; these two say the same in that form (the 503 with ``Retry-After``).
"""

from __future__ import annotations

import asyncio
import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


OVER_CONNECTIONS_RETRY_S = 5  # the Retry-After of a request over the connection limit (as a request timed out is told)


async def over_connections(scope, receive, send) -> None:
    """The ASGI app that answers a request over ``limit_concurrency``: 503, JSON, ``Retry-After``, connection closed."""
    body = json.dumps({"detail": "the server holds as many connections as it serves (serve --max-connections); "
                                 "try again in a moment"}).encode()
    await send({"type": "http.response.start", "status": 503,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"retry-after", str(OVER_CONNECTIONS_RETRY_S).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def buffered_limit(conn) -> str:
    """How long an h11 connection lets a request's headers be, in words ("16 KB")."""
    return f"{getattr(conn, '_max_incomplete_event_size', 16 * 1024) // 1024} KB"


def headers_bounded_protocol(timeout_s: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol (``uvicorn.run(..., http=...)``), closing a connection whose request's headers have not
    all arrived ``timeout_s`` seconds after it opened, or after the answer to its previous request, and dropping one
    whose client has taken none of its answer for ``timeout_s`` seconds; a request that is no HTTP is answered 400 and
    one over ``limit_concurrency`` 503, both in JSON."""

    class HeadersBoundedH11(H11Protocol):
        _headers_timer: asyncio.TimerHandle | None = None
        _connection_limit: int | None = None
        _writes_timer: asyncio.TimerHandle | None = None
        _unsent_since: float | None = None  # when the client was last seen to take none of its answer's bytes waiting
        _unsent = 0  # how many bytes were waiting then

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            # the limit checked here (``app`` below), where a request over it is answered in JSON; uvicorn's own check
            # would answer it first, in plain text
            self._connection_limit = getattr(self, "limit_concurrency", None)
            if hasattr(self, "connections") and hasattr(self, "tasks"):
                self.limit_concurrency = None
            else:  # a uvicorn this was not written for: its own check, as it is
                self._connection_limit = None

        @property
        def app(self):
            """The app a request arriving now is run with: :func:`over_connections` while more connections are open
            than the limit allows (this one among them: uvicorn's own check, ``>=``, served one fewer, and none at a
            limit of 1), or as many requests running."""
            limit = self._connection_limit
            if limit is not None and (len(self.connections) > limit or len(self.tasks) >= limit):
                self.logger.warning("Exceeded concurrency limit.")
                return over_connections
            return self._app

        @app.setter
        def app(self, value) -> None:
            self._app = value

        def send_400_response(self, msg: str) -> None:
            """What uvicorn sends a request that is no HTTP, in JSON; the connection closed. Where an answer is already
            on its way (garbage after a request whose answer is still being sent), only the connection is closed."""
            if getattr(self.conn, "our_state", h11.IDLE) not in (h11.IDLE, h11.SEND_RESPONSE):
                self.transport.close()
                return
            # headers longer than h11 reads (16 KB; big cookies, sent in several packets) were told they were no HTTP
            buffered = len(getattr(self.conn, "trailing_data", (b"",))[0])
            if buffered > getattr(self.conn, "_max_incomplete_event_size", float("inf")):
                status, reason = 431, b"Request Header Fields Too Large"
                detail = (f"the request's headers are longer than the server reads ({buffered_limit(self.conn)}): send "
                          "fewer or shorter headers (a browser: clear this site's cookies)")
            else:
                status, reason = 400, b"Bad Request"
                detail = ("not a valid HTTP request: send HTTP/1.1 (curl, a browser or an HTTP library; https:// to a "
                          "server that speaks plain http:// sends no HTTP)")
            body = json.dumps({"detail": detail}).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                       (b"connection", b"close")]
            for event in (h11.Response(status_code=status, headers=headers, reason=reason), h11.Data(data=body),
                          h11.EndOfMessage()):
                self.transport.write(self.conn.send(event))
            self.transport.close()

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._wait_for_headers()
            self._watch_writes()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._their_state() is not h11.IDLE:  # the headers are in: the app bounds the body
                self._stop_waiting()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and self._their_state() is h11.IDLE:  # the next request's headers
                self._wait_for_headers()

        def _their_state(self):
            return getattr(getattr(self, "conn", None), "their_state", None)

        def connection_lost(self, exc) -> None:
            self._stop_waiting()
            if self._writes_timer is not None:
                self._writes_timer.cancel()
                self._writes_timer = None
            super().connection_lost(exc)

        def resume_writing(self) -> None:
            self._unsent_since = None  # the client took what waited, down to the low-water mark
            super().resume_writing()

        def _wait_for_headers(self) -> None:
            self._stop_waiting()
            loop = getattr(self, "loop", None)
            if loop is not None and self._their_state() is not None:  # else a uvicorn this was not written for
                self._headers_timer = loop.call_later(timeout_s, self._headers_too_slow)

        def _stop_waiting(self) -> None:
            if self._headers_timer is not None:
                self._headers_timer.cancel()
                self._headers_timer = None

        def _headers_too_slow(self) -> None:
            self._headers_timer = None
            if self._their_state() is h11.IDLE:  # closed as uvicorn closes an idle kept-alive connection
                close = getattr(self, "timeout_keep_alive_handler", None)
                close() if close is not None else self.transport.close()

        def _watch_writes(self) -> None:
            """Every quarter of ``timeout_s``, whether the client has taken any of the bytes that wait for it (fewer
            wait than at the last look, or the buffer drained); dropped once it has taken none for ``timeout_s``."""
            loop = getattr(self, "loop", None)
            if loop is None or not hasattr(self.transport, "get_write_buffer_size"):  # a uvicorn not written for
                return
            unsent, now = self.transport.get_write_buffer_size(), loop.time()
            if not unsent or unsent < self._unsent or self._unsent_since is None:
                self._unsent_since = now if unsent else None
            elif now - self._unsent_since >= timeout_s:
                self._writes_timer = None
                self.transport.abort()  # close() would wait for the client to read it
                return
            self._unsent = unsent
            self._writes_timer = loop.call_later(timeout_s / 4, self._watch_writes)

    return HeadersBoundedH11
