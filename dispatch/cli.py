"""The operator's command line: `dispatch --help`."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, ScriptInfo
from flask_smorest.spec import openapi_cli
from sqlalchemy import exc as sa_exc
from sqlalchemy import select
from sqlalchemy.engine import make_url

from dispatch import auth
from dispatch.app import create_app
from dispatch.audit import trail
from dispatch.models import ApiToken, AuditEvent, User
from dispatch.platform import migrate
from dispatch.platform.actors import Actor
from dispatch.platform.config import ConfigError, load_settings
from dispatch.platform.errors import DomainError
from dispatch.reference import catalogue

OPERATOR = Actor.system("operator")


def _session():
    return current_app.extensions["dispatch.sessions"]()


def _fail(exc: DomainError) -> None:
    click.echo(f"error: {exc.message}", err=True)
    sys.exit(2)


HOW_TO_CONFIGURE = (
    "Run it from the installation's folder (where its config.toml is), or name the settings file "
    "with DISPATCH_CONFIG=/path/to/config.toml, or the database with "
    "DISPATCH_DATABASE_URL=postgresql+psycopg://user@host/dbname (see config.example.toml)."
)


def _shown(url: str) -> str:
    """The database URL without its password, for a message."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa_exc.ArgumentError:
        return url


def _refuse(message: str) -> None:
    click.echo(f"error: {message}\n{HOW_TO_CONFIGURE}", err=True)
    sys.exit(2)


def _create_app(creates_database: bool) -> Flask:
    """The app for one command; refuses to start on a SQLite file that does not exist (only
    `migrate` creates one), so that a command run in the wrong folder creates nothing there."""
    try:
        url = load_settings(webhooks=False)["DATABASE_URL"]
        parsed = make_url(url)
    except (ConfigError, sa_exc.ArgumentError) as exc:
        _refuse(f"the configuration cannot be used: {exc}")
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(str(parsed.database)).resolve()
        if not path.is_file() and not creates_database:
            _refuse(
                f"no database at {path} (DATABASE_URL {_shown(url)}; a relative path is read from the "
                "folder the command runs in); nothing was created. To create a new one there: dispatch migrate."
            )
    # The operator command signs and checks no webhook, so it runs without the simulator's secret.
    return create_app(webhooks=False)


class OperatorGroup(AppGroup):
    """The operator's commands only (no Flask development server, no --app or --debug options);
    a database that cannot be used is one line saying which and how to set it, not a traceback."""

    def invoke(self, ctx: click.Context):
        """Run the command with the app for its settings; database failures said plainly."""
        made: list[Flask] = []

        def make() -> Flask:
            if ctx.invoked_subcommand == "openapi":  # reads no database: touch none
                return create_app({"DATABASE_URL": "sqlite://"}, webhooks=False)
            made.append(_create_app(creates_database=ctx.invoked_subcommand == "migrate"))
            return made[-1]

        if not isinstance(ctx.obj, ScriptInfo):  # a test may hand in its own app
            ctx.obj = ScriptInfo(create_app=make, set_debug_flag=False)
        try:
            return super().invoke(ctx)
        except sa_exc.SQLAlchemyError as exc:
            url = made[-1].config["DATABASE_URL"] if made else "(the test's app)"
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            hint = (
                " (has `dispatch migrate` been run?)"
                if "no such table" in reason or "does not exist" in reason
                else ""
            )
            _refuse(f"the database at {_shown(url)} cannot be used: {reason}{hint}")


@click.group(cls=OperatorGroup)
def main() -> None:
    """Dispatch operator commands (settings from config.toml / DISPATCH_CONFIG / DISPATCH_*).

    To serve the API and the pages, use scripts/run (API, workers, cron and Redis together), or
    in production gunicorn -c python:dispatch.platform.gunicorn_conf dispatch.wsgi:app
    """


# flask-smorest's `openapi print/write`: the API's OpenAPI document without a server.
main.add_command(openapi_cli)


@main.command("migrate")
def migrate_cmd() -> None:
    """Create or upgrade the database schema to the latest version."""
    # The schema owner's URL when the app itself connects as the restricted application role.
    migrate.upgrade(current_app.config["MIGRATION_DATABASE_URL"] or current_app.config["DATABASE_URL"])
    click.echo("database is at the latest schema")


@main.command("load-reference")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
def load_reference(folder: Path) -> None:
    """Load cities, product lines/models, providers, coverage and installers from CSV files."""
    with _session() as session:
        try:
            counts = catalogue.load_csv_dir(session, OPERATOR, folder)
        except DomainError as exc:
            _fail(exc)
        session.commit()
    for name, count in counts.items():
        click.echo(f"{name}: {count} rows")


@main.group()
def user() -> None:
    """Users: create, list, deactivate, activate, password."""


