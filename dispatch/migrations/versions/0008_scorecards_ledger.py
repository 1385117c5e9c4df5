"""Scorecards (daily aggregates) and the bonus/fine ledger: entries append-only, closed months locked

- scorecard_days: one row of counters per (local day, provider, city, installer); kept by UPSERTs
  in the transactions that record each fact, rebuilt from the raw records by
  `dispatch scorecards rebuild`. Run that once after this upgrade to count what came before.
- ledger_entries: append-only. Triggers refuse UPDATE, DELETE and TRUNCATE for everyone (enabled
  ALWAYS on PostgreSQL, as migration 0003 does for audit_events), and an INSERT dated in a closed
  month; the application role keeps only SELECT and INSERT on it. SQLite gets the same triggers
  (without TRUNCATE, which it does not have).
- ledger_months: a closed month stays closed (UPDATE or DELETE of a closed month is refused).
- ledger_fines and ledger_appeals: the fines' and appeals' life (proposed -> posted | voided;
  open -> upheld | rejected), decided once under a row lock.

Nothing here depends on the revision before it beyond the tables it references (providers,
cities, installers, users, callbacks, work_orders, complaints), so it may follow any revision
that has them.

Revision ID: 0008
Revises: 0007
"""

import re

import sqlalchemy as sa
from alembic import op

import dispatch.models

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

APPEND_ONLY = "ledger_entries_append_only"
MONTH_OPEN = "ledger_entries_month_open"
STAY_CLOSED = "ledger_months_stay_closed"
ROW_TRIGGER = "ledger_entries_no_update_delete"
TRUNCATE_TRIGGER = "ledger_entries_no_truncate"
MONTH_TRIGGER = "ledger_entries_in_open_month"
CLOSED_TRIGGER = "ledger_months_closed_stay_closed"


def app_role() -> str:
    """The application role's name (as migration 0003 reads it), checked to be a plain identifier."""
    from dispatch.config import load_settings

    name = str(load_settings(webhooks=False)["DATABASE_APP_ROLE"])
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ValueError(f"DATABASE_APP_ROLE must be a lower-case SQL identifier, not {name!r}")
    return name


