"""Requests refused before they reach the app get the API's JSON error shape, from a real gunicorn.

gunicorn itself refuses a request line over 4 KB (414), a header over 8 KB (431) and control
characters in a header (400); it wrote HTML for them. A chunked body over MAX_CONTENT_LENGTH
(no Content-Length) is a 413, as a declared one is, not "Invalid JSON body".
"""

from __future__ import annotations

import json
import socket

import pytest
from sqlalchemy import func, select
from werkzeug.http import HTTP_STATUS_CODES

from dispatch.models import Customer, Sale
from tests.helpers import sale_body
from tests.procs import start_gunicorn

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(worker_env):
    proc = start_gunicorn(worker_env, workers=1, conf=True)
    yield proc
    proc.stop()


def _exchange(server, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read until the server closes; returns status, headers (lower-case), body."""
    port = int(server.extra["url"].rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def _json_error(server, raw: bytes, status: int, field: str) -> dict:
    code, headers, body = _exchange(server, raw)
    assert code == status, body
    assert headers["content-type"] == "application/json", body
    answer = json.loads(body)
    assert answer["code"] == status and answer["message"] and answer["status"]
    assert list(answer["errors"]) == [field] and answer["errors"][field][0]
    return answer


def test_a_request_line_over_4_kb_is_a_json_414(server):
    raw = b"GET /api/v1/health?pad=" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    answer = _json_error(server, raw, 414, "_request_line")
    assert answer["status"] == HTTP_STATUS_CODES[414]  # as the app names it


def test_a_header_over_8_kb_is_a_json_431(server):
    raw = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n"
    answer = _json_error(server, raw, 431, "_headers")
    assert answer["status"] == HTTP_STATUS_CODES[431]


def test_control_characters_in_a_header_are_a_json_400(server):
    raw = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Note: a\x01b\r\n\r\n"
    _json_error(server, raw, 400, "_request")


def _chunked_sale(token: str, body: bytes) -> bytes:
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + 8192]), body[i : i + 8192]) for i in range(0, len(body), 8192)
    )
    return (
        b"POST /api/v1/sales HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Authorization: Bearer " + token.encode() + b"\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
    )


def test_a_chunked_body_over_the_limit_is_a_json_413_and_writes_nothing(server, api, session):
    token = api.tokens[api.user("sales")]
    big = sale_body()
    big["customer"]["address"] = "x" * 100_000
    code, headers, body = _exchange(server, _chunked_sale(token, json.dumps(big).encode()))
    assert code == 413, body
    assert headers["content-type"] == "application/json"
    answer = json.loads(body)
    assert answer["code"] == 413 and "limit" in answer["message"] and list(answer["errors"]) == ["_body"]
    assert session.scalar(select(func.count()).select_from(Customer)) == 0
    # A chunked sale within the limit is read whole and registered.
    code, _, body = _exchange(server, _chunked_sale(token, json.dumps(sale_body()).encode()))
    assert code == 201, body
    assert session.scalar(select(func.count()).select_from(Sale)) == 1