@user.command("create")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice([r.value for r in auth.Role]))
@click.option("--provider", "provider_code", help="Provider code (role provider only)")
@click.option("--token/--no-token", default=True, help="Also issue a token and print it")
def user_create(name: str, role: str, provider_code: str | None, token: bool) -> None:
    """Create a user (and print a new token for it)."""
    with _session() as session:
        try:
            new = auth.create_user(session, OPERATOR, name=name, role=role, provider_code=provider_code)
            secret = auth.issue_token(session, OPERATOR, new, label="created with user") if token else None
        except DomainError as exc:
            _fail(exc)
        session.commit()
    click.echo(f"user {new.id} {name} ({role})")
    if secret:
        click.echo(secret)


@user.command("list")
def user_list() -> None:
    """List users with their roles."""
    with _session() as session:
        for u in session.scalars(select(User).order_by(User.id)):
            click.echo(
                f"{u.id}\t{u.name}\t{u.role}\t{u.provider_id or ''}\t{'active' if u.active else 'inactive'}"
            )


def _set_active(name: str, active: bool) -> None:
    with _session() as session:
        try:
            found = auth.find_user(session, name)
            auth.set_user_active(session, OPERATOR, user_id=found.id, active=active)
        except DomainError as exc:
            _fail(exc)
        session.commit()
    click.echo(f"user {name} {'activated' if active else 'deactivated'}")


@user.command("deactivate")
@click.argument("name")
def user_deactivate(name: str) -> None:
    """Deactivate a user: every one of its tokens gets 401 at once (until `user activate`)."""
    _set_active(name, False)


@user.command("activate")
@click.argument("name")
def user_activate(name: str) -> None:
    """Activate a deactivated user again: its tokens that were not revoked work again."""
    _set_active(name, True)


@user.command("password")
@click.argument("name")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the new password from standard input instead")
def user_password(name: str, from_stdin: bool) -> None:
    """Set the password a user logs in to the pages with: a new random one, printed once, or one
    read from standard input (--stdin). The user's page sessions end at once."""
    password = sys.stdin.readline().rstrip("\r\n") if from_stdin else auth.generate_password()
    with _session() as session:
        try:
            found = auth.find_user(session, name)
            auth.set_password(session, OPERATOR, found, password)
        except DomainError as exc:
            _fail(exc)
        session.commit()
    if from_stdin:
        click.echo(f"password of {name} set")
    else:
        click.echo(password)


@main.group()
def token() -> None:
    """Bearer tokens: create, list, revoke."""


@token.command("create")
@click.argument("user_name")
@click.option("--label", default=None)
def token_create(user_name: str, label: str | None) -> None:
    """Issue a new token for a user; it is printed once and stored only as a hash."""
    with _session() as session:
        found = session.scalars(select(User).where(User.name == user_name)).first()
        if found is None:
            click.echo(f"error: no user {user_name!r}", err=True)
            sys.exit(2)
        secret = auth.issue_token(session, OPERATOR, found, label=label)
        session.commit()
    click.echo(secret)


@token.command("list")
def token_list() -> None:
    """List tokens by prefix (the secret itself is never stored)."""
    with _session() as session:
        for t in session.scalars(select(ApiToken).order_by(ApiToken.id)):
            state = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "active"
            click.echo(f"{t.prefix}\t{t.user.name}\t{t.user.role}\t{state}\t{t.label or ''}")


@token.command("revoke")
@click.argument("prefix")
def token_revoke(prefix: str) -> None:
    """Revoke a token by the prefix `token list` shows; it stops working at once."""
    with _session() as session:
        try:
            auth.revoke_token(session, OPERATOR, prefix)
        except DomainError as exc:
            _fail(exc)
        session.commit()
    click.echo("revoked")


@main.group()
def audit() -> None:
    """The audit trail."""


@audit.command("verify")
@click.option(
    "--anchor",
    "anchors",
    multiple=True,
    metavar="SEQ:HASH",
    help="A head printed by an earlier run (kept outside the database): that event must still exist "
    "with that hash, which catches a cut-off tail or a rewritten, re-hashed chain.",
)
def audit_verify(anchors: tuple[str, ...]) -> None:
    """Recompute the hash chain; exit 1 naming the first broken event."""
    with _session() as session:
        report = trail.verify_chain(session)
        found: dict[int, tuple[str, str | None]] = {}
        for anchor in anchors:
            seq, _, expected = anchor.partition(":")
            if not seq.isdigit() or len(expected) != 64:
                raise click.BadParameter(f"{anchor!r} is not SEQ:HASH", param_hint="--anchor")
            found[int(seq)] = (
                expected,
                session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == int(seq))),
            )
    if not report.ok:
        click.echo(f"audit trail BROKEN at event {report.first_broken_seq}: {report.reason}", err=True)
        sys.exit(1)
    for number, (expected, actual) in sorted(found.items()):
        if actual != expected:
            state = "is missing" if actual is None else "has another hash"
            click.echo(f"audit trail BROKEN at event {number}: anchored event {state}", err=True)
            sys.exit(1)
    click.echo(f"audit trail intact: {report.checked} events; head {report.checked}:{report.head_hash}")


