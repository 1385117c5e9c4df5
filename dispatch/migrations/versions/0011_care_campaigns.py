"""Units cared for: maintenance plans and invitations, seasonal campaigns, maintenance orders

- maintenance_plans: per product line, an interval in months, a due window and an invite horizon.
- maintenance_invitations: one per unit per plan per cycle (unique unit, plan, due date).
- campaigns and campaign_contacts: a campaign contacts a customer at most once (primary key).
- work_orders: the kind "maintenance" and the plan a maintenance order does.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

import dispatch.models

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

KINDS_BEFORE = "kind IN ('delivery', 'installation', 'delivery_installation', 'repair')"
KINDS_AFTER = "kind IN ('delivery', 'installation', 'delivery_installation', 'repair', 'maintenance')"


def upgrade() -> None:
    op.create_table(
        "maintenance_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("names", dispatch.models.JSONType, nullable=False),
        sa.Column("product_line_id", sa.Integer(), nullable=False),
        sa.Column("interval_months", sa.Integer(), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("invite_days", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", dispatch.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("interval_months BETWEEN 1 AND 240", name="ck_maintenance_plans_interval"),
        sa.CheckConstraint("window_days BETWEEN 0 AND 365", name="ck_maintenance_plans_window"),
        sa.CheckConstraint("invite_days BETWEEN 0 AND 365", name="ck_maintenance_plans_invite"),
        sa.ForeignKeyConstraint(["product_line_id"], ["product_lines.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_index("ix_maintenance_plans_product_line_id", "maintenance_plans", ["product_line_id"])
    with op.batch_alter_table("work_orders") as batch:
        batch.add_column(sa.Column("maintenance_plan_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_work_orders_maintenance_plan_id", "maintenance_plans", ["maintenance_plan_id"], ["id"]
        )
        batch.drop_constraint("ck_work_orders_kind", type_="check")
        batch.create_check_constraint("ck_work_orders_kind", KINDS_AFTER)
    op.create_index(
        "ix_work_orders_unit_maintenance",
        "work_orders",
        ["unit_id", "maintenance_plan_id"],
        postgresql_where=sa.text("maintenance_plan_id IS NOT NULL"),
        sqlite_where=sa.text("maintenance_plan_id IS NOT NULL"),
    )
    op.create_table(
        "maintenance_invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("work_order_id", sa.Integer(), nullable=True),
        sa.Column("created_at", dispatch.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("state IN ('invited', 'booked')", name="ck_maintenance_invitations_state"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["plan_id"], ["maintenance_plans.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"]),
        sa.ForeignKeyConstraint(["work_order_id"], ["work_orders.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("unit_id", "plan_id", "due_on", name="uq_maintenance_invitations_cycle"),
    )
    op.create_index("ix_maintenance_invitations_unit_id", "maintenance_invitations", ["unit_id"])
    op.create_index("ix_maintenance_invitations_customer_id", "maintenance_invitations", ["customer_id"])
    op.create_index(
        "ix_maintenance_invitations_unqueued",
        "maintenance_invitations",
        ["id"],
        postgresql_where=sa.text("message_id IS NULL"),
        sqlite_where=sa.text("message_id IS NULL"),
    )
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("product_line_ids", dispatch.models.JSONType, nullable=False),
        sa.Column("city_ids", dispatch.models.JSONType, nullable=False),
        sa.Column("texts", dispatch.models.JSONType, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("run_no", sa.Integer(), nullable=False),
        sa.Column("batches", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("contacted", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", dispatch.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", dispatch.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", dispatch.models.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('draft', 'running', 'paused', 'finished')", name="ck_campaigns_state"),
        sa.CheckConstraint("batch_size BETWEEN 1 AND 10000", name="ck_campaigns_batch"),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "campaign_contacts",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("batch_no", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("created_at", dispatch.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"]),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("campaign_id", "customer_id"),
    )


def downgrade() -> None:
    op.drop_table("campaign_contacts")
    op.drop_table("campaigns")
    op.drop_index("ix_maintenance_invitations_unqueued", table_name="maintenance_invitations")
    op.drop_index("ix_maintenance_invitations_customer_id", table_name="maintenance_invitations")
    op.drop_index("ix_maintenance_invitations_unit_id", table_name="maintenance_invitations")
    op.drop_table("maintenance_invitations")
    op.drop_index("ix_work_orders_unit_maintenance", table_name="work_orders")
    # Refuse rather than rewrite history: a maintenance order cannot become another kind.
    if op.get_bind().execute(sa.text("SELECT 1 FROM work_orders WHERE kind = 'maintenance' LIMIT 1")).first():
        raise RuntimeError("maintenance work orders exist; a downgrade below 0011 would lose what they are")
    with op.batch_alter_table("work_orders") as batch:
        batch.drop_constraint("ck_work_orders_kind", type_="check")
        batch.create_check_constraint("ck_work_orders_kind", KINDS_BEFORE)
        batch.drop_constraint("fk_work_orders_maintenance_plan_id", type_="foreignkey")
        batch.drop_column("maintenance_plan_id")
    op.drop_index("ix_maintenance_plans_product_line_id", table_name="maintenance_plans")
    op.drop_table("maintenance_plans")
