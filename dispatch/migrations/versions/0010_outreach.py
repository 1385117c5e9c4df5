"""Messages to customers under one contact policy: customer_messages, contact_events,
contact_consents (the evidence of each refusal and consent) and person_requests (the hotline's queue)

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

import dispatch.models

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

UTC = dispatch.models.UTCDateTime
MESSAGE_STATUSES = (
    "'pending', 'held', 'sending', 'sent', 'uncertain', 'failed', 'skipped', 'capped', 'superseded'"
)
EVENT_KINDS = (
    "'queued', 'sent', 'held', 'skipped', 'capped', 'superseded', 'uncertain', 'failed', 'reply', "
    "'opted_out', 'opted_in'"
)


def upgrade() -> None:
    op.create_table(
        "customer_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("transactional", sa.Boolean(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("booking_version", sa.Integer(), nullable=True),
        sa.Column("params", dispatch.models.JSONType, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("not_before", UTC(), nullable=False),
        sa.Column("due_at", UTC(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("to_number", sa.String(length=20), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("provider_sid", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("awaits_reply", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("started_at", UTC(), nullable=True),
        sa.Column("sent_at", UTC(), nullable=True),
        sa.Column("replied_at", UTC(), nullable=True),
        sa.CheckConstraint(f"status IN ({MESSAGE_STATUSES})", name="ck_customer_messages_status"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["work_order_id"], ["work_orders.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
        sa.UniqueConstraint("provider_sid"),
    )
    op.create_index("ix_customer_messages_customer_id", "customer_messages", ["customer_id"])
    op.create_index("ix_customer_messages_work_order_id", "customer_messages", ["work_order_id"])
    op.create_index(
        "ix_customer_messages_customer_started", "customer_messages", ["customer_id", "started_at"]
    )
    op.create_index("ix_customer_messages_status_due", "customer_messages", ["status", "due_at"])
    op.create_table(
        "contact_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("at", UTC(), nullable=False),
        sa.CheckConstraint(f"kind IN ({EVENT_KINDS})", name="ck_contact_events_kind"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["message_id"], ["customer_messages.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_contact_events_customer_at", "contact_events", ["customer_id", "at"])
    op.create_index("ix_contact_events_message_id", "contact_events", ["message_id"])
    op.create_table(
        "contact_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("consented", sa.Boolean(), nullable=False),
        sa.Column("keyword", sa.String(length=20), nullable=False),
        sa.Column("words", sa.String(length=320), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("message_sid", sa.String(length=64), nullable=True),
        sa.Column("at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_contact_consents_phone", "contact_consents", ["phone"])
    op.create_index("ix_contact_consents_phone_hash", "contact_consents", ["phone_hash"])
    op.create_index("ix_contact_consents_customer_id", "contact_consents", ["customer_id"])
    op.create_table(
        "person_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("words", sa.String(length=320), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("done_at", UTC(), nullable=True),
        sa.Column("done_by_id", sa.Integer(), nullable=True),
        sa.Column("done_note", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["work_order_id"], ["work_orders.id"]),
        sa.ForeignKeyConstraint(["message_id"], ["customer_messages.id"]),
        sa.ForeignKeyConstraint(["done_by_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_person_requests_customer_id", "person_requests", ["customer_id"])
    op.create_index("ix_person_requests_open", "person_requests", ["done_at", "created_at"])


def downgrade() -> None:
    op.drop_table("person_requests")
    op.drop_table("contact_consents")
    op.drop_table("contact_events")
    op.drop_table("customer_messages")