@main.group()
def customer() -> None:
    """Customers: erase one's personal data on request."""


@customer.command("erase")
@click.argument("customer_id", type=int)
@click.option("--reason", required=True, help="Why (e.g. the request's reference); no personal data.")
def customer_erase(customer_id: int, reason: str) -> None:
    """Erase a customer's personal data everywhere but the audit trail, which holds none."""
    from dispatch.customers import erasure

    with _session() as session:
        try:
            report = erasure.erase_customer(
                session, OPERATOR, customer_id, reason=reason, settings=current_app.config
            )
        except DomainError as exc:
            _fail(exc)
        session.commit()
    rows = ", ".join(f"{table} {n}" for table, n in sorted(report.counts.items())) or "no other rows"
    click.echo(
        f"customer {customer_id} erased; work orders kept: {len(report.work_orders)}; rows changed: {rows}"
    )


@main.group()
def provider() -> None:
    """Providers: the endpoint (URL and signing secret) their notices are posted to."""


@provider.command("endpoint-set")
@click.argument("code")
@click.argument("url")
def provider_endpoint_set(code: str, url: str) -> None:
    """Set or replace a provider's webhook endpoint; prints its new signing secret, this once."""
    from dispatch import notices

    with _session() as session:
        try:
            endpoint, secret = notices.set_endpoint(session, OPERATOR, code, url)
        except DomainError as exc:
            _fail(exc)
        session.commit()
    click.echo(
        f"provider {code}: notices are posted to {endpoint.url}, signed with this secret (shown once):"
    )
    click.echo(secret)


@provider.command("endpoint-remove")
@click.argument("code")
def provider_endpoint_remove(code: str) -> None:
    """Stop posting a provider's notices to its system."""
    from dispatch import notices

    with _session() as session:
        try:
            notices.remove_endpoint(session, OPERATOR, code)
        except DomainError as exc:
            _fail(exc)
        session.commit()
    click.echo(f"provider {code}: endpoint removed")


@main.group()
def outbox() -> None:
    """The outbox relay."""


@outbox.command("relay")
@click.option("--loop", is_flag=True, help="Keep relaying every --interval seconds")
@click.option("--interval", default=1.0, show_default=True)
def outbox_relay(loop: bool, interval: float) -> None:
    """Hand due job requests to RQ."""
    from dispatch.jobs.tasks import relay_outbox

    while True:
        sent = relay_outbox()
        if not loop:
            click.echo(f"relayed {sent}")
            return
        time.sleep(interval)


@main.group()
def sales() -> None:
    """Sales accepted asynchronously (receipts)."""


@sales.command("register")
def sales_register() -> None:
    """Register every accepted sale receipt now (the worker's cron does it every second)."""
    from dispatch.jobs.tasks import register_sales

    click.echo(f"registered or rejected {register_sales()} receipts")


@sales.command("waiting")
def sales_waiting() -> None:
    """How many accepted sale receipts wait for registration, and the oldest one's time."""
    from dispatch.sales import receipts

    with _session() as session:
        report = receipts.waiting(session)
    click.echo(f"waiting {report['waiting']}; oldest received {report['oldest_received_at'] or '-'}")


@main.group()
def scorecards() -> None:
    """Scorecards: the daily aggregates behind them."""


@scorecards.command("rebuild")
@click.option(
    "--from",
    "first",
    type=click.DateTime(["%Y-%m-%d"]),
    help="First local day (default: the first with data)",
)
@click.option(
    "--to",
    "last",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Last local day, included (default: the last with data)",
)
def scorecards_rebuild(first, last) -> None:
    """Recount the daily aggregates of a range of days (default: all) from the raw records.

    The live counters are kept in each fact's own transaction; this puts them right after a
    restore, a migration or a manual fix, and shows they agree. Live counting waits meanwhile.
    """
    from dispatch.audit import scorecards as cards

    with _session() as session:
        report = cards.rebuild(session, first.date() if first else None, last.date() if last else None)
        session.commit()
    span = f"{report.first} to {report.last}" if report.first else "no data"
    click.echo(f"scorecards rebuilt ({span}): {report.facts} facts in {report.rows} daily rows")


@main.command("seed-demo")
def seed_demo() -> None:
    """Load the demo reference set and one user per role; print their tokens (first run only)."""
    from dispatch.reference import demo

    with _session() as session:
        tokens = demo.seed(session)
        session.commit()
    if not tokens:
        click.echo(
            "demo data already loaded (tokens were printed on the first run; see `dispatch token create`)"
        )
    for role, secret in tokens.items():
        click.echo(f"{role}\t{secret}")
