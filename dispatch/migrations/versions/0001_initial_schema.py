"""initial schema

Revision ID: 0001
Revises:
"""

from alembic import op
import sqlalchemy as sa
import dispatch.models
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "attempt_status_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_sid", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("received_at", dispatch.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider_sid", "status", name="uq_attempt_status_events"),
    )
    op.create_table(
        "cities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=2), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "opt_outs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("created_at", dispatch.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("phone"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("job", sa.String(length=80), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("dedupe_key", sa.String(length=160), nullable=True),
        sa.Column("available_at", dispatch.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", dispatch.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("dispatched_at", dispatch.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", dispatch.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("relay_attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
    )
    op.create_index("ix_outbox_pending", "outbox", ["dispatched_at", "available_at"], unique=False)
    op.create_index("ix_outbox_unfinished", "outbox", ["completed_at", "dispatched_at"], unique=False)
    op.create_table(
        "product_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "providers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("under_review", sa.Boolean(), nullable=False),
        sa.Column("review_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "coverage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("city_id", sa.Integer(), nullable=False),
        sa.Column("product_line_id", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["city_id"],
            ["cities.id"],
        ),
        sa.ForeignKeyConstraint(
            ["product_line_id"],
            ["product_lines.id"],
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("city_id", "product_line_id", "provider_id"),
    )
    op.create_index(op.f("ix_coverage_provider_id"), "coverage", ["provider_id"], unique=False)
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("city_id", sa.Integer(), nullable=False),
        sa.Column("created_at", dispatch.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["city_id"],
            ["cities.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("phone"),
    )
    op.create_table(
        "installers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("seniority", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "seniority IN ('junior', 'regular', 'senior', 'master')", name="ck_installers_seniority"
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_index(op.f("ix_installers_provider_id"), "installers", ["provider_id"], unique=False)
    op.create_table(
        "product_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column("product_line_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_line_id"],
            ["product_lines.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_index(
        op.f("ix_product_models_product_line_id"), "product_models", ["product_line_id"], unique=False
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", dispatch.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(role = 'provider') = (provider_id IS NOT NULL)", name="ck_users_provider_binding"
        ),
        sa.CheckConstraint(
            "role IN ('sales', 'agent', 'provider', 'callback', 'supervisor', 'admin')", name="ck_users_role"
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=12), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=True),
        sa.Column("created_at", dispatch.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", dispatch.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"], unique=False)
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", dispatch.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=160), nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("from_state", sa.String(length=40), nullable=True),
        sa.Column("to_state", sa.String(length=40), nullable=True),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("hash"),
        sa.UniqueConstraint("seq"),
    )
    op.create_index("ix_audit_events_entity", "audit_events", ["entity", "entity_id"], unique=False)
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column(
            "response_body",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("locked_until", dispatch.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", dispatch.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", dispatch.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "key"),
    )
    op.create_index(op.f("ix_idempotency_keys_expires_at"), "idempotency_keys", ["expires_at"], unique=False)
    op.create_table(
        "sales",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop", sa.String(length=160), nullable=False),
        sa.Column("salesperson", sa.String(length=160), nullable=False),
        sa.Column("sold_at", dispatch.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("reported_by_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("created_at", dispatch.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("channel IN ('web', 'phone')", name="ck_sales_channel"),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["reported_by_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_sales_customer_id"), "sales", ["customer_id"], unique=False)
    op.create_table(
        "units",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("product_model_id", sa.Integer(), nullable=False),
        sa.Column("serial_number", sa.String(length=80), nullable=True),
        sa.Column("sale_id", sa.Integer(), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("city_id", sa.Integer(), nullable=False),
        sa.Column("purchased_at", dispatch.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", dispatch.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["city_id"],
            ["cities.id"],
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["product_model_id"],
            ["product_models.id"],
        ),
        sa.ForeignKeyConstraint(
            ["sale_id"],
            ["sales.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("serial_number"),
    )
    op.create_index(op.f("ix_units_customer_id"), "units", ["customer_id"], unique=False)
    op.create_table(
        "work_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("city_id", sa.Integer(), nullable=False),
        sa.Column("product_line_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("sale_id", sa.Integer(), nullable=True),
        sa.Column("appointment_start", dispatch.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("appointment_end", dispatch.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("fault_category", sa.String(length=40), nullable=True),
        sa.Column("fault_description", sa.Text(), nullable=True),
        sa.Column("repeat_of_id", sa.Integer(), nullable=True),
        sa.Column("reminded_for", dispatch.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", dispatch.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", dispatch.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('delivery', 'installation', 'delivery_installation', 'repair')",
            name="ck_work_orders_kind",
        ),
        sa.CheckConstraint(
            "state IN ('unassigned', 'pending', 'booked', 'closed_completed', 'closed_not_completed', 'verified', 'cancelled')",
            name="ck_work_orders_state",
        ),
        sa.CheckConstraint(
            "appointment_end IS NULL OR appointment_end > appointment_start", name="ck_work_orders_window"
        ),
        sa.ForeignKeyConstraint(
            ["city_id"],
            ["cities.id"],
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["product_line_id"],
            ["product_lines.id"],
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["repeat_of_id"],
            ["work_orders.id"],
        ),
        sa.ForeignKeyConstraint(
            ["sale_id"],
            ["sales.id"],
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["units.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_work_orders_city_id"), "work_orders", ["city_id"], unique=False)
    op.create_index(op.f("ix_work_orders_customer_id"), "work_orders", ["customer_id"], unique=False)
    op.create_index("ix_work_orders_provider_state", "work_orders", ["provider_id", "state"], unique=False)
    op.create_index(
        "ix_work_orders_state_appointment", "work_orders", ["state", "appointment_start"], unique=False
    )
    op.create_index(op.f("ix_work_orders_unit_id"), "work_orders", ["unit_id"], unique=False)
    op.create_table(
        "visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("installer_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("visited_at", dispatch.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("closed_by_id", sa.Integer(), nullable=False),
        sa.Column("closed_at", dispatch.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(outcome = 'completed') = (reason IS NULL)", name="ck_visits_reason_iff_not_completed"
        ),
        sa.CheckConstraint("outcome IN ('completed', 'not_completed')", name="ck_visits_outcome"),
        sa.ForeignKeyConstraint(
            ["closed_by_id"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["installer_id"],
            ["installers.id"],
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
    )
    op.create_index(op.f("ix_visits_installer_id"), "visits", ["installer_id"], unique=False)
    op.create_index(op.f("ix_visits_provider_id"), "visits", ["provider_id"], unique=False)
    op.create_index(op.f("ix_visits_work_order_id"), "visits", ["work_order_id"], unique=False)
    op.create_table(
        "callbacks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("check_day", sa.String(length=10), nullable=True),
        sa.Column("claim", sa.String(length=32), nullable=False),
        sa.Column("claim_at", dispatch.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("installer_id", sa.Integer(), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("due_at", dispatch.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("automated_attempts", sa.Integer(), nullable=False),
        sa.Column("human_attempts", sa.Integer(), nullable=False),
        sa.Column("next_channel", sa.String(length=8), nullable=True),
        sa.Column("last_enqueued_at", dispatch.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("escalation_reason", sa.String(length=60), nullable=True),
        sa.Column("lease_holder_id", sa.Integer(), nullable=True),
        sa.Column("lease_until", dispatch.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("verdict", sa.String(length=24), nullable=True),
        sa.Column("rating", sa.String(length=16), nullable=True),
        sa.Column("answer_happened", sa.String(length=24), nullable=True),
        sa.Column("answer_note", sa.Text(), nullable=True),
        sa.Column("answer_channel", sa.String(length=8), nullable=True),
        sa.Column("resolved_at", dispatch.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", dispatch.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", dispatch.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(purpose = 'status_check') = (check_day IS NOT NULL)", name="ck_callbacks_day_iff_status"
        ),
        sa.CheckConstraint(
            "(purpose = 'verify_visit') = (visit_id IS NOT NULL)", name="ck_callbacks_visit_iff_verify"
        ),
        sa.CheckConstraint("purpose IN ('verify_visit', 'status_check')", name="ck_callbacks_purpose"),
        sa.CheckConstraint(
            "rating IS NULL OR rating IN ('very_satisfied', 'satisfied', 'not_satisfied')",
            name="ck_callbacks_rating",
        ),
        sa.CheckConstraint(
            "state IN ('scheduled', 'in_progress', 'human_queue', 'claimed', 'resolved', 'cancelled')",
            name="ck_callbacks_state",
        ),
        sa.CheckConstraint(
            "verdict IS NULL OR verdict IN ('confirmed', 'contradicted', 'customer_rescheduled', 'unreachable')",
            name="ck_callbacks_verdict",
        ),
        sa.ForeignKeyConstraint(
            ["installer_id"],
            ["installers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["lease_holder_id"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visits.id"],
        ),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_orders.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("visit_id", name="uq_callbacks_visit"),
        sa.UniqueConstraint("work_order_id", "check_day", name="uq_callbacks_order_day"),
    )
    op.create_index(op.f("ix_callbacks_provider_id"), "callbacks", ["provider_id"], unique=False)
    op.create_index("ix_callbacks_state_due", "callbacks", ["state", "due_at"], unique=False)
    op.create_index(op.f("ix_callbacks_work_order_id"), "callbacks", ["work_order_id"], unique=False)
    op.create_table(
        "complaints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("callback_id", sa.Integer(), nullable=True),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("status_note", sa.Text(), nullable=True),
        sa.Column("deadline_at", dispatch.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", dispatch.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", dispatch.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", dispatch.models.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('open', 'investigating', 'closed')", name="ck_complaints_status"),
        sa.ForeignKeyConstraint(
            ["callback_id"],
            ["callbacks.id"],
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visits.id"],
        ),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_orders.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("callback_id"),
    )
    op.create_index("ix_complaints_provider_status", "complaints", ["provider_id", "status"], unique=False)
    op.create_index(op.f("ix_complaints_work_order_id"), "complaints", ["work_order_id"], unique=False)
    op.create_table(
        "contact_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("callback_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("provider_sid", sa.String(length=64), nullable=True),
        sa.Column("to_number", sa.String(length=20), nullable=False),
        sa.Column("agent_user_id", sa.Integer(), nullable=True),
        sa.Column("started_at", dispatch.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("placed_at", dispatch.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", dispatch.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sa.String(length=32), nullable=True),
        sa.Column("answer_happened", sa.String(length=24), nullable=True),
        sa.Column("answer_rating", sa.String(length=16), nullable=True),
        sa.Column("answer_text", sa.Text(), nullable=True),
        sa.Column(
            "status_history",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.CheckConstraint("channel IN ('voice', 'sms', 'human')", name="ck_contact_attempts_channel"),
        sa.ForeignKeyConstraint(
            ["agent_user_id"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["callback_id"],
            ["callbacks.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("callback_id", "seq", name="uq_contact_attempts_seq"),
        sa.UniqueConstraint("provider_sid"),
    )
    op.create_index(
        op.f("ix_contact_attempts_callback_id"), "contact_attempts", ["callback_id"], unique=False
    )
    op.create_index(
        "ix_contact_attempts_to_number", "contact_attempts", ["to_number", "status"], unique=False
    )


def downgrade() -> None:

    op.drop_index("ix_contact_attempts_to_number", table_name="contact_attempts")
    op.drop_index(op.f("ix_contact_attempts_callback_id"), table_name="contact_attempts")
    op.drop_table("contact_attempts")
    op.drop_index(op.f("ix_complaints_work_order_id"), table_name="complaints")
    op.drop_index("ix_complaints_provider_status", table_name="complaints")
    op.drop_table("complaints")
    op.drop_index(op.f("ix_callbacks_work_order_id"), table_name="callbacks")
    op.drop_index("ix_callbacks_state_due", table_name="callbacks")
    op.drop_index(op.f("ix_callbacks_provider_id"), table_name="callbacks")
    op.drop_table("callbacks")
    op.drop_index(op.f("ix_visits_work_order_id"), table_name="visits")
    op.drop_index(op.f("ix_visits_provider_id"), table_name="visits")
    op.drop_index(op.f("ix_visits_installer_id"), table_name="visits")
    op.drop_table("visits")
    op.drop_index(op.f("ix_work_orders_unit_id"), table_name="work_orders")
    op.drop_index("ix_work_orders_state_appointment", table_name="work_orders")
    op.drop_index("ix_work_orders_provider_state", table_name="work_orders")
    op.drop_index(op.f("ix_work_orders_customer_id"), table_name="work_orders")
    op.drop_index(op.f("ix_work_orders_city_id"), table_name="work_orders")
    op.drop_table("work_orders")
    op.drop_index(op.f("ix_units_customer_id"), table_name="units")
    op.drop_table("units")
    op.drop_index(op.f("ix_sales_customer_id"), table_name="sales")
    op.drop_table("sales")
    op.drop_index(op.f("ix_idempotency_keys_expires_at"), table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_index("ix_audit_events_entity", table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_index(op.f("ix_api_tokens_user_id"), table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_table("users")
    op.drop_index(op.f("ix_product_models_product_line_id"), table_name="product_models")
    op.drop_table("product_models")
    op.drop_index(op.f("ix_installers_provider_id"), table_name="installers")
    op.drop_table("installers")
    op.drop_table("customers")
    op.drop_index(op.f("ix_coverage_provider_id"), table_name="coverage")
    op.drop_table("coverage")
    op.drop_table("providers")
    op.drop_table("product_lines")
    op.drop_index("ix_outbox_unfinished", table_name="outbox")
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("opt_outs")
    op.drop_table("cities")
    op.drop_table("attempt_status_events")
