"""A provider's webhook receiver, written from the Standard Webhooks description
(https://www.standardwebhooks.com, "Verifying webhooks"), not from Dispatch's code.

What the scheme says a receiver does:
- the secret is `whsec_` + base64; the HMAC key is the base64-decoded part;
- the signed content is `{webhook-id}.{webhook-timestamp}.{raw body}`;
- `webhook-signature` holds one or more space-separated `v1,<base64 HMAC-SHA256>`; any one
  matching (compared in constant time) is enough;
- a timestamp further than the tolerance (5 minutes) from the receiver's clock is refused;
- a `webhook-id` seen before is a replay: processed once only.
This receiver answers 401 to a bad signature or stale timestamp, 409 to a replayed id, and the
next status of `answers` (default 200) to a good delivery; only a 2xx marks the id as seen.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_SECONDS = 5 * 60


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    status: int
    verdict: str  # "accepted", "bad signature", "stale timestamp", "replayed", "answered <status>"

    @property
    def json(self) -> dict:
        return json.loads(self.body)


class Receiver:
    def __init__(self, secret: str = "") -> None:
        self.secret = secret
        self.answers: list[int] = []
        self.deliveries: list[Delivery] = []
        self.seen: set[str] = set()
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/dispatch"

    def verify(self, headers: dict[str, str], body: bytes) -> str | None:
        """Why this delivery is refused (None: the signature and timestamp are good)."""
        msg_id, stamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
        if not msg_id or not stamp.isdigit():
            return "bad signature"
        if abs(time.time() - int(stamp)) > TOLERANCE_SECONDS:
            return "stale timestamp"
        key = base64.b64decode(self.secret.split("_", 1)[1])
        content = msg_id.encode() + b"." + stamp.encode() + b"." + body
        expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest())
        for candidate in headers.get("webhook-signature", "").split(" "):
            version, _, signature = candidate.partition(",")
            if version == "v1" and hmac.compare_digest(signature.encode(), expected):
                return None
        return "bad signature"

    def receive(self, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            refused = self.verify(headers, body)
            if refused is not None:
                status, verdict = 401, refused
            elif headers["webhook-id"] in self.seen:
                status, verdict = 409, "replayed"
            else:
                status = self.answers.pop(0) if self.answers else 200
                verdict = "accepted" if 200 <= status < 300 else f"answered {status}"
                if 200 <= status < 300:
                    self.seen.add(headers["webhook-id"])
            self.deliveries.append(Delivery(headers, body, status, verdict))
            return status

    def accepted(self) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if d.verdict == "accepted"]

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = receiver.receive({k.lower(): v for k, v in self.headers.items()}, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
