"""gunicorn settings shared by every way Dispatch is served (and by the benchmark's ceilings).

Use: `gunicorn -c python:dispatch.platform.gunicorn_conf dispatch.wsgi:app`. Overrides come from the
environment: DISPATCH_BIND, DISPATCH_WEB_WORKERS, DISPATCH_WEB_THREADS, DISPATCH_WEB_WORKER_CLASS.
The defaults are the ones measured best by `scripts/bench` (docs/PERFORMANCE.md). Requests
gunicorn refuses itself (request line or header too long, malformed) are answered in the API's
JSON error shape (dispatch/platform/gunicorn_errors.py), not gunicorn's HTML.
"""

import os
from typing import Any

bind = os.environ.get("DISPATCH_BIND", "127.0.0.1:8000")
# Requests spend most of their time waiting on PostgreSQL, so a few more processes than cores
# keep the CPUs busy while others wait; see docs/PERFORMANCE.md for the measurements.
workers = int(os.environ.get("DISPATCH_WEB_WORKERS", str(2 * (os.cpu_count() or 1) + 1)))
threads = int(os.environ.get("DISPATCH_WEB_THREADS", "1"))
worker_class = os.environ.get("DISPATCH_WEB_WORKER_CLASS", "gthread" if threads > 1 else "sync")
# Keep-alive lets a load balancer reuse connections (only the threaded worker honours it).
keepalive = 5
timeout = 30
graceful_timeout = 20
accesslog = None


def post_worker_init(worker: Any) -> None:  # gunicorn's Worker (gunicorn ships no types)
    """Each worker answers the requests gunicorn refuses itself in the API's JSON error shape."""
    from dispatch.platform import gunicorn_errors

    gunicorn_errors.install()
