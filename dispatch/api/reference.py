"""Reference data managed by admins: cities, product lines and models, providers, coverage, installers."""

from __future__ import annotations

from flask.views import MethodView

from dispatch.api import schemas as s
from dispatch.api.context import actor, db, setting
from dispatch.api.parsing import Blueprint
from dispatch.api.security import requires, writes
from dispatch.models import City, Coverage, ProductLine, ProductModel, Provider, Role
from dispatch.reference import catalogue

blp = Blueprint("reference", __name__, url_prefix="/api/v1", description="Reference data (admin)")

EVERYONE = tuple(Role)
HQ = (Role.AGENT, Role.CALLBACK, Role.SUPERVISOR, Role.ADMIN)


def _collection(path: str, noun: str, model, schema_in, schema_out, upsert, readers) -> None:
    """GET lists every row; POST (admin) creates or updates the row with that code or name."""

    class Collection(MethodView):
        @blp.doc(summary=f"List {noun}")
        @requires(*readers)
        @blp.arguments(s.NoQuery, location="query")
        @blp.response(200, schema_out(many=True))
        def get(self, _query):
            """Every row, in the order they were created."""
            return catalogue.list_rows(db(), model)

        @blp.doc(summary=f"Create or update one of the {noun} (matched by its code or name)")
        @requires(Role.ADMIN)
        @writes
        @blp.arguments(schema_in)
        @blp.response(201, schema_out)
        def post(self, data):
            """Posting an existing code or name again updates that row; every change is audited."""
            return upsert(db(), actor(), **data)

    Collection.__name__ = f"{noun.title().replace(' ', '')}Collection"
    blp.route(path, endpoint=noun.replace(" ", "_"))(Collection)


_collection("/cities", "cities", City, s.CityIn, s.CityOut, catalogue.upsert_city, EVERYONE)
_collection(
    "/product-lines",
    "product lines",
    ProductLine,
    s.ProductLineIn,
    s.ProductLineOut,
    catalogue.upsert_product_line,
    EVERYONE,
)
_collection(
    "/product-models",
    "product models",
    ProductModel,
    s.ProductModelIn,
    s.ProductModelOut,
    catalogue.upsert_product_model,
    EVERYONE,
)
_collection("/coverage", "coverage", Coverage, s.CoverageIn, s.CoverageOut, catalogue.upsert_coverage, HQ)


@blp.route("/providers")
class Providers(MethodView):
    @requires(*HQ)
    @blp.arguments(s.NoQuery, location="query")
    @blp.response(200, s.ProviderOut(many=True))
    def get(self, _query):
        """List providers, with their review flag."""
        return catalogue.list_rows(db(), Provider)

    @requires(Role.ADMIN)
    @writes
    @blp.arguments(s.ProviderIn)
    @blp.response(201, s.ProviderOut)
    def post(self, data):
        """Create or update a provider (matched by code)."""
        return catalogue.upsert_provider(db(), actor(), region=setting("DEFAULT_REGION"), **data)


@blp.route("/coverage/<int:coverage_id>")
class CoverageItem(MethodView):
    @requires(Role.ADMIN)
    @writes
    @blp.response(204)
    def delete(self, coverage_id):
        """Stop routing new orders of that city and product line to that provider."""
        catalogue.delete_coverage(db(), actor(), coverage_id)


@blp.route("/installers")
class Installers(MethodView):
    @requires(*HQ, Role.PROVIDER)
    @blp.arguments(s.NoQuery, location="query")
    @blp.response(200, s.InstallerOut(many=True))
    def get(self, _query):
        """List installers; a provider sees only its own."""
        return catalogue.list_installers(db(), actor())

    @requires(Role.ADMIN)
    @writes
    @blp.arguments(s.InstallerIn)
    @blp.response(201, s.InstallerOut)
    def post(self, data):
        """Create or update an installer (matched by code) of a provider."""
        return catalogue.upsert_installer(db(), actor(), **data)
