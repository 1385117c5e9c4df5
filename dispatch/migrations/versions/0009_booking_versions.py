"""Booking versions: work_orders.booking_version, raised by every change to an order's booking

A reminder, confirmation or provider notice is tied to one version of an order's booking; the job
that sends it reads the order again and sends only if the version still stands.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("work_orders") as batch:
        batch.add_column(sa.Column("booking_version", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("work_orders") as batch:
        batch.drop_column("booking_version")
