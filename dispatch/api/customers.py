"""Find a customer from any one of phone, name or address; see everything about them at once."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import RAISE

from dispatch.api.context import db, setting
from dispatch.api.parsing import Blueprint
from dispatch.api.schemas import (
    CustomerCardOut,
    CustomerListOut,
    CustomerQuery,
    UnitQuery,
    UnitWithOwnerOut,
)
from dispatch.api.security import requires
from dispatch.customers import directory
from dispatch.models import Role
from dispatch.orders import repairs

blp = Blueprint("customers", __name__, url_prefix="/api/v1", description="Find customers")

HQ_READERS = (Role.AGENT, Role.CALLBACK, Role.SUPERVISOR, Role.ADMIN)


@blp.route("/customers")
class Customers(MethodView):
    @requires(*HQ_READERS)
    @blp.arguments(CustomerQuery, location="query", unknown=RAISE)
    @blp.response(200, CustomerListOut(many=True))
    def get(self, query):
        """Find customers by exactly one of: phone (any format, or any 4 or more consecutive digits
        of it), the name's words (each one, in any order, any case), part of an address.

        At most 50 matches, by name.
        """
        return directory.search(db(), region=setting("DEFAULT_REGION"), **query)


@blp.route("/customers/<int:customer_id>")
class Customer(MethodView):
    @requires(*HQ_READERS)
    @blp.response(200, CustomerCardOut)
    def get(self, customer_id):
        """The customer's card: units, and every work order with its visits and history."""
        return directory.get_card(db(), customer_id)


@blp.route("/units")
class Units(MethodView):
    @requires(*HQ_READERS)
    @blp.arguments(UnitQuery, location="query", unknown=RAISE)
    @blp.response(200, UnitWithOwnerOut(many=True))
    def get(self, query):
        """Find a registered unit by its serial number, with its owner and its work orders."""
        return repairs.find_units(db(), serial_number=query["serial_number"])
