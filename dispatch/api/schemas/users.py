"""Users, as admins see them."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from dispatch.api.schemas.common import Strict, StrictBoolean


class UserOut(ma.Schema):
    id = fields.Integer()
    name = fields.String()
    role = fields.String()
    provider_id = fields.Integer(allow_none=True)
    active = fields.Boolean(metadata={"description": "An inactive user's tokens all get 401"})
    created_at = fields.DateTime()


class UserActiveIn(Strict):
    active = StrictBoolean(
        required=True,
        metadata={"description": "false stops every token of the user at once; true restores them"},
    )
