"""Front-end libraries from npm (package.json, installed by `npm ci` into node_modules), served by
the app itself from an allow-list: the call centre's machines reach no CDN, and nothing else of
node_modules is ever served."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, abort, current_app, send_file
from flask.typing import ResponseReturnValue

log = logging.getLogger(__name__)

# URL under /static/vendor/ -> the file in node_modules. Versions are pinned in package.json.
VENDOR = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    "chart.umd.min.js": "chart.js/dist/chart.umd.min.js",
    "swagger-ui/swagger-ui.css": "swagger-ui-dist/swagger-ui.css",
    "swagger-ui/swagger-ui-bundle.js": "swagger-ui-dist/swagger-ui-bundle.js",
    "swagger-ui/swagger-ui-standalone-preset.js": "swagger-ui-dist/swagger-ui-standalone-preset.js",
    "swagger-ui/favicon-32x32.png": "swagger-ui-dist/favicon-32x32.png",
    "swagger-ui/favicon-16x16.png": "swagger-ui-dist/favicon-16x16.png",
}

# The repository's node_modules, beside the dispatch package (scripts/run and scripts/test run
# `npm ci` there); WEB_VENDOR_DIR names another one.
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "node_modules"


def vendor_dir(app: Flask) -> Path:
    """The node_modules folder the libraries are served from."""
    named = str(app.config.get("WEB_VENDOR_DIR") or "")
    return Path(named) if named else DEFAULT_DIR


def check(app: Flask) -> None:
    """Say at start-up, once, when the libraries are missing (the API works without them)."""
    missing = [name for name in VENDOR.values() if not (vendor_dir(app) / name).is_file()]
    if missing:
        log.warning(
            "the pages' front-end libraries are missing from %s (%s): run `npm ci` in the repository "
            "(scripts/run does) or set WEB_VENDOR_DIR",
            vendor_dir(app),
            ", ".join(missing),
        )


def vendor(name: str) -> ResponseReturnValue:
    """One allow-listed library file; anything else is a 404."""
    relative = VENDOR.get(name)
    if relative is None:
        abort(404)
    path = vendor_dir(current_app) / relative
    if not path.is_file():
        abort(404)
    # Revalidated by ETag on each page load; the pinned version only changes with a deploy.
    return send_file(path, conditional=True, max_age=0)
