"""staff accounts for the web application, login attempts (throttling), one-time form tokens

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-01
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "0006"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "staff_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("centre_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum("staff", "admin", name="staff_role", native_enum=False, create_constraint=True, length=16),
            nullable=False,
        ),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("password_token_hash", sa.String(length=64), nullable=True),
        sa.Column("password_token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "language",
            sa.Enum("fr", "en", name="language", native_enum=False, create_constraint=True, length=16),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["centre_id"], ["centres.id"], name=op.f("fk_staff_accounts_centre_id_centres")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_accounts")),
        sa.UniqueConstraint("email", name=op.f("uq_staff_accounts_email")),
        sa.UniqueConstraint("password_token_hash", name=op.f("uq_staff_accounts_password_token_hash")),
    )
    op.create_index(op.f("ix_staff_accounts_centre_id"), "staff_accounts", ["centre_id"], unique=False)
    op.create_table(
        "staff_login_attempts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_login_attempts")),
    )
    op.create_index("ix_staff_login_attempts_email_at", "staff_login_attempts", ["email", "at"], unique=False)
    op.create_index("ix_staff_login_attempts_address_at", "staff_login_attempts", ["address", "at"], unique=False)
    op.create_table(
        "form_submissions",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("staff_account_id", sa.Integer(), nullable=False),
        sa.Column("beneficiary_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["beneficiary_id"], ["beneficiaries.id"], name=op.f("fk_form_submissions_beneficiary_id_beneficiaries")
        ),
        sa.ForeignKeyConstraint(
            ["staff_account_id"], ["staff_accounts.id"], name=op.f("fk_form_submissions_staff_account_id_staff_accounts")
        ),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_form_submissions")),
    )
    op.create_index(
        op.f("ix_form_submissions_staff_account_id"), "form_submissions", ["staff_account_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_form_submissions_staff_account_id"), table_name="form_submissions")
    op.drop_table("form_submissions")
    op.drop_index("ix_staff_login_attempts_address_at", table_name="staff_login_attempts")
    op.drop_index("ix_staff_login_attempts_email_at", table_name="staff_login_attempts")
    op.drop_table("staff_login_attempts")
    op.drop_index(op.f("ix_staff_accounts_centre_id"), table_name="staff_accounts")
    op.drop_table("staff_accounts")
