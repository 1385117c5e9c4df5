"""How the API reads requests: unknown query parameters and unreadable JSON bodies are refused.

Every blueprint that takes arguments uses this module's `Blueprint`, whose parser
- refuses unknown query parameters (webargs ignores them by default, so `?stauts=open` widened a
  list instead of failing), and
- refuses a NUL character in any query parameter with a 422 naming it (PostgreSQL cannot compare
  text holding one: it was a 500),
- answers a body sent with another Content-Type than application/json with 415 (webargs read it as
  "no body", so the answer was "field required" for every field),
- parses JSON bodies with limits: a body nested deeper than MAX_JSON_DEPTH, or with a number
  longer than MAX_NUMBER_LENGTH characters, is a 400 naming the problem (Python's parser raised
  RecursionError or ValueError on them, which became 500s).
The app's JSON provider uses the same limits, so `request.get_json()` (the Idempotency-Key
fingerprint) never raises anything but a ValueError on such a body either.
"""

from __future__ import annotations

import json
from typing import Any

import flask_smorest
import marshmallow as ma
from flask import Request
from flask.json.provider import DefaultJSONProvider
from flask_smorest import abort
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

# Levels of objects and arrays in one body. Dispatch's deepest request (a sale: items, an
# appointment window) has four; the limit leaves room and stops bodies built to exhaust the stack.
MAX_JSON_DEPTH = 32
# Characters in one number literal. No Dispatch field holds more than 19 digits (a 64-bit integer);
# Python refuses to convert integers of over 4,300 digits (a ValueError the parser let through).
MAX_NUMBER_LENGTH = 100


class BodyRefused(ValueError):
    """A JSON body the API does not read; the message says why (a ValueError, as Flask expects)."""


def _bounded(convert: type) -> Any:
    def parse(literal: str) -> Any:
        if len(literal) > MAX_NUMBER_LENGTH:
            raise BodyRefused(f"number too long: at most {MAX_NUMBER_LENGTH} characters per number")
        return convert(literal)

    return parse


_parse_int = _bounded(int)
_parse_float = _bounded(float)


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether objects and arrays nest more than `limit` levels (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def loads(text: str | bytes) -> Any:
    """Parse a JSON document within MAX_JSON_DEPTH levels and MAX_NUMBER_LENGTH-character numbers."""
    too_deep = f"too deeply nested: at most {MAX_JSON_DEPTH} levels of objects and arrays"
    try:
        value = json.loads(text, parse_int=_parse_int, parse_float=_parse_float)
    except RecursionError:
        raise BodyRefused(too_deep) from None
    if isinstance(value, dict | list) and _deeper_than(value, MAX_JSON_DEPTH):
        raise BodyRefused(too_deep)
    return value


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON with the API's limits when reading (request.get_json)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """As json.loads, refusing bodies nested too deeply or with over-long numbers."""
        return loads(s) if not kwargs else super().loads(s, **kwargs)


class DispatchParser(FlaskParser):
    """webargs' Flask parser: unknown query parameters refused, JSON bodies read within limits."""

    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": ma.RAISE,
        "querystring": ma.RAISE,
    }

    def load_querystring(self, req: Request, schema: ma.Schema) -> Any:
        """The query parameters; a NUL in a name or value is a 422 naming the parameter."""
        bad = sorted({name for name, value in req.args.items(multi=True) if "\x00" in name + value})
        if bad:
            names = ", ".join(name.replace("\x00", "\\0") for name in bad)
            abort(
                422,
                message=f"query parameter {names} must not contain NUL characters",
                errors={"query": {name: ["must not contain NUL characters"] for name in bad}},
            )
        return super().load_querystring(req, schema)

    def _raw_load_json(self, req: Request) -> Any:
        if not is_json_request(req):
            if req.content_length or req.get_data(cache=True):
                sent = req.mimetype or "no Content-Type"
                abort(
                    415,
                    message=f"the body must be sent as application/json (Content-Type: application/json), not {sent}",
                    errors={"json": {"_body": [f"Content-Type must be application/json, not {sent}"]}},
                )
            return core.missing
        # UTF-8 only, as webargs reads it; an undecodable body stays "Invalid JSON body".
        text = req.get_data(cache=True).decode("utf-8")
        try:
            return loads(text)
        except BodyRefused as exc:
            abort(400, message=f"request body {exc}", errors={"json": {"_body": [str(exc)]}})


UNSUPPORTED_MEDIA_TYPE_RESPONSE = {
    "description": "The body was not sent with Content-Type: application/json",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint with DispatchParser for its `arguments`; an operation taking a
    JSON body documents its 415."""

    ARGUMENTS_PARSER = DispatchParser()

    def arguments(self, schema: Any, *, location: str = "json", **kwargs: Any) -> Any:
        """flask-smorest's `arguments`, documenting the 415 of a JSON body sent as another type."""
        decorator = super().arguments(schema, location=location, **kwargs)
        if location != "json":
            return decorator

        def documented(func: Any) -> Any:
            return self.doc(responses={"415": UNSUPPORTED_MEDIA_TYPE_RESPONSE})(decorator(func))

        return documented


def page_of(query: dict[str, Any], read: Any) -> dict[str, Any]:
    """One page of a list, as the `...PageOut` schemas dump it: pops `page` and `per_page` from the
    loaded query and calls `read(page=, per_page=)`, which returns (items, total)."""
    page, per_page = query.pop("page"), query.pop("per_page")
    items, total = read(page=page, per_page=per_page)
    return {"items": items, "total": total, "page": page, "per_page": per_page}
