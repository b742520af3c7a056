"""the person's current phone, which their number follows, and pending new-message alerts (issue 13)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "0008"
down_revision: Union[str, Sequence[str], None] = "0007"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "current_phones",
        sa.Column("beneficiary_id", sa.Integer(), nullable=False),
        sa.Column("e164", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("follow", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("set_by", sa.String(length=100), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmation_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmation_outcome", sa.String(length=32), nullable=True),
        sa.Column("alerts", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.CheckConstraint("e164 ~ '^\\+33[1-79][0-9]{8}$'", name=op.f("ck_current_phones_french_e164")),
        sa.ForeignKeyConstraint(
            ["beneficiary_id"], ["beneficiaries.id"], name=op.f("fk_current_phones_beneficiary_id_beneficiaries")
        ),
        sa.PrimaryKeyConstraint("beneficiary_id", name=op.f("pk_current_phones")),
    )
    op.create_table(
        "pending_alerts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("beneficiary_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("messages", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["beneficiary_id"], ["beneficiaries.id"], name=op.f("fk_pending_alerts_beneficiary_id_beneficiaries")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_alerts")),
    )
    op.create_index(op.f("ix_pending_alerts_beneficiary_id"), "pending_alerts", ["beneficiary_id"], unique=False)
    op.create_index(
        "uq_pending_alerts_open_beneficiary",
        "pending_alerts",
        ["beneficiary_id"],
        unique=True,
        postgresql_where=sa.text("state IN ('pending', 'calling')"),
    )


def downgrade() -> None:
    op.drop_index("uq_pending_alerts_open_beneficiary", table_name="pending_alerts")
    op.drop_index(op.f("ix_pending_alerts_beneficiary_id"), table_name="pending_alerts")
    op.drop_table("pending_alerts")
    op.drop_table("current_phones")
