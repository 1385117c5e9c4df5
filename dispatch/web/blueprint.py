"""The pages' blueprint: templates/ and static/ beside this file; each page module adds its routes."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from dispatch.web import assets, present, security
from dispatch.web.context import person

bp = Blueprint(
    "web",
    "dispatch.web",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/web",
)
bp.before_request(security.load_person)
bp.add_url_rule("/static/vendor/<path:name>", "vendor", assets.vendor)


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {"person": person(), "when": present.when, "present": present}
