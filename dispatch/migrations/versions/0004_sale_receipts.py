"""Sale receipts: sales accepted with `Prefer: respond-async`, registered later by the worker

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import dispatch.models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "sale_receipts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("reported_by_id", sa.Integer(), nullable=False),
        sa.Column("received_at", dispatch.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("sale_id", sa.Integer(), nullable=True),
        sa.Column("errors", JSON, nullable=True),
        sa.Column("processed_at", dispatch.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('accepted', 'registered', 'rejected')", name="ck_sale_receipts_status"
        ),
        sa.ForeignKeyConstraint(["reported_by_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["sale_id"], ["sales.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reported_by_id", "idempotency_key"),
    )
    op.create_index(
        op.f("ix_sale_receipts_reported_by_id"), "sale_receipts", ["reported_by_id"], unique=False
    )
    op.create_index(
        "ix_sale_receipts_waiting",
        "sale_receipts",
        ["id"],
        unique=False,
        postgresql_where=sa.text("status = 'accepted'"),
        sqlite_where=sa.text("status = 'accepted'"),
    )


def downgrade() -> None:
    op.drop_index("ix_sale_receipts_waiting", table_name="sale_receipts")
    op.drop_index(op.f("ix_sale_receipts_reported_by_id"), table_name="sale_receipts")
    op.drop_table("sale_receipts")
