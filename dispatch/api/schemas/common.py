"""The pieces every schema shares: strict loading, bounded text and ids, windows, pages."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import marshmallow as ma
from marshmallow import fields, validate

# Ids are PostgreSQL integers: a larger number cannot name anything (and would be a 500 there).
ID_RANGE = validate.Range(min=1, max=2**31 - 1)


def _text(max_len: int, **kw) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=max_len), **kw)


class StrictBoolean(fields.Boolean):
    """Only JSON true or false: "yes", 1 or "false" are refused, not guessed at."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class Strict(ma.Schema):
    """Unknown fields are an error, not silently dropped; text may not carry NUL characters."""

    class Meta:
        unknown = ma.RAISE

    @ma.pre_load
    def _refuse_nul(self, data, **_kwargs):
        # PostgreSQL cannot store NUL in text: refuse it here, naming the field, instead of a 500.
        if isinstance(data, dict):
            bad = {
                key: ["must not contain NUL characters"]
                for key, value in data.items()
                if (isinstance(value, str) and "\x00" in value)
                or (isinstance(value, list) and any(isinstance(v, str) and "\x00" in v for v in value))
            }
            if bad:
                raise ma.ValidationError(bad)
        return data


class WindowIn(Strict):
    start = fields.DateTime(
        required=True,
        metadata={"description": "ISO 8601. Without an offset it is read in the customer's city's time."},
    )
    end = fields.DateTime(required=True)


class WindowOut(ma.Schema):
    start = fields.DateTime(attribute="appointment_start")
    end = fields.DateTime(attribute="appointment_end")
    local_start = fields.Method("_local_start", metadata={"description": "In the city's time zone"})
    local_end = fields.Method("_local_end")
    timezone = fields.String(attribute="city.timezone")

    def _local(self, order, value):
        return value.astimezone(ZoneInfo(order.city.timezone)).isoformat() if value else None

    def _local_start(self, order):
        return self._local(order, order.appointment_start)

    def _local_end(self, order):
        return self._local(order, order.appointment_end)


class DayOrDateTime(fields.DateTime):
    """A date (YYYY-MM-DD, a whole day) or an ISO 8601 date-time."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and len(value.strip()) == 10:
            return fields.Date()._deserialize(value.strip(), attr, data, **kwargs)
        return super()._deserialize(value, attr, data, **kwargs)


class PageOut(ma.Schema):
    """The paging fields of every list answer; each list adds its `items`."""

    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class NoQuery(Strict):
    """A list without filters: any query parameter is refused, so a misspelt one cannot go unseen."""


class PageQuery(Strict):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000), strict=False)
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200), strict=False)
