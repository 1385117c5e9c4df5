"""PostgreSQL: audit events are append-only (triggers that fire always; an application role without UPDATE/DELETE/TRUNCATE)

Two layers, so that neither a bug nor a stolen application credential can rewrite history:
- triggers refuse UPDATE, DELETE and TRUNCATE on audit_events for everyone, and are enabled
  ALWAYS so they fire under `session_replication_role = replica` too (a plain trigger does not);
- the application role (setting DATABASE_APP_ROLE, default `dispatch_app`; created NOLOGIN if
  missing) gets DML on the other tables but only SELECT and INSERT on audit_events, so it could
  not even disable the triggers (only the table's owner can).
Only the schema owner, who runs the migrations, can switch the triggers off; the hash chain
(`dispatch audit verify`) then still shows any edit, deletion or reordering.

Revision ID: 0003
Revises: 0002
"""

import re

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

FUNCTION = "audit_events_append_only"
ROW_TRIGGER = "audit_events_no_update_delete"
TRUNCATE_TRIGGER = "audit_events_no_truncate"


def app_role() -> str:
    """The application role's name, checked to be a plain identifier (it is spliced into DDL)."""
    from dispatch.config import load_settings

    name = str(load_settings(webhooks=False)["DATABASE_APP_ROLE"])
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ValueError(f"DATABASE_APP_ROLE must be a lower-case SQL identifier, not {name!r}")
    return name


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite has no roles; the hash chain still shows any tampering
    role = app_role()
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_LEVEL = 'ROW' THEN
                RAISE EXCEPTION 'audit events are append-only: % of event % refused', TG_OP, OLD.seq
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RAISE EXCEPTION 'audit events are append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        f"CREATE TRIGGER {ROW_TRIGGER} BEFORE UPDATE OR DELETE ON audit_events "
        f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()"
    )
    op.execute(
        f"CREATE TRIGGER {TRUNCATE_TRIGGER} BEFORE TRUNCATE ON audit_events "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()"
    )
    # ALWAYS: also under session_replication_role = replica, which skips ordinary triggers.
    op.execute(f"ALTER TABLE audit_events ENABLE ALWAYS TRIGGER {ROW_TRIGGER}")
    op.execute(f"ALTER TABLE audit_events ENABLE ALWAYS TRIGGER {TRUNCATE_TRIGGER}")

    # The application role: roles are cluster-wide, so it may exist already (another database of
    # the same cluster, a DBA who created it with LOGIN). Two migrations racing to create it are
    # fine: the loser sees duplicate_object.
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                CREATE ROLE {role} NOLOGIN;
            END IF;
        EXCEPTION
            WHEN duplicate_object THEN NULL;
            WHEN insufficient_privilege THEN
                RAISE EXCEPTION 'cannot create the application role {role}: create it first as a '
                    'superuser (CREATE ROLE {role} NOLOGIN), or give the migrating role CREATEROLE';
        END
        $$
        """
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")
    # Tables and sequences that later migrations create (as this owner) are granted the same way.
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}"
    )
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {role}")
    op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM PUBLIC, {role}")
    op.execute(f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM PUBLIC, {role}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    role = app_role()
    op.execute(f"DROP TRIGGER IF EXISTS {ROW_TRIGGER} ON audit_events")
    op.execute(f"DROP TRIGGER IF EXISTS {TRUNCATE_TRIGGER} ON audit_events")
    op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
    # The role is cluster-wide and may serve other databases: only this database's grants go.
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {role}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM {role}")
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}")
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {role}")
