"""gunicorn's own refusals in the API's JSON error shape (code, status, message, errors).

gunicorn answers some requests itself, before the app sees them: a request line over
limit_request_line (414), a header over limit_request_field_size (431), a malformed request such
as a control character in a header (400). Its workers' handle_error decides the status, logs the
refusal and writes the answer through gunicorn.util.write_error, which writes HTML. `install()`
(run in each worker by dispatch/platform/gunicorn_conf.py's post_worker_init) swaps in `write_json_error`,
so the status and logging stay gunicorn's and only the body changes.
"""

from __future__ import annotations

import json
import socket

from gunicorn import util
from werkzeug.http import HTTP_STATUS_CODES

# The part of the request each refusal is about, named as the API names a bad field.
_FIELD_BY_STATUS = {414: "_request_line", 431: "_headers"}


def json_error(status: int, reason: str, message: str) -> bytes:
    """The whole HTTP response for one refusal, its body in the API's error shape."""
    if status >= 500:
        body = {"code": status, "status": HTTP_STATUS_CODES.get(status, reason), "message": "internal error"}
        body["errors"] = {}
    else:
        message = message or reason
        field = _FIELD_BY_STATUS.get(status, "_request")
        body = {
            "code": status,
            "status": HTTP_STATUS_CODES.get(status, reason),
            "message": f"request refused: {message}",
            "errors": {field: [message]},
        }
    payload = json.dumps(body).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode("latin-1") + payload


def write_json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn.util.write_error's signature and job, writing JSON instead of HTML."""
    util.write_nonblock(sock, json_error(status_int, reason, mesg))


def install() -> None:
    """Make this gunicorn worker process write its refusals as JSON."""
    util.write_error = write_json_error
