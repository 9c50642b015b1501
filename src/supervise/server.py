"""The HTTP protocol ``supervise serve`` runs: uvicorn's httptools protocol, with the request head bounded.

httptools (llhttp) sets no limit on a request's head: a 200 KB header line or thousands of headers are parsed
and kept. This protocol counts the bytes of each head as they arrive and, past :data:`MAX_HEAD_BYTES`, answers
431 and closes the connection, so no request can make the server buffer more than that (plus one read). The
number of header fields is bounded by the application (``supervise.dependencies``, :data:`MAX_HEADERS`), which
answers that with a 431 problem like any other.
"""

from __future__ import annotations

import msgspec
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from supervise import problems

__all__ = ["MAX_HEADERS", "MAX_HEAD_BYTES", "BoundedHttpToolsProtocol"]

MAX_HEAD_BYTES = 32 * 1024
"""The request line and all header fields together (nginx's default allows 4 buffers of 8 KB)."""
MAX_HEADERS = 100
"""Header fields in one request (Apache's default)."""

_REFUSAL = msgspec.json.encode(
    {
        "type": problems.REQUEST_HEADER_FIELDS_TOO_LARGE.uri,
        "title": problems.REQUEST_HEADER_FIELDS_TOO_LARGE.title,
        "status": 431,
        "detail": f"The request line and header fields together exceed {MAX_HEAD_BYTES} bytes.",
    }
)
_RESPONSE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: application/problem+json\r\n"
    b"content-length: " + str(len(_REFUSAL)).encode() + b"\r\n"
    b"connection: close\r\n\r\n" + _REFUSAL
)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, answering 431 to a request head over :data:`MAX_HEAD_BYTES`."""

    _in_head = False
    _head_bytes = 0

    def on_message_begin(self) -> None:
        self._in_head, self._head_bytes = True, 0
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._in_head and not self.transport.is_closing():  # the head goes on after this read: all of it was head
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._in_head = False
                self.transport.write(_RESPONSE)
                self.transport.close()
