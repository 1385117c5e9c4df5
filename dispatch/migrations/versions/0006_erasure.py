"""Erasure on request: customers.erased_at, work_orders.cancel_reason, opt_outs.phone_hash

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("work_orders") as batch:
        # The cancel reason moves out of the audit trail (free text) onto the row, where it can be erased.
        batch.add_column(sa.Column("cancel_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("opt_outs") as batch:
        # An erased customer's refusal is kept as the keyed digest of the number alone.
        batch.add_column(sa.Column("phone_hash", sa.String(length=64), nullable=True))
        batch.create_unique_constraint("opt_outs_phone_hash_key", ["phone_hash"])
        batch.alter_column("phone", existing_type=sa.String(length=20), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM opt_outs WHERE phone IS NULL")
    with op.batch_alter_table("opt_outs") as batch:
        batch.alter_column("phone", existing_type=sa.String(length=20), nullable=False)
        batch.drop_constraint("opt_outs_phone_hash_key", type_="unique")
        batch.drop_column("phone_hash")
    with op.batch_alter_table("work_orders") as batch:
        batch.drop_column("cancel_reason")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("erased_at")