def upgrade() -> None:
    op.create_table(
        "scorecard_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("city_id", sa.Integer(), nullable=False),
        sa.Column("installer_id", sa.Integer(), nullable=False),
        sa.Column("dispatched", sa.Integer(), nullable=False),
        sa.Column("closed", sa.Integer(), nullable=False),
        sa.Column("first_visit_completed", sa.Integer(), nullable=False),
        sa.Column("not_home_claims", sa.Integer(), nullable=False),
        sa.Column("verdicts", sa.Integer(), nullable=False),
        sa.Column("confirmed", sa.Integer(), nullable=False),
        sa.Column("contradicted", sa.Integer(), nullable=False),
        sa.Column("unreachable", sa.Integer(), nullable=False),
        sa.Column("not_home_checked", sa.Integer(), nullable=False),
        sa.Column("not_home_contradicted", sa.Integer(), nullable=False),
        sa.Column("rated", sa.Integer(), nullable=False),
        sa.Column("very_satisfied", sa.Integer(), nullable=False),
        sa.Column("complaints", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "dispatched >= 0 AND closed >= 0 AND first_visit_completed >= 0 AND not_home_claims >= 0 AND verdicts >= 0 AND confirmed >= 0 AND contradicted >= 0 AND unreachable >= 0 AND not_home_checked >= 0 AND not_home_contradicted >= 0 AND rated >= 0 AND very_satisfied >= 0 AND complaints >= 0",
            name="ck_scorecard_days_counts",
        ),
        sa.ForeignKeyConstraint(
            ["city_id"],
            ["cities.id"],
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
        ),
        sa.PrimaryKeyConstraint("day", "provider_id", "city_id", "installer_id", name="pk_scorecard_days"),
    )
    op.create_index("ix_scorecard_days_city_day", "scorecard_days", ["city_id", "day"], unique=False)
    op.create_index("ix_scorecard_days_provider_day", "scorecard_days", ["provider_id", "day"], unique=False)
    op.create_table(
        "ledger_months",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("closed_at", dispatch.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.Column("close_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["closed_by_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("month"),
    )
    op.create_table(
        "ledger_fines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("callback_id", sa.Integer(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=True),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("claim", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("proposed_at", dispatch.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", dispatch.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('proposed', 'posted', 'voided')", name="ck_ledger_fines_status"),
        sa.CheckConstraint("amount_minor > 0", name="ck_ledger_fines_amount"),
        sa.ForeignKeyConstraint(
            ["callback_id"],
            ["callbacks.id"],
        ),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaints.id"],
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_orders.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("callback_id"),
    )
    op.create_index(
        "ix_ledger_fines_provider_status", "ledger_fines", ["provider_id", "status"], unique=False
    )
    op.create_table(
        "ledger_appeals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fine_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("filed_at", dispatch.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("filed_by_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_at", dispatch.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('open', 'upheld', 'rejected')", name="ck_ledger_appeals_status"),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["filed_by_id"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["fine_id"],
            ["ledger_fines.id"],
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("fine_id"),
    )
    op.create_index(op.f("ix_ledger_appeals_provider_id"), "ledger_appeals", ["provider_id"], unique=False)
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cause", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("party", sa.String(length=16), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("installer_id", sa.Integer(), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("entry_date", sa.Date(), nullable=False),
        sa.Column("callback_id", sa.Integer(), nullable=True),
        sa.Column("work_order_id", sa.Integer(), nullable=True),
        sa.Column("fine_id", sa.Integer(), nullable=True),
        sa.Column("appeal_id", sa.Integer(), nullable=True),
        sa.Column("reverses_id", sa.Integer(), nullable=True),
        sa.Column("memo", sa.Text(), nullable=False),
        sa.Column("posted_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", dispatch.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(kind = 'bonus' AND amount_minor > 0) OR (kind = 'fine' AND amount_minor < 0) OR (kind = 'reversal' AND amount_minor <> 0)",
            name="ck_ledger_entries_sign",
        ),
        sa.CheckConstraint(
            "(kind = 'reversal') = (reverses_id IS NOT NULL)", name="ck_ledger_entries_reversal"
        ),
        sa.CheckConstraint(
            "(party = 'installer') = (installer_id IS NOT NULL)", name="ck_ledger_entries_party_id"
        ),
        sa.CheckConstraint("kind IN ('bonus', 'fine', 'reversal')", name="ck_ledger_entries_kind"),
        sa.CheckConstraint("party IN ('provider', 'installer')", name="ck_ledger_entries_party"),
        sa.ForeignKeyConstraint(
            ["appeal_id"],
            ["ledger_appeals.id"],
        ),
        sa.ForeignKeyConstraint(
            ["callback_id"],
            ["callbacks.id"],
        ),
        sa.ForeignKeyConstraint(
            ["fine_id"],
            ["ledger_fines.id"],
        ),
        sa.ForeignKeyConstraint(
            ["installer_id"],
            ["installers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["posted_by_id"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["reverses_id"],
            ["ledger_entries.id"],
        ),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_orders.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("cause"),
        sa.UniqueConstraint("reverses_id"),
    )
    op.create_index(op.f("ix_ledger_entries_callback_id"), "ledger_entries", ["callback_id"], unique=False)
    op.create_index(
        "ix_ledger_entries_installer_date", "ledger_entries", ["installer_id", "entry_date"], unique=False
    )
    op.create_index(
        "ix_ledger_entries_provider_date", "ledger_entries", ["provider_id", "entry_date"], unique=False
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgres_guards()
    else:
        _sqlite_guards()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, trigger in (
            ("ledger_entries", ROW_TRIGGER),
            ("ledger_entries", TRUNCATE_TRIGGER),
            ("ledger_entries", MONTH_TRIGGER),
            ("ledger_months", CLOSED_TRIGGER),
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
        for function in (APPEND_ONLY, MONTH_OPEN, STAY_CLOSED):
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    else:
        for trigger in (
            f"{ROW_TRIGGER}_u",
            f"{ROW_TRIGGER}_d",
            MONTH_TRIGGER,
            f"{CLOSED_TRIGGER}_u",
            f"{CLOSED_TRIGGER}_d",
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.drop_index("ix_ledger_entries_provider_date", table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_installer_date", table_name="ledger_entries")
    op.drop_index(op.f("ix_ledger_entries_callback_id"), table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_index(op.f("ix_ledger_appeals_provider_id"), table_name="ledger_appeals")
    op.drop_table("ledger_appeals")
    op.drop_index("ix_ledger_fines_provider_status", table_name="ledger_fines")
    op.drop_table("ledger_fines")
    op.drop_table("ledger_months")
    op.drop_index("ix_scorecard_days_provider_day", table_name="scorecard_days")
    op.drop_index("ix_scorecard_days_city_day", table_name="scorecard_days")
    op.drop_table("scorecard_days")


def _postgres_guards() -> None:
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION {APPEND_ONLY}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_LEVEL = 'ROW' THEN
                RAISE EXCEPTION 'ledger entries are append-only: % of entry % refused (post a reversal)',
                    TG_OP, OLD.id USING ERRCODE = 'insufficient_privilege';
            END IF;
            RAISE EXCEPTION 'ledger entries are append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION {MONTH_OPEN}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM ledger_months
                       WHERE month = to_char(NEW.entry_date, 'YYYY-MM') AND closed_at IS NOT NULL) THEN
                RAISE EXCEPTION 'ledger month % is closed: an entry dated % is refused',
                    to_char(NEW.entry_date, 'YYYY-MM'), NEW.entry_date USING ERRCODE = 'check_violation';
            END IF;
            RETURN NEW;
        END
        $$
        """
    )
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION {STAY_CLOSED}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.closed_at IS NOT NULL THEN
                RAISE EXCEPTION 'ledger month % is closed: % refused', OLD.month, TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF TG_OP = 'DELETE' THEN
                RETURN OLD;
            END IF;
            RETURN NEW;
        END
        $$
        """
    )
    op.execute(
        f"CREATE TRIGGER {ROW_TRIGGER} BEFORE UPDATE OR DELETE ON ledger_entries "
        f"FOR EACH ROW EXECUTE FUNCTION {APPEND_ONLY}()"
    )
    op.execute(
        f"CREATE TRIGGER {TRUNCATE_TRIGGER} BEFORE TRUNCATE ON ledger_entries "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {APPEND_ONLY}()"
    )
    op.execute(
        f"CREATE TRIGGER {MONTH_TRIGGER} BEFORE INSERT ON ledger_entries "
        f"FOR EACH ROW EXECUTE FUNCTION {MONTH_OPEN}()"
    )
    op.execute(
        f"CREATE TRIGGER {CLOSED_TRIGGER} BEFORE UPDATE OR DELETE ON ledger_months "
        f"FOR EACH ROW EXECUTE FUNCTION {STAY_CLOSED}()"
    )
    # ALWAYS: also under session_replication_role = replica, which skips ordinary triggers.
    for table, trigger in (
        ("ledger_entries", ROW_TRIGGER),
        ("ledger_entries", TRUNCATE_TRIGGER),
        ("ledger_entries", MONTH_TRIGGER),
        ("ledger_months", CLOSED_TRIGGER),
    ):
        op.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {trigger}")
    # The application role got DML on these tables through 0003's default privileges; entries
    # are appended and read, never changed.
    role = app_role()
    op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON ledger_entries FROM PUBLIC, {role}")


def _sqlite_guards() -> None:
    refuse = "SELECT RAISE(ABORT, '{}');"
    op.execute(
        f"CREATE TRIGGER {ROW_TRIGGER}_u BEFORE UPDATE ON ledger_entries BEGIN "
        + refuse.format("ledger entries are append-only: UPDATE refused (post a reversal)")
        + " END"
    )
    op.execute(
        f"CREATE TRIGGER {ROW_TRIGGER}_d BEFORE DELETE ON ledger_entries BEGIN "
        + refuse.format("ledger entries are append-only: DELETE refused (post a reversal)")
        + " END"
    )
    op.execute(
        f"CREATE TRIGGER {MONTH_TRIGGER} BEFORE INSERT ON ledger_entries "
        "WHEN EXISTS (SELECT 1 FROM ledger_months WHERE month = substr(NEW.entry_date, 1, 7) "
        "AND closed_at IS NOT NULL) BEGIN "
        + refuse.format("ledger month is closed: an entry dated in it is refused")
        + " END"
    )
    for op_name, suffix in (("UPDATE", "u"), ("DELETE", "d")):
        op.execute(
            f"CREATE TRIGGER {CLOSED_TRIGGER}_{suffix} BEFORE {op_name} ON ledger_months "
            "WHEN OLD.closed_at IS NOT NULL BEGIN "
            + refuse.format(f"ledger month is closed: {op_name} refused")
            + " END"
        )
