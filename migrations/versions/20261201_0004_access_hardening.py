"""Mailbox access hardening (issue 14 items 4-6): the PIN staff hand over must be changed at the
first login, and failed logins are kept (a few minutes) for the service-wide brake on guessing.

- ``credentials.pin_must_change``: set by ``enrol`` and ``pin reset``, cleared when the person
  chooses a PIN. Existing people whose PIN is still the one staff gave them (no ``pin.change``
  audit event since their last ``enrol`` or ``pin reset``) must change it too.
- ``login_failures``: one row per refused PIN login, with the calling number, read to brake
  guessing per calling number and for the whole service; rows older than the brake's window are
  deleted as new ones come.

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-01
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column(
        "credentials",
        sa.Column("pin_must_change", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.execute(
        """
        UPDATE credentials c SET pin_must_change = true
        WHERE NOT EXISTS (
            SELECT 1 FROM audit_events changed
            WHERE changed.beneficiary_id = c.beneficiary_id
              AND changed.action = 'pin.change'
              AND changed.at >= COALESCE(
                  (SELECT max(handed.at) FROM audit_events handed
                   WHERE handed.beneficiary_id = c.beneficiary_id
                     AND handed.action IN ('beneficiary.enrol', 'pin.reset')),
                  '-infinity'::timestamptz)
        )
        """
    )
    op.create_table(
        "login_failures",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("caller_number", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index(op.f("ix_login_failures_at"), "login_failures", ["at"], unique=False)
    op.create_index(op.f("ix_login_failures_caller_number"), "login_failures", ["caller_number"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_login_failures_caller_number"), table_name="login_failures")
    op.drop_index(op.f("ix_login_failures_at"), table_name="login_failures")
    op.drop_table("login_failures")
    op.drop_column("credentials", "pin_must_change")
