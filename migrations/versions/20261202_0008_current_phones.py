"""the person's current phone, which their number follows (issue 13)

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-02
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "0008"
down_revision: Union[str, Sequence[str], None] = "0006"
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
        sa.CheckConstraint("e164 ~ '^\\+33[1-79][0-9]{8}$'", name=op.f("ck_current_phones_french_e164")),
        sa.ForeignKeyConstraint(
            ["beneficiary_id"], ["beneficiaries.id"], name=op.f("fk_current_phones_beneficiary_id_beneficiaries")
        ),
        sa.PrimaryKeyConstraint("beneficiary_id", name=op.f("pk_current_phones")),
    )


def downgrade() -> None:
    op.drop_table("current_phones")
