"""Provider notices: providers' webhook endpoints, the notices told to them, each delivery and attempt

A provider is told at once of each change to an order's booking and again ahead of each visit, by
text and (where it has an endpoint) by a signed webhook; every attempt is kept as its delivery log.
The old reminder mark (`work_orders.reminded_for`) goes: the notices replace it.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

from dispatch.models import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TYPES = (
    "work_order.routed",
    "work_order.booked",
    "work_order.rescheduled",
    "work_order.unbooked",
    "work_order.reopened",
    "work_order.cancelled",
    "work_order.withdrawn",
    "work_order.visit_upcoming",
)
STATUSES = ("scheduled", "held", "sending", "delivered", "failed", "uncertain", "superseded", "skipped")
OUTCOMES = ("sending", "delivered", "retry", "failed", "uncertain", "lost")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "provider_endpoints",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("provider_id", sa.Integer(), sa.ForeignKey("providers.id"), nullable=False, unique=True),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "provider_notices",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("dedupe_key", sa.String(160), nullable=False, unique=True),
        sa.Column("provider_id", sa.Integer(), sa.ForeignKey("providers.id"), nullable=False),
        sa.Column("work_order_id", sa.Integer(), sa.ForeignKey("work_orders.id"), nullable=False),
        sa.Column("booking_version", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("lead", sa.String(40), nullable=False),
        sa.Column("due_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("webhook_id", sa.String(40), nullable=False, unique=True),
        sa.Column("superseded_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("superseded_reason", sa.String(200), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(_in("type", TYPES), name="ck_provider_notices_type"),
    )
    op.create_index("ix_provider_notices_provider", "provider_notices", ["provider_id", "id"])
    op.create_index("ix_provider_notices_work_order_id", "provider_notices", ["work_order_id"])
    op.create_table(
        "notice_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("notice_id", sa.Integer(), sa.ForeignKey("provider_notices.id"), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_http_status", sa.Integer(), nullable=True),
        sa.Column("sid", sa.String(64), nullable=True),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("notice_id", "channel"),
        sa.CheckConstraint(_in("channel", ("text", "webhook")), name="ck_notice_deliveries_channel"),
        sa.CheckConstraint(_in("status", STATUSES), name="ck_notice_deliveries_status"),
    )
    op.create_table(
        "notice_attempts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("delivery_id", sa.Integer(), sa.ForeignKey("notice_deliveries.id"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(300), nullable=True),
        sa.Column("next_retry_at", UTCDateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("delivery_id", "number"),
        sa.CheckConstraint(_in("outcome", OUTCOMES), name="ck_notice_attempts_outcome"),
    )
    with op.batch_alter_table("work_orders") as batch:
        batch.drop_column("reminded_for")


def downgrade() -> None:
    with op.batch_alter_table("work_orders") as batch:
        batch.add_column(sa.Column("reminded_for", UTCDateTime(timezone=True), nullable=True))
    op.drop_table("notice_attempts")
    op.drop_table("notice_deliveries")
    op.drop_index("ix_provider_notices_work_order_id", table_name="provider_notices")
    op.drop_index("ix_provider_notices_provider", table_name="provider_notices")
    op.drop_table("provider_notices")
    op.drop_table("provider_endpoints")
