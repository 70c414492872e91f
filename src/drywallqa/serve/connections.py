"""The HTTP/1 protocol ``drywallqa serve`` runs uvicorn with: a request's headers must arrive in time.

uvicorn bounds the time a kept-alive connection may stay idle between requests, but not the time a request's
headers take to arrive: a client that connects and sends nothing, or trickles its headers in (a byte every few
seconds, the classic slowloris), held its connection, and a file descriptor, for as long as it liked; enough of
them and the server accepts no one. The body is bounded by the app (:class:`~drywallqa.serve.app.BodyLimits`).

The protocol leans on uvicorn's h11 protocol's own attributes (``conn``, ``loop``, ``transport``,
``timeout_keep_alive_handler``); where a uvicorn lacks one of them the connection is served as uvicorn serves it,
without the bound, rather than failing.
"""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


def headers_bounded_protocol(timeout_s: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol (``uvicorn.run(..., http=...)``), closing a connection whose request's headers have not
    all arrived ``timeout_s`` seconds after it opened, or after the answer to its previous request."""

    class HeadersBoundedH11(H11Protocol):
        _headers_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._wait_for_headers()

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
            super().connection_lost(exc)

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

    return HeadersBoundedH11
