"""A local stand-in for Twilio's REST API: the real SDK talks to it instead of api.twilio.com.

It answers POST /2010-04-01/Accounts/{sid}/Calls.json and .../Messages.json with Twilio-shaped
JSON and a new sid, and records every request (path, basic-auth user and password, form fields).
Tests can make it slow (to kill a worker mid-request) or refuse with a status (429, 503, 400).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl


@dataclass
class Recorded:
    """One request as Twilio would have received it."""

    method: str
    path: str
    auth: tuple[str, str] | None
    form: dict[str, str]
    sid: str | None
    at: float = field(default_factory=time.time)

    @property
    def kind(self) -> str:
        return (
            "call"
            if self.path.endswith("/Calls.json")
            else "sms"
            if self.path.endswith("/Messages.json")
            else "?"
        )


class TwilioStandIn:
    """Start with `start()`, point TWILIO_API_BASE_URL at `url`, read `requests` afterwards."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.delay = 0.0  # seconds to wait before answering a create
        self.fail_with: list[int] = []  # statuses to answer the next creates with, in order
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def calls(self, to: str | None = None) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.kind == "call" and (to is None or r.form.get("To") == to)]

    def messages(self, to: str | None = None) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.kind == "sms" and (to is None or r.form.get("To") == to)]

    def start(self) -> TwilioStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _auth(self) -> tuple[str, str] | None:
                header = self.headers.get("Authorization", "")
                if not header.startswith("Basic "):
                    return None
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                return user, password

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", "0"))
                form = dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
                kind = (
                    "CA"
                    if self.path.endswith("/Calls.json")
                    else "SM"
                    if self.path.endswith("/Messages.json")
                    else None
                )
                with standin.lock:
                    status = standin.fail_with.pop(0) if standin.fail_with else 201
                sid = kind + uuid.uuid4().hex if kind and status == 201 else None
                with standin.lock:
                    standin.requests.append(Recorded("POST", self.path, self._auth(), form, sid))
                if standin.delay:
                    time.sleep(standin.delay)
                if kind is None:
                    return self._json(404, {"code": 20404, "message": "not found", "status": 404})
                if status != 201:
                    return self._json(
                        status, {"code": 20000 + status, "message": "stand-in error", "status": status}
                    )
                account = self.path.split("/Accounts/")[1].split("/")[0]
                body = {
                    "sid": sid,
                    "account_sid": account,
                    "to": form.get("To"),
                    "from": form.get("From"),
                    "status": "queued",
                    "api_version": "2010-04-01",
                    "date_created": time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
                    "uri": f"{self.path[:-5]}/{sid}.json",
                }
                if kind == "SM":
                    body["body"] = form.get("Body")
                    body["num_segments"] = "1"
                    body["direction"] = "outbound-api"
                else:
                    body["direction"] = "outbound-api"
                self._json(201, body)

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the caller was killed while waiting (the fault tests do that)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
