"""Spoken answers: the customer's language (per city, per-customer override) and what the robot heard

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("cities") as batch:
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=False, server_default="en"))
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=True))
    with op.batch_alter_table("contact_attempts") as batch:
        # Every answer heard on the attempt (transcript, confidence, how it was read): evidence
        # for a supervisor auditing a robot's verdict. On the row, not in the audit trail, so that
        # a customer's words can be erased.
        batch.add_column(sa.Column("heard", JSON, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contact_attempts") as batch:
        batch.drop_column("language")
        batch.drop_column("heard")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("language")
    with op.batch_alter_table("cities") as batch:
        batch.drop_column("language")
